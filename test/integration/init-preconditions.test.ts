// init checks before it acts: validate's preconditions stop it with validate's own sentence before
// anything exists on either side; --drop-existing drops only a database nobody else depends on, and
// says so before "Proceed?"; a rerun of a finished job refuses, or with --drop-existing refreshes.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { useScratch } from '../support/scratch.ts';
import { clusterUrl, startCluster, type ClusterInfo } from '../../scripts/support/cluster.ts';
import { endpoints, runCli } from '../support/cli.ts';
import { dropReplicationObjects, fingerprintTables, replicationObjectsOnSource } from '../support/compare.ts';
import {
  connectAs,
  createTestDatabase,
  createTestRole,
  edgeCasesSql,
  runPsqlFile,
  uniqueName,
  withClient,
} from '../support/db.ts';

const { source, target, replica } = inject('clusters');
const { stateDir, cleanups } = useScratch('pre');

const simple =
  "CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT i, 'x' FROM generate_series(1, 50) i;";

async function sourceDatabase(cluster: ClusterInfo, prefix: string, sql = simple): Promise<string> {
  const { name } = await createTestDatabase(cluster, prefix);
  cleanups.push(() => dropReplicationObjects(cluster, target, name));
  cleanups.push(async () => {
    await withClient(target, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  });
  await withClient(cluster, name, (c) => c.query(sql));
  return name;
}

async function databaseExists(cluster: ClusterInfo, name: string): Promise<boolean> {
  return withClient(
    cluster,
    'postgres',
    async (c) => ((await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0,
  );
}

async function roleExists(cluster: ClusterInfo, name: string): Promise<boolean> {
  return withClient(
    cluster,
    'postgres',
    async (c) => ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount ?? 0) > 0,
  );
}

describe("init stops on a failed precondition with validate's sentence, before creating anything", () => {
  /** A role only the source has: init copies roles first, so its absence on the target shows none were copied. */
  let marker: string;
  beforeAll(async () => {
    marker = uniqueName('marker');
    for (const cluster of [source, replica])
      await withClient(cluster, 'postgres', (c) => c.query(`CREATE ROLE "${marker}" NOLOGIN`));
  });

  async function expectStopped(
    sourceCluster: ClusterInfo,
    db: string,
    sourceUrl: string,
    targetUrl: string,
    sentence: RegExp,
    remedy: RegExp,
  ) {
    const run = await runCli(['init', '--yes', '--state-dir', stateDir()], endpoints(sourceUrl, targetUrl));
    expect(run.exitCode, run.stderr).toBe(1);
    const errors = run.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors, run.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(/init did not start, and nothing was created/);
    expect(errors[0]).toMatch(sentence);
    expect(errors[0]).toMatch(remedy);
    // Nothing on either side: no slot or publication, no database, no role, no schema.
    expect(await replicationObjectsOnSource(sourceCluster, db)).toEqual({ slots: [], publications: [] });
    expect(await databaseExists(target, db)).toBe(false);
    expect(await roleExists(target, marker)).toBe(false);
    expect(run.stdout).not.toMatch(/Est\. Time/);
  }

  it('wal_level = replica on the source', async () => {
    const db = await sourceDatabase(replica, 'pre_wal');
    await expectStopped(
      replica,
      db,
      clusterUrl(replica, db),
      clusterUrl(target, db),
      /wal_level is replica; logical replication needs wal_level = logical/,
      /ALTER SYSTEM SET wal_level = 'logical'/,
    );
  });

  it('a source user without the REPLICATION privilege', async () => {
    const db = await sourceDatabase(source, 'pre_repl');
    const password = 'Pre-Repl-Pa55';
    const user = await createTestRole(source, password);
    await withClient(source, db, (c) =>
      c.query(
        `GRANT SELECT ON ALL TABLES IN SCHEMA public TO "${user}"; GRANT CREATE ON DATABASE "${db}" TO "${user}"`,
      ),
    );
    await expectStopped(
      source,
      db,
      clusterUrl(source, db, user, password),
      clusterUrl(target, db),
      /has no REPLICATION attribute .*cannot create a replication slot/,
      new RegExp(`ALTER ROLE "${user}" REPLICATION`),
    );
  });

  it('a target user that may not create databases or subscriptions', async () => {
    const db = await sourceDatabase(source, 'pre_tgt');
    const password = 'Pre-Tgt-Pa55';
    const user = await createTestRole(target, password);
    await expectStopped(
      source,
      db,
      clusterUrl(source, db),
      clusterUrl(target, db, user, password),
      new RegExp(`${user} lacks CREATEDB`),
      new RegExp(`ALTER ROLE "${user}" CREATEDB`),
    );
  });

  describe('no free replication slot on the source', () => {
    let full: Awaited<ReturnType<typeof startCluster>>;
    beforeAll(async () => {
      full = await startCluster({ name: 'full-slots', settings: { max_replication_slots: 1 } });
      await withClient(full, 'postgres', async (c) => {
        await c.query(`CREATE ROLE "${marker}" NOLOGIN`);
        await c.query("SELECT pg_create_logical_replication_slot('someone_else', 'pgoutput')");
      });
    }, 120_000);
    afterAll(() => full?.stop());

    it('stops before the slot or anything else is made', async () => {
      const { name: db } = await createTestDatabase(full, 'pre_slots');
      await withClient(full, db, (c) => c.query(simple));
      await expectStopped(
        full,
        db,
        clusterUrl(full, db),
        clusterUrl(target, db),
        /0 of 1 slots .* free; 1 of each needed/,
        /Raise max_replication_slots to at least 2/,
      );
    });
  });
});

describe('init --drop-existing drops only a target database nobody depends on, and says so first', () => {
  async function existingTarget(prefix: string): Promise<string> {
    const db = await sourceDatabase(source, prefix);
    await withClient(target, 'postgres', (c) => c.query(`CREATE DATABASE "${db}"`));
    await withClient(target, db, (c) => c.query('CREATE TABLE kept (id int); INSERT INTO kept VALUES (42);'));
    return db;
  }

  async function expectKept(db: string, run: { exitCode: number; stderr: string }, pattern: RegExp) {
    expect(run.exitCode, run.stderr).toBe(1);
    expect(run.stderr).toMatch(pattern);
    expect(await withClient(target, db, async (c) => (await c.query('SELECT id FROM kept')).rows)).toEqual([
      { id: 42 },
    ]);
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
  }

  const init = (db: string, extra: string[] = []) =>
    runCli(
      ['init', '--yes', '--no-sync', '--drop-existing', '--state-dir', stateDir(), ...extra],
      endpoints(clusterUrl(source, db), clusterUrl(target, db)),
    );

  it('refuses a target database that holds a publication (it is the source of another replication)', async () => {
    const db = await existingTarget('drop_pub');
    await withClient(target, db, (c) => c.query('CREATE PUBLICATION someone_elses FOR TABLE kept'));
    await expectKept(
      db,
      await init(db),
      /will not drop the target database .*: it holds the publication\(s\) someone_elses/,
    );
  });

  it('refuses a target database that holds a replication slot', async () => {
    const db = await existingTarget('drop_slot');
    await withClient(target, db, (c) =>
      c.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [`${db}_slot`]),
    );
    cleanups.push(async () => {
      await withClient(target, 'postgres', (c) => c.query('SELECT pg_drop_replication_slot($1)', [`${db}_slot`]));
    });
    await expectKept(db, await init(db), new RegExp(`it holds the replication slot\\(s\\) ${db}_slot`));
  });

  it('refuses while other sessions are connected to it, naming them', async () => {
    const db = await existingTarget('drop_busy');
    const app = await connectAs(target, db);
    await app.query("SET application_name = 'billing-app'");
    try {
      const pid = (await app.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await expectKept(
        db,
        await init(db),
        new RegExp(`1 other session\\(s\\) are connected to it: pid ${pid} \\(user postgres, billing-app`),
      );
    } finally {
      await app.end();
    }
  });

  it('shows what it will drop in the estimate table, then drops and copies', async () => {
    const db = await existingTarget('drop_ok');
    const run = await init(db);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`${db}: DROPPED and recreated \\(holds 1 table\\(s\\)`));
    expect(run.stdout).toContain(`--drop-existing: ${db} on the target will be dropped with everything in it.`);
    expect(
      await withClient(target, db, async (c) => (await c.query("SELECT to_regclass('kept') IS NULL AS gone")).rows[0]),
    ).toEqual({ gone: true });
    expect(await fingerprintTables(target, db)).toEqual(await fingerprintTables(source, db));
  });
});

