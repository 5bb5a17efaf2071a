import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClusterInfo } from '../../scripts/support/cluster.ts';
import { endpoints, runCli } from '../support/cli.ts';
import { createTestDatabase, createTestRole, withClient } from '../support/db.ts';
import { assertNoSecrets } from '../support/no-secrets.ts';

/**
 * A URL without a password falls back to PGPASSWORD and then the password file (PGPASSFILE or
 * ~/.pgpass), as libpq does, for our own sessions and for pg_dump, pg_restore and pg_dumpall alike.
 * The harness clusters take only SCRAM passwords over TCP (checked below), so a fallback that does not
 * reach a program fails init outright.
 */
const { source, target } = inject('clusters');
const scratch = mkdtempSync(join(tmpdir(), 'dbr-pgpass-'));
// HOME without a .pgpass: only what a test sets up can supply a password.
const home = join(scratch, 'home');
const created: { cluster: ClusterInfo; database?: string; role?: string }[] = [];

/** Characters a password file must escape (: and \), and a space, in every password. */
const password = (label: string) => `pw:${label}\\${Math.random().toString(36).slice(2)} x`;
const pgpassField = (value: string) => value.replace(/[\\:]/g, '\\$&');
const passwordless = (cluster: ClusterInfo, user: string, database: string) =>
  `postgresql://${user}@${cluster.host}:${cluster.port}/${database}`;

async function superuser(cluster: ClusterInfo, secret: string): Promise<string> {
  const role = await createTestRole(cluster, secret, 'SUPERUSER');
  created.push({ cluster, role });
  return role;
}

async function sourceDatabase(): Promise<string> {
  const { name } = await createTestDatabase(source, 'pgpass');
  created.push({ cluster: source, database: name }, { cluster: target, database: name });
  await withClient(source, name, (c) =>
    c.query(
      'CREATE TABLE items (id int PRIMARY KEY, label text); CREATE INDEX ON items (label); INSERT INTO items SELECT i, md5(i::text) FROM generate_series(1, 500) i',
    ),
  );
  return name;
}

async function targetRows(database: string): Promise<number> {
  return withClient(
    target,
    database,
    async (c) => (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM items')).rows[0]!.n,
  );
}

function init(urls: Record<string, string>, env: Record<string, string>) {
  // --no-sync: pg_dump, pg_restore and pg_dumpall all run, and no slot is left behind.
  return runCli(
    ['init', '--local', '--yes', '--json', '--no-sync', '--state-dir', mkdtempSync(join(scratch, 'state-'))],
    { ...urls, HOME: home, ...env },
  );
}

beforeAll(async () => {
  mkdirSync(home);
  for (const cluster of [source, target]) {
    await withClient(cluster, 'postgres', async (c) => {
      // SCRAM only: no trust, md5 or password line for TCP, and new passwords stored as SCRAM verifiers.
      const hba = await c.query<{ auth_method: string }>(
        "SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE type LIKE 'host%'",
      );
      expect(hba.rows.map((r) => r.auth_method)).toEqual(['scram-sha-256']);
      expect(
        (await c.query<{ password_encryption: string }>('SHOW password_encryption')).rows[0]!.password_encryption,
      ).toBe('scram-sha-256');
    });
  }
});

afterAll(async () => {
  for (const { cluster, database } of created.filter((c) => c.database)) {
    await withClient(cluster, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)).catch(
      () => undefined,
    );
  }
  // init copies the source's roles to the target, so each test role may exist on both sides.
  for (const { role } of created.filter((c) => c.role)) {
    for (const cluster of [source, target])
      await withClient(cluster, 'postgres', (c) => c.query(`DROP ROLE IF EXISTS "${role}"`)).catch(() => undefined);
  }
  rmSync(scratch, { recursive: true, force: true });
});

describe('URLs without a password on SCRAM-only servers', () => {
  it('init uses PGPASSWORD for its sessions and for pg_dump, pg_restore and pg_dumpall', async () => {
    const secret = password('env');
    const [sourceUser, targetUser] = [await superuser(source, secret), await superuser(target, secret)];
    const db = await sourceDatabase();
    const run = await init(endpoints(passwordless(source, sourceUser, db), passwordless(target, targetUser, db)), {
      PGPASSWORD: secret,
    });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(await targetRows(db)).toBe(500);
    assertNoSecrets(`${run.stdout}${run.stderr}`, [secret]);
  });

  it('init uses a PGPASSFILE elsewhere than ~/.pgpass, the first matching line per server', async () => {
    const [sourceSecret, targetSecret] = [password('source'), password('target')];
    const [sourceUser, targetUser] = [await superuser(source, sourceSecret), await superuser(target, targetSecret)];
    const db = await sourceDatabase();
    const file = join(scratch, 'replicator.pgpass');
    writeFileSync(
      file,
      [
        '# the source line for another database comes first and must not match',
        `${source.host}:${source.port}:other_db:${sourceUser}:wrong`,
        `${source.host}:${source.port}:*:${sourceUser}:${pgpassField(sourceSecret)}`,
        // Any database: init reaches the target's postgres database before the one it creates.
        `*:${target.port}:*:${targetUser}:${pgpassField(targetSecret)}`,
        `*:*:*:*:wrong`,
        '',
      ].join('\r\n'),
      { mode: 0o600 },
    );
    const run = await init(endpoints(passwordless(source, sourceUser, db), passwordless(target, targetUser, db)), {
      PGPASSFILE: file,
    });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(await targetRows(db)).toBe(500);
    assertNoSecrets(`${run.stdout}${run.stderr}`, [sourceSecret, targetSecret]);
  });

  it('ignores a password file that others can read, as libpq does, and says so', async () => {
    const secret = password('open');
    const user = await superuser(source, secret);
    const file = join(scratch, 'open.pgpass');
    writeFileSync(file, `*:*:*:${user}:${pgpassField(secret)}\n`);
    chmodSync(file, 0o644);
    const run = await runCli(['validate', '--local', '--json'], {
      ...endpoints(passwordless(source, user, 'postgres'), passwordless(target, user, 'postgres')),
      HOME: home,
      PGPASSFILE: file,
    });
    expect(run.exitCode).toBe(1);
    const checks = (JSON.parse(run.stdout) as { checks: { id: string; detail: string; remedy?: string }[] }).checks;
    const reachable = checks.find((c) => c.id === 'source-reachable')!;
    expect(reachable.detail).toBe(
      `Could not connect to the source (${user}@${source.host}:${source.port}/postgres): the server asked for a password for user "${user}" and none was given (the password file ${file} is open to group or others, so it was ignored).`,
    );
    expect(reachable.remedy).toContain(`chmod 600 ${file}`);
  });
});
