// init where it used to harm or strand: a table that would break the source's UPDATEs once published,
// tables it cannot publish, a job id that escapes the state folder, a target role it would demote,
// a password the target's log would keep, two inits of one job, and Ctrl-C.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { LocalFileJobStore } from '../../src/jobs/index.ts';
import { useScratch } from '../support/scratch.ts';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { endpoints, runCli } from '../support/cli.ts';
import { dropReplicationObjects, expectSameTables, replicationObjectsOnSource } from '../support/compare.ts';
import { connectAs, createTestDatabase, createTestRole, uniqueName, withClient } from '../support/db.ts';

const { source, target } = inject('clusters');
const { stateDir, cleanups } = useScratch('faults');

async function sourceDatabase(prefix: string, sql: string): Promise<string> {
  const { name } = await createTestDatabase(source, prefix);
  cleanups.push(() => dropReplicationObjects(source, target, name));
  cleanups.push(async () => {
    await withClient(target, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  });
  await withClient(source, name, (c) => c.query(sql));
  return name;
}

async function nothingCreated(db: string): Promise<void> {
  expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
  expect(
    await withClient(
      target,
      'postgres',
      async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).rowCount,
    ),
  ).toBe(0);
}

const simple =
  "CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT i, 'x' FROM generate_series(1, 20) i;";

describe('init refuses what would break the source or fail half-way', () => {
  it('a table without primary key and REPLICA IDENTITY DEFAULT (its UPDATEs would fail once published), unless it is schema-only', async () => {
    const db = await sourceDatabase(
      'fault_nopk',
      `${simple} CREATE TABLE log (at timestamptz, line text); INSERT INTO log VALUES (now(), 'a');`,
    );
    const env = endpoints(clusterUrl(source, db), clusterUrl(target, db));
    const run = await runCli(['init', '--yes', '--no-sync', '--state-dir', stateDir()], env);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(
      /Replica identity: .*public\.log has no primary key, so UPDATE and DELETE on it would fail on the source once published\. .*ALTER TABLE "public"\."log" REPLICA IDENTITY FULL/,
    );
    await nothingCreated(db);
    // The source's own UPDATE still works: nothing was published.
    await withClient(source, db, (c) => c.query("UPDATE log SET line = 'b'"));
    const schemaOnly = await runCli(
      ['init', '--yes', '--no-sync', '--schema-only-tables', `${db}.log`, '--state-dir', stateDir()],
      env,
    );
    expect(schemaOnly.exitCode, schemaOnly.stderr).toBe(0);
  });

  it('tables the source user does not own (CREATE PUBLICATION would fail after the plan was shown)', async () => {
    const db = await sourceDatabase('fault_owner', simple);
    const password = 'Fault-0wner-Pa55';
    const user = await createTestRole(source, password, 'REPLICATION');
    await withClient(source, db, (c) =>
      c.query(`GRANT SELECT ON items TO "${user}"; GRANT CREATE ON DATABASE "${db}" TO "${user}"`),
    );
    const run = await runCli(
      ['init', '--yes', '--no-roles', '--state-dir', stateDir()],
      endpoints(clusterUrl(source, db, user, password), clusterUrl(target, db)),
    );
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(
        `Table ownership: ${user} does not own ${db}: public\\.items, so it cannot add it to a publication\\. Run GRANT "postgres" TO "${user}";`,
      ),
    );
    await nothingCreated(db);
  });

  it('a job id that would reach outside the state folder (usage error, exit 2, nothing created)', async () => {
    const db = await sourceDatabase('fault_jobid', simple);
    const dir = stateDir();
    const run = await runCli(
      ['init', '--yes', '--job-id', '../../escaped', '--state-dir', dir],
      endpoints(clusterUrl(source, db), clusterUrl(target, db)),
    );
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('--job-id "../../escaped" is not a job id');
    await nothingCreated(db);
  });

  it('a second init of a job that is running (its lock is held on the source)', async () => {
    const db = await sourceDatabase('fault_lock', simple);
    const jobId = uniqueName('locked');
    const holder = await connectAs(source, db);
    try {
      await holder.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`database-replicator init ${jobId}`]);
      const pid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const run = await runCli(
        ['init', '--yes', '--job-id', jobId, '--state-dir', stateDir()],
        endpoints(clusterUrl(source, db), clusterUrl(target, db)),
      );
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toContain(`Another init of job ${jobId} is running (source session pid ${pid}`);
      await nothingCreated(db);
    } finally {
      await holder.end();
    }
  });
});