describe('a rerun of a finished init', () => {
  it('without --drop-existing refuses, naming --drop-existing, --job-id and cleanup (exit 1), even when the target is gone', async () => {
    const db = await sourceDatabase(source, 'rerun_refuse');
    const dir = stateDir();
    const env = endpoints(clusterUrl(source, db), clusterUrl(target, db));
    const first = await runCli(['init', '--yes', '--no-sync', '--state-dir', dir], env);
    expect(first.exitCode, first.stderr).toBe(0);
    await withClient(target, 'postgres', (c) => c.query(`DROP DATABASE "${db}" WITH (FORCE)`));
    const again = await runCli(['init', '--yes', '--no-sync', '--state-dir', dir], env);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(
      /already finished copying into .*pass --drop-existing to refresh .* --job-id .* run cleanup/,
    );
    expect(await databaseExists(target, db)).toBe(false);
  });

  it('with --drop-existing is a refresh: the target is copied again from the source as it is now (the edge-case database)', async () => {
    const db = await sourceDatabase(source, 'rerun_refresh', 'SELECT 1');
    await runPsqlFile(source, db, edgeCasesSql());
    const dir = stateDir();
    const env = endpoints(clusterUrl(source, db), clusterUrl(target, db));
    const first = await runCli(['init', '--yes', '--no-sync', '--drop-existing', '--state-dir', dir], env);
    expect(first.exitCode, first.stderr).toBe(0);
    await withClient(source, db, (c) =>
      c.query("INSERT INTO sales.customers (name, email) VALUES ('late', 'late@example.com')"),
    );
    const refresh = await runCli(['init', '--yes', '--no-sync', '--drop-existing', '--state-dir', dir], env);
    expect(refresh.exitCode, refresh.stderr).toBe(0);
    expect(refresh.stderr).toMatch(/refreshing/);
    expect(await fingerprintTables(target, db)).toEqual(await fingerprintTables(source, db));
    // And once more after the target database was dropped by hand: it is created again.
    await withClient(target, 'postgres', (c) => c.query(`DROP DATABASE "${db}" WITH (FORCE)`));
    const recreate = await runCli(['init', '--yes', '--no-sync', '--drop-existing', '--state-dir', dir], env);
    expect(recreate.exitCode, recreate.stderr).toBe(0);
    expect(await fingerprintTables(target, db)).toEqual(await fingerprintTables(source, db));
  }, 120_000);

  it('with --drop-existing refuses while the job still replicates (its slot is there): cleanup first', async () => {
    const db = await sourceDatabase(source, 'rerun_streaming');
    const dir = stateDir();
    const env = endpoints(clusterUrl(source, db), clusterUrl(target, db));
    expect((await runCli(['init', '--yes', '--state-dir', dir], env)).exitCode).toBe(0);
    const again = await runCli(['init', '--yes', '--drop-existing', '--state-dir', dir], env);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(/still replicates through slot dbr_\w+; run cleanup for it first/);
    expect((await replicationObjectsOnSource(source, db)).slots).toHaveLength(1);
  });
});
