// Every command that writes, run with the source as its own target under five spellings of one
// database: each refuses with one sentence, exit 1, and the source is left exactly as it was (every
// table's count and ordered hash, its schema objects, slots, publications and settings).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { clusterUrl, type ClusterInfo } from '../../scripts/support/cluster.ts';
import { endpoints, runCli } from '../support/cli.ts';
import {
  dropReplicationObjects,
  fingerprintTables,
  replicationObjectsOnSource,
  schemaObjects,
} from '../support/compare.ts';
import { createTestDatabase, createTestRole, edgeCasesSql, runPsqlFile, withClient } from '../support/db.ts';

const { source, target } = inject('clusters');
const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
let db: string;
let otherUser: string;
const otherPassword = 'Guard-0ther-Pa55';
let alias: Server;
let streamingJob: { jobId: string; stateDir: string };

/** A TCP relay on another port: a second address for the same server, as a DNS alias or a pooler would be. */
async function startAlias(cluster: ClusterInfo): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect(cluster.port, cluster.host);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dbr-guard-'));
  dirs.push(dir);
  return dir;
}

/** What must not change on the source: data, schema objects, replication objects, database settings. */
async function sourceImage(): Promise<unknown> {
  const settings = await withClient(
    source,
    'postgres',
    async (c) =>
      (
        await c.query<{ s: string[] }>(
          `SELECT setconfig AS s FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = $1)`,
          [db],
        )
      ).rows,
  );
  const oid = await withClient(
    source,
    'postgres',
    async (c) => (await c.query<{ oid: number }>('SELECT oid FROM pg_database WHERE datname = $1', [db])).rows[0]?.oid,
  );
  return {
    oid,
    tables: [...(await fingerprintTables(source, db))],
    schema: await schemaObjects(source, db),
    replication: await replicationObjectsOnSource(source, db),
    settings,
  };
}

beforeAll(async () => {
  db = (await createTestDatabase(source, 'guard')).name;
  cleanups.push(() => dropReplicationObjects(source, target, db));
  await runPsqlFile(source, db, edgeCasesSql());
  otherUser = await createTestRole(source, otherPassword, 'SUPERUSER');
  alias = await startAlias(source);
  // A real job from this database into the target, streaming: cutover and cleanup of this job are then
  // asked with the source spelled as its target, and must refuse rather than act on it.
  streamingJob = { jobId: `guard${Date.now().toString(36)}`, stateDir: stateDir() };
  const env = endpoints(clusterUrl(source, db), clusterUrl(target, db));
  const init = await runCli(
    ['init', '--yes', '--job-id', streamingJob.jobId, '--state-dir', streamingJob.stateDir],
    env,
  );
  expect(init.exitCode, init.stderr).toBe(0);
  const sync = await runCli(['sync', '--job-id', streamingJob.jobId, '--state-dir', streamingJob.stateDir], env);
  expect(sync.exitCode, sync.stderr).toBe(0);
  cleanups.push(async () => {
    await runCli(['cleanup', '--yes', '--job-id', streamingJob.jobId, '--state-dir', streamingJob.stateDir], env);
    await withClient(target, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`));
  });
}, 180_000);

afterAll(async () => {
  await new Promise((r) => alias?.close(r));
  for (const c of cleanups) await c().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const spellings: { name: string; urls: () => [string, string] }[] = [
  { name: 'the same URL', urls: () => [clusterUrl(source, db), clusterUrl(source, db)] },
  {
    name: 'localhost against 127.0.0.1',
    urls: () => [clusterUrl(source, db), clusterUrl({ ...source, host: 'localhost' }, db)],
  },
  {
    name: 'two different users of the database',
    urls: () => [clusterUrl(source, db), clusterUrl(source, db, otherUser, otherPassword)],
  },
  {
    name: 'another address of the same server (an alias)',
    urls: () => [
      clusterUrl(source, db),
      clusterUrl({ ...source, port: (alias.address() as { port: number }).port }, db),
    ],
  },
  {
    name: 'a percent-encoded name with connection parameters',
    urls: () => [
      clusterUrl(source, db),
      `${clusterUrl(source, '').replace(/\/$/, '')}/${[...db].map((ch) => `%${ch.charCodeAt(0).toString(16)}`).join('')}?application_name=other&connect_timeout=10`,
    ],
  },
];

describe('destructive guards: the target is the source', () => {
  for (const spelling of spellings) {
    it(`every writing command refuses with ${spelling.name}, and the source is unchanged`, async () => {
      const before = await sourceImage();
      const [sourceUrl, targetUrl] = spelling.urls();
      const env = endpoints(sourceUrl, targetUrl);
      const job = ['--job-id', streamingJob.jobId, '--state-dir', streamingJob.stateDir];
      const commands: string[][] = [
        ['init', '--yes', '--no-sync', '--drop-existing', '--state-dir', stateDir()],
        ['init', '--yes', '--state-dir', stateDir()],
        ['sync', ...job],
        ['sync', '--copy-data', '--state-dir', stateDir()],
        ['cutover', '--read-only-source', '--timeout', '5', ...job],
        ['cleanup', '--yes', ...job],
      ];
      for (const args of commands) {
        const run = await runCli(args, env);
        expect(run.exitCode, `${args.join(' ')}: ${run.stderr}`).toBe(1);
        const errors = run.stderr
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('error:'));
        expect(errors, `${args.join(' ')}: ${run.stderr}`).toHaveLength(1);
        expect(errors[0], args.join(' ')).toMatch(/the source itself/);
        expect(run.stderr + run.stdout).not.toContain(otherPassword);
        expect(run.stderr + run.stdout).not.toContain(source.password);
      }
      expect(await sourceImage()).toEqual(before);
    }, 120_000);
  }
});

describe('init --drop-existing with the source as its target (the command that dropped a source)', () => {
  it('refuses and leaves the source row for row, spelled the same and as localhost', async () => {
    const plain = (await createTestDatabase(source, 'guard_plain')).name;
    cleanups.push(async () => {
      await withClient(source, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${plain}" WITH (FORCE)`));
    });
    await runPsqlFile(source, plain, edgeCasesSql());
    const before = await fingerprintTables(source, plain);
    for (const targetUrl of [clusterUrl(source, plain), clusterUrl({ ...source, host: 'localhost' }, plain)]) {
      const run = await runCli(
        ['init', '--local', '--yes', '--no-sync', '--drop-existing', '--state-dir', stateDir()],
        endpoints(clusterUrl(source, plain), targetUrl),
      );
      expect(run.exitCode, run.stderr).toBe(1);
      expect(run.stderr).toMatch(/^error: .*The target is the source itself/m);
      expect(run.stdout + run.stderr).not.toMatch(/dropping target database/);
    }
    expect(await fingerprintTables(source, plain)).toEqual(before);
    expect(await replicationObjectsOnSource(source, plain)).toEqual({ slots: [], publications: [] });
  }, 60_000);
});