describe("init leaves the target's own roles alone", () => {
  it('never alters a role that existed on the target before (a SUPERUSER stays one), and lists it as skipped', async () => {
    const db = await sourceDatabase('fault_roles', simple);
    const role = uniqueName('shared_role');
    await withClient(source, 'postgres', (c) => c.query(`CREATE ROLE "${role}" NOSUPERUSER NOLOGIN`));
    await withClient(target, 'postgres', (c) => c.query(`CREATE ROLE "${role}" SUPERUSER LOGIN`));
    const run = await runCli(
      ['init', '--yes', '--no-sync', '--json', '--state-dir', stateDir()],
      endpoints(clusterUrl(source, db), clusterUrl(target, db)),
    );
    expect(run.exitCode, run.stderr).toBe(0);
    const skipped = (
      JSON.parse(run.stdout) as { roles: { skipped: { statement: string; reason: string }[] } }
    ).roles.skipped.filter((s) => s.statement.includes(role));
    expect(skipped.length).toBeGreaterThanOrEqual(2);
    expect(skipped.every((s) => s.reason === `${role} existed on the target before; left as it is`)).toBe(true);
    const attributes = await withClient(
      target,
      'postgres',
      async (c) => (await c.query('SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = $1', [role])).rows[0],
    );
    expect(attributes).toEqual({ rolsuper: true, rolcanlogin: true });
  });
});

describe('a failing CREATE SUBSCRIPTION', () => {
  it("leaves no password in the target server's log", async () => {
    const db = await sourceDatabase('fault_sublog', simple);
    const dir = stateDir();
    const env = endpoints(clusterUrl(source, db), clusterUrl(target, db));
    expect((await runCli(['init', '--yes', '--state-dir', dir], env)).exitCode).toBe(0);
    const password = `Sub-Log-${uniqueName('pw')}`;
    const unreachable = `postgresql://postgres:${password}@127.0.0.1:1/${db}`;
    const run = await runCli(['sync', '--state-dir', dir, '--subscription-source-url', unreachable], env);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/The target could not connect to the source/);
    expect(run.stderr).not.toContain(password);
    // The error is in the log (so the server's log is being read), the statement with the password is not.
    const log = readFileSync(join(target.baseDir, 'server.log'), 'utf8');
    expect(log).toMatch(/could not connect to the publisher/);
    expect(log).not.toContain(password);
  });
});

describe('Ctrl-C during init', () => {
  it('exits 130 within seconds, says a rerun carries on, and records the step as interrupted (not RUNNING)', async () => {
    const db = await sourceDatabase('fault_sigint', simple);
    const dir = stateDir();
    const jobId = uniqueName('sigint');
    // A session holding the table against CREATE PUBLICATION (reads still pass) keeps init waiting
    // inside its work, after the job record says it is running: where Ctrl-C finds it.
    const blocker = await connectAs(source, db);
    await blocker.query('BEGIN; LOCK TABLE items IN SHARE UPDATE EXCLUSIVE MODE');
    try {
      const bin = fileURLToPath(new URL('../../bin/database-replicator.js', import.meta.url));
      const child = spawn(
        process.execPath,
        [bin, 'init', '--yes', '--no-sync', '--job-id', jobId, '--state-dir', dir],
        {
          env: { ...process.env, ...endpoints(clusterUrl(source, db), clusterUrl(target, db)), PGPASSWORD: undefined },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const store = new LocalFileJobStore(dir);
      for (
        let i = 0;
        i < 200 && !(await store.listSteps(jobId).catch(() => [])).some((s) => s.state === 'RUNNING');
        i++
      )
        await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      child.kill('SIGINT');
      const code = await new Promise<string>((resolve) => child.on('exit', (c, signal) => resolve(`${c ?? signal}`)));
      expect(code, stderr).toBe('130');
      expect(Date.now() - started).toBeLessThan(5000);
      expect(stderr).toContain('interrupted (Ctrl-C): nothing is lost; run the same command again');
      const steps = await store.listSteps(jobId);
      expect(steps.map((s) => s.state)).toEqual(['FAILED']);
      expect(steps[0]!.detail).toMatch(/interrupted \(Ctrl-C\)/);
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
  });
});

describe('a table changed on the source between a stopped init and its rerun', () => {
  /** Tables a and b, and an init stopped as a crash would once the first is in (the other is not). */
  async function stoppedAfterFirstTable(prefix: string) {
    const rows = (t: string) =>
      `CREATE TABLE ${t} (id int PRIMARY KEY, v text NOT NULL); INSERT INTO ${t} SELECT i, '${t}' FROM generate_series(1, 3000) i;`;
    const db = await sourceDatabase(prefix, rows('a') + rows('b'));
    const env = endpoints(clusterUrl(source, db), clusterUrl(target, db));
    const args = ['init', '--yes', '--no-sync', '--jobs', '1', '--state-dir', stateDir()];
    const killed = await runCli(args, { ...env, DATABASE_REPLICATOR_FAULT_POINT: 'init:table-copied' });
    expect(killed.exitCode).not.toBe(0);
    return { db, env, args };
  }

  it('refuses at once with the statements that fix it, and resumes once they ran on the target', async () => {
    const { db, env, args } = await stoppedAfterFirstTable('fault_ddl');
    const alter =
      'ALTER TABLE a ADD COLUMN extra int NOT NULL DEFAULT 7; ALTER TABLE b ADD COLUMN extra int NOT NULL DEFAULT 7;';
    await withClient(source, db, (c) => c.query(alter));

    const started = Date.now();
    const refused = await runCli(args, env);
    expect(refused.exitCode).toBe(1);
    for (const t of ['a', 'b']) {
      expect(refused.stderr).toContain(`column extra was added to public.${t} on the source; the target lacks it`);
      expect(refused.stderr).toMatch(new RegExp(`ALTER TABLE "?public"?\\."?${t}"? ADD COLUMN "?extra"? integer`));
    }
    // Before any wait on a stream that could not go on.
    expect(Date.now() - started).toBeLessThan(60_000);

    await withClient(target, db, (c) => c.query(alter));
    const resumed = await runCli(args, env);
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    await expectSameTables(source, target, db);
    expect(
      await withClient(
        target,
        db,
        async (c) => (await c.query('SELECT count(*)::int AS n FROM b WHERE extra = 7')).rows[0].n,
      ),
    ).toBe(3000);
  }, 180_000);

  // Stopped before post-data (which checks the tables) and after it (the target step checks them).
  it.each([
    ['before post-data', 'init:sequences'],
    ['after post-data', 'init:analyze'],
  ])(
    'refuses a rerun stopped after the hand-off (%s), rather than wait on a stream the change stopped',
    async (when, point) => {
      const { db, env, args } = await stoppedAfterFirstTable(`fault_ddl_late_${point.slice(5)}`);
      // The resume copies b again and joins both tables to the job's stream, then stops.
      const resumed = await runCli(args, { ...env, DATABASE_REPLICATOR_FAULT_POINT: point });
      expect(resumed.exitCode).not.toBe(0);
      // A change the stream's apply worker cannot apply: the target lacks the column.
      await withClient(source, db, (c) =>
        c.query(`ALTER TABLE a ADD COLUMN extra int NOT NULL DEFAULT 7; INSERT INTO a VALUES (9000, 'new', 8);`),
      );

      const started = Date.now();
      const refused = await runCli(args, env);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain('column extra was added to public.a on the source; the target lacks it');
      expect(Date.now() - started).toBeLessThan(60_000);

      await withClient(target, db, (c) => c.query('ALTER TABLE a ADD COLUMN extra int NOT NULL DEFAULT 7'));
      const finished = await runCli(args, env);
      expect(finished.exitCode, finished.stderr).toBe(0);
      await expectSameTables(source, target, db);
    },
    240_000,
  );
});
