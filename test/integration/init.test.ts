import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseConnectionUrl } from '../../src/connection/url.ts';
import { createSubscriptionAtSlot, subscriptionConninfo } from '../../src/replication/subscription.ts';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { endpoints, runCli } from '../support/cli.ts';
import {
  dropReplicationObjects,
  expectSameTables,
  fingerprintTables,
  replicationObjectsOnSource,
  schemaObjects,
  waitForSubscriptionCatchUp,
} from '../support/compare.ts';
import { connectAs, createTestDatabase, edgeCasesSql, runPsqlFile, withClient } from '../support/db.ts';

interface InitJson {
  ok: boolean;
  jobId: string;
  databases: {
    source: string;
    target: string;
    slot: string | null;
    publication: string | null;
    consistentPoint: string | null;
    tables: number;
    rows: number;
  }[];
}

const { source, target } = inject('clusters');
const stateDirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
  for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
});

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dbr-state-'));
  stateDirs.push(dir);
  return dir;
}

async function sourceDatabase(prefix: string, sql?: string): Promise<string> {
  const db = await createTestDatabase(source, prefix);
  cleanups.push(() => dropReplicationObjects(source, target, db.name));
  if (sql) await withClient(source, db.name, (c) => c.query(sql));
  return db.name;
}

function init(db: string, args: string[] = [], targetDb = db) {
  return runCli(
    ['init', '--yes', '--json', '--state-dir', stateDir(), ...args],
    endpoints(clusterUrl(source, db), clusterUrl(target, targetDb)),
  );
}

describe('init on the edge-case database', () => {
  it('copies every table exactly, with schema objects, sequences and large objects, and leaves the slot for sync', async () => {
    const db = await sourceDatabase('init_edge');
    await runPsqlFile(source, db, edgeCasesSql());
    // 1MB splits the bigger tables into page ranges copied by several workers.
    const run = await init(db, ['--split-tables-larger-than', '1MB', '--jobs', '3']);
    expect(run.exitCode, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as InitJson;
    expect(report.ok).toBe(true);
    expect(run.stderr).toMatch(/copied sales\.customers#3 /);

    const tables = await expectSameTables(source, target, db);
    expect(tables.get('sales.customers')!.rows).toBe(20000);
    expect(tables.get('sales.events_nopk')!.rows).toBe(20100);
    expect(tables.get('sales.cache')!.rows).toBe(100);
    expect(tables.get('Reporting Dept.Daily Totals')!.rows).toBe(20000);

    const [s, t] = await Promise.all([schemaObjects(source, db), schemaObjects(target, db)]);
    expect(t).toEqual(s);
    expect(t.indexes).toContain('sales.orders_customer_idx');
    expect(t.views).toContain('sales.paid_orders');
    expect(t.functions).toContain('sales.touch');
    expect(t.matviews).toContain('sales.customer_order_counts:true');
    expect(t.largeObjects).toHaveLength(1);
    const encoding = (cluster: typeof source) =>
      withClient(
        cluster,
        'postgres',
        async (c) =>
          (
            await c.query(
              'SELECT pg_encoding_to_char(encoding) AS e, datcollate, datctype FROM pg_database WHERE datname = $1',
              [db],
            )
          ).rows[0],
      );
    expect(await encoding(target)).toEqual(await encoding(source));
    // Each table is analyzed once: beside the copy, or in the analyze step, not in both (a partition
    // also with its partitioned table, as ANALYZE of one recurses).
    const analyzeCounts = await withClient(target, db, async (c) => {
      await c.query('SELECT pg_stat_clear_snapshot()');
      return (
        await c.query<{ t: string; n: number }>(
          `SELECT s.schemaname || '.' || s.relname AS t, s.analyze_count::int AS n FROM pg_stat_user_tables s
             JOIN pg_class c ON c.oid = s.relid WHERE c.relkind = 'r' AND NOT c.relispartition ORDER BY 1`,
        )
      ).rows;
    });
    expect(analyzeCounts.length).toBeGreaterThan(3);
    expect(analyzeCounts.filter((r) => r.n !== 1)).toEqual([]);

    // The slot and publication stay for sync; the publication lists the partitioned root, not the unlogged table.
    const [{ slot, publication, consistentPoint }] = report.databases as [InitJson['databases'][number]];
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [slot], publications: [publication] });
    expect(consistentPoint).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    const published = await withClient(source, db, async (c) =>
      (
        await c.query<{ t: string }>(
          "SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1",
          [publication],
        )
      ).rows.map((r) => r.t),
    );
    expect(published).toEqual([
      'Reporting Dept.Daily Totals',
      'sales.categories',
      'sales.customers',
      'sales.events_nopk',
      'sales.orders',
    ]);
  });

  it('resumes after a stop following its first table: every table, index and constraint as on the source', async () => {
    const db = await sourceDatabase('init_edge_resume');
    await runPsqlFile(source, db, edgeCasesSql());
    const state = stateDir();
    const env = endpoints(clusterUrl(source, db), clusterUrl(target, db));
    const args = ['init', '--yes', '--json', '--no-sync', '--jobs', '2', '--state-dir', state];
    const killed = await runCli(args, { ...env, DATABASE_REPLICATOR_FAULT_POINT: 'init:table-copied' });
    expect(killed.exitCode, killed.stderr).toBe(-1);
    const resumed = await runCli(args, env);
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    const report = JSON.parse(resumed.stdout) as InitJson & { resumed: boolean; databases: { resynced: string[] }[] };
    expect(report.resumed).toBe(true);
    // Tables copied again include ones with indexes of their own, built beside the hand-off.
    expect(report.databases[0]!.resynced).toEqual(expect.arrayContaining(['sales.orders']));
    await expectSameTables(source, target, db);
    const [s, t] = await Promise.all([schemaObjects(source, db), schemaObjects(target, db)]);
    expect(t).toEqual(s);
    expect(t.indexes).toContain('sales.orders_customer_idx');
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
  });
});

describe('init under concurrent writes', () => {
  it('copies exactly the snapshot at the slot, and a subscription on that slot converges without loss or duplicates', async () => {
    const db = await sourceDatabase(
      'init_live',
      `
      CREATE TABLE events (id bigserial PRIMARY KEY, note text NOT NULL);
      CREATE TABLE totals (k int PRIMARY KEY, n bigint NOT NULL);
      CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL);
      INSERT INTO totals VALUES (1, 0);
      INSERT INTO items SELECT i, 0 FROM generate_series(1, 2000) i;
      INSERT INTO events (note) SELECT 'seed ' || i FROM generate_series(1, 50000) i;
      UPDATE totals SET n = 50000;`,
    );
    // One writer: every transaction inserts an event, bumps the total, updates and deletes, so any
    // consistent snapshot has totals.n = count(events).
    const writer = await connectAs(source, db);
    let writing = true;
    let written = 0;
    const load = (async () => {
      while (writing) {
        await writer.query(`BEGIN;
          INSERT INTO events (note) VALUES ('live');
          UPDATE totals SET n = n + 1 WHERE k = 1;
          UPDATE items SET qty = qty + 1 WHERE id = ${1 + (written % 2000)};
          DELETE FROM items WHERE id = ${3000 + written};
          INSERT INTO items VALUES (${3000 + written + 1}, 7);
          COMMIT;`);
        written++;
      }
    })();
    try {
      await new Promise((r) => setTimeout(r, 300));
      const run = await init(db, ['--jobs', '3']);
      expect(run.exitCode, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as InitJson;
      const copied = await withClient(target, db, async (c) => {
        const { rows } = await c.query<{ events: string; total: string }>(
          'SELECT (SELECT count(*) FROM events) AS events, (SELECT n FROM totals) AS total',
        );
        return rows[0]!;
      });
      // The copy is one consistent snapshot across tables copied by different workers ...
      expect(copied.events).toBe(copied.total);
      // ... and it excludes what was committed after it while the writer went on.
      const sourceNow = await withClient(source, db, async (c) =>
        Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]!.n),
      );
      expect(Number(copied.events)).toBeLessThan(sourceNow);

      // Hand off on the slot at its consistent point (what sync does): the target must converge exactly.
      const [{ slot, publication, consistentPoint }] = report.databases as [InitJson['databases'][number]];
      await withClient(target, db, (c) =>
        createSubscriptionAtSlot(c, {
          name: slot!,
          conninfo: subscriptionConninfo(parseConnectionUrl(clusterUrl(source, db)), { allowSelfSignedCerts: false }),
          publication: publication!,
          slot: slot!,
          consistentPoint: consistentPoint!,
          binary: true,
        }),
      );
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      writing = false;
      await load;
      await writer.end();
    }
    await waitForSubscriptionCatchUp(source, target, db);
    await expectSameTables(source, target, db);
    expect(written).toBeGreaterThan(10);
  });
});

describe('init filters', () => {
  const schema = `
    CREATE SCHEMA shop;
    CREATE TABLE shop.orders (id int PRIMARY KEY, placed_at timestamptz NOT NULL, status text NOT NULL);
    CREATE TABLE shop."Order Items" (order_id int NOT NULL, sku text NOT NULL, PRIMARY KEY (order_id, sku));
    CREATE TABLE shop.audit_trail (id int PRIMARY KEY, what text);
    CREATE TABLE shop.reports (id int PRIMARY KEY, body text);
    CREATE TABLE shop.events (id int, at timestamptz, PRIMARY KEY (id, at));
    INSERT INTO shop.events SELECT i, now() - i * interval '1 hour' FROM generate_series(1, 100) i;
    INSERT INTO shop.orders SELECT i, now() - i * interval '1 day', CASE WHEN i % 3 = 0 THEN 'cancelled' ELSE 'paid' END FROM generate_series(1, 400) i;
    INSERT INTO shop."Order Items" SELECT i, 'sku' || j FROM generate_series(1, 400) i, generate_series(1, 3) j;
    INSERT INTO shop.audit_trail SELECT i, 'x' FROM generate_series(1, 100) i;
    INSERT INTO shop.reports SELECT i, 'r' FROM generate_series(1, 50) i;`;

  async function counts(cluster: typeof source, db: string) {
    return withClient(cluster, db, async (c) => {
      const q = async (sql: string) => Number((await c.query<{ n: string }>(sql)).rows[0]!.n);
      return {
        orders: await q('SELECT count(*) AS n FROM shop.orders'),
        items: await q('SELECT count(*) AS n FROM shop."Order Items"'),
        audit: await q('SELECT count(*) AS n FROM shop.audit_trail'),
        reports: await q('SELECT count(*) AS n FROM shop.reports'),
      };
    });
  }

  it('exclude, schema-only, time and table filters each change exactly the expected rows', async () => {
    const db = await sourceDatabase('init_filters', schema);
    const run = await init(db, [
      '--exclude-tables',
      `${db}.audit_trail`,
      '--schema-only-tables',
      `${db}.shop.reports`,
      '--time-filter',
      `${db}.shop.orders:placed_at:90 days`,
      '--time-filter',
      `${db}.events:at:1 day`,
      '--table-filter',
      `${db}.shop."Order Items":sku <> 'sku3'`,
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(await counts(target, db)).toEqual({ orders: 89, items: 800, audit: 0, reports: 0 });
    expect(
      await withClient(
        target,
        db,
        async (c) => (await c.query<{ n: string }>('SELECT count(*) AS n FROM shop.events')).rows[0]!.n,
      ),
    ).toBe('23');
    // The copied rows are exactly the source rows that match.
    const expected = await withClient(
      source,
      db,
      async (c) =>
        (
          await c.query<{ n: string }>(
            "SELECT count(*) AS n FROM shop.orders WHERE placed_at >= now() - interval '90 days'",
          )
        ).rows[0]!.n,
    );
    expect(Number(expected)).toBe(89);
    // The publication carries the same window as a row filter (PostgreSQL 15+), and no excluded or schema-only table.
    const published = await withClient(
      source,
      db,
      async (c) =>
        (
          await c.query<{ t: string; f: string | null }>(
            'SELECT tablename AS t, rowfilter AS f FROM pg_publication_tables ORDER BY 1',
          )
        ).rows,
    );
    expect(published.map((p) => p.t)).toEqual(['Order Items', 'events', 'orders']);
    expect(published.find((p) => p.t === 'events')!.f).toMatch(/at >= '\d{4}-\d{2}-\d{2}/);
    expect(published.find((p) => p.t === 'Order Items')!.f).toContain("'sku3'");
    // placed_at is not in orders' replica identity: a row filter would break UPDATE on the source, so there is none.
    expect(published.find((p) => p.t === 'orders')!.f).toBeNull();
    expect(run.stderr).toContain(`${db}.shop.orders: the time window's column is not part of the replica identity`);
  });

  it('the same plan given as a TOML file copies exactly what the flags copy', async () => {
    const db = await sourceDatabase('init_config', schema);
    const flags = [
      '--exclude-tables',
      `${db}.audit_trail`,
      '--schema-only-tables',
      `${db}.shop.reports`,
      '--time-filter',
      `${db}.shop.orders:placed_at:90 days`,
      '--table-filter',
      `${db}.shop."Order Items":sku <> 'sku3'`,
    ];
    const dir = stateDir();
    const file = join(dir, 'replication.toml');
    writeFileSync(
      file,
      `
jobs = 3
[databases.${db}]
exclude_tables = ["audit_trail"]
schema_only = ["shop.reports"]

[[databases.${db}.time_filters]]
table = "shop.orders"
column = "placed_at"
last = "90 days"

[[databases.${db}.table_filters]]
table = 'shop."Order Items"'
where = "sku <> 'sku3'"
`,
    );
    const byFlags = await runCli(
      ['init', '--yes', '--no-sync', '--state-dir', stateDir(), ...flags],
      endpoints(clusterUrl(source, db), clusterUrl(target, `${db}_flags`)),
    );
    expect(byFlags.exitCode, byFlags.stderr).toBe(0);
    const byFile = await runCli(
      ['init', '--yes', '--no-sync', '--state-dir', stateDir(), '--config', file],
      endpoints(clusterUrl(source, db), clusterUrl(target, `${db}_file`)),
    );
    expect(byFile.exitCode, byFile.stderr).toBe(0);
    expect(await fingerprintTables(target, `${db}_file`)).toEqual(await fingerprintTables(target, `${db}_flags`));
    expect(await counts(target, `${db}_file`)).toEqual({ orders: 89, items: 800, audit: 0, reports: 0 });

    writeFileSync(file, `[databases.${db}]\nexclude_table = ["audit_trail"]\n`);
    const bad = await runCli(
      ['init', '--yes', '--no-sync', '--state-dir', stateDir(), '--config', file],
      endpoints(clusterUrl(source, db), clusterUrl(target, `${db}_bad`)),
    );
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`unknown key "exclude_table" in databases.${db}; did you mean "exclude_tables"?`);

    writeFileSync(file, `[databases.${db}]\nexclude_tables = ["shop.audit_trail", "shop.no_such_table"]\n`);
    const missing = await runCli(
      ['init', '--yes', '--no-sync', '--state-dir', stateDir(), '--config', file],
      endpoints(clusterUrl(source, db), clusterUrl(target, `${db}_missing`)),
    );
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain(
      `${file}: databases.${db}.exclude_tables[1]: the table "${db}.shop.no_such_table" names a table that does not exist in database ${db}`,
    );
    expect(missing.stderr).toContain('Fix or remove it in the file.');
  });

  it('include-tables copies only the named tables, quoted names included', async () => {
    const db = await sourceDatabase('init_include', schema);
    const run = await init(db, ['--include-tables', `${db}.shop.orders,${db}.shop."Order Items"`]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(await counts(target, db)).toEqual({ orders: 400, items: 1200, audit: 0, reports: 0 });
  });
});

describe('init refuses bad input without leaving anything behind', () => {
  const simple =
    "CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT i, 'x' FROM generate_series(1, 10) i;";

  async function expectRefused(db: string, args: string[], targetUrl: string, pattern: RegExp, exitCode = 1) {
    const run = await runCli(
      ['init', '--yes', '--state-dir', stateDir(), ...args],
      endpoints(clusterUrl(source, db), targetUrl),
    );
    expect(run.exitCode, run.stdout + run.stderr).toBe(exitCode);
    expect(run.stderr).toMatch(pattern);
    expect(
      run.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('error:')),
    ).toHaveLength(1);
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
    return run;
  }

  it('an unreachable target', async () => {
    const db = await sourceDatabase('init_bad', simple);
    await expectRefused(
      db,
      [],
      clusterUrl({ ...target, port: 1 }, db),
      /Could not connect to the target .*nothing answered/,
    );
  });

  it('a wrong password, which is never printed', async () => {
    const db = await sourceDatabase('init_bad', simple);
    const run = await expectRefused(
      db,
      [],
      clusterUrl(target, db, target.user, 'Init-Wr0ng-Pa55'),
      /password authentication failed/,
    );
    expect(run.stdout + run.stderr).not.toContain('Init-Wr0ng-Pa55');
  });

  it('a target that already holds rows', async () => {
    const db = await sourceDatabase('init_bad', simple);
    await withClient(target, 'postgres', (c) => c.query(`CREATE DATABASE "${db}"`));
    await withClient(target, db, (c) => c.query(simple));
    await expectRefused(db, [], clusterUrl(target, db), /already holds rows in public\.items; pass --drop-existing/);
    // --drop-existing recreates it.
    const run = await runCli(
      ['init', '--yes', '--drop-existing', '--no-sync', '--state-dir', stateDir()],
      endpoints(clusterUrl(source, db), clusterUrl(target, db)),
    );
    expect(run.exitCode, run.stderr).toBe(0);
    await expectSameTables(source, target, db);
  });

  it('a filter naming a missing table (usage error, exit 2)', async () => {
    const db = await sourceDatabase('init_bad', simple);
    await expectRefused(
      db,
      ['--exclude-tables', `${db}.nope`],
      clusterUrl(target, db),
      /names a table that does not exist in database/,
      2,
    );
  });

  it('conflicting rules (usage error, exit 2)', async () => {
    const db = await sourceDatabase('init_bad', simple);
    await expectRefused(
      db,
      ['--include-tables', `${db}.items`, '--exclude-tables', `${db}.items`],
      clusterUrl(target, db),
      /both included and excluded/,
      2,
    );
  });

  it('no terminal and no --yes', async () => {
    const db = await sourceDatabase('init_bad', simple);
    const run = await runCli(
      ['init', '--state-dir', stateDir()],
      endpoints(clusterUrl(source, db), clusterUrl(target, db)),
    );
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('pass --yes to proceed without asking');
    expect(run.stdout).toMatch(/Database\s*│\s*Size\s*│\s*Est\. Time/);
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
  });
});

describe('init --no-sync', () => {
  it('makes a snapshot-only copy and drops the slot and publication, retaining no WAL', async () => {
    const db = await sourceDatabase(
      'init_nosync',
      'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 1000);',
    );
    const run = await init(db, ['--no-sync']);
    expect(run.exitCode, run.stderr).toBe(0);
    await expectSameTables(source, target, db);
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
  });
});

describe('cleanup of one job', () => {
  it('leaves the objects of a job whose id starts with the same text', async () => {
    const db = await sourceDatabase(
      'cleanup_ids',
      'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10);',
    );
    const dir = stateDir();
    const env = (targetDb: string) => endpoints(clusterUrl(source, db), clusterUrl(target, targetDb));
    for (const [jobId, targetDb] of [
      ['shop', `${db}_a`],
      ['shop_2', `${db}_b`],
    ] as const) {
      cleanups.push(
        async () =>
          void (await withClient(target, 'postgres', (c) =>
            c.query(`DROP DATABASE IF EXISTS "${targetDb}" WITH (FORCE)`),
          )),
      );
      const run = await runCli(['init', '--yes', '--no-roles', '--job-id', jobId, '--state-dir', dir], env(targetDb));
      expect(run.exitCode, run.stderr).toBe(0);
    }
    expect((await replicationObjectsOnSource(source, db)).slots).toHaveLength(2);
    const cleanup = await runCli(['cleanup', '--yes', '--job-id', 'shop', '--state-dir', dir], env(`${db}_a`));
    expect(cleanup.exitCode, cleanup.stderr).toBe(0);
    const left = await replicationObjectsOnSource(source, db);
    expect(left.slots).toEqual([expect.stringMatching(/^dbr_shop_2_/)]);
    expect(left.publications).toEqual([expect.stringMatching(/^dbr_shop_2_/)]);
    expect(
      (await runCli(['cleanup', '--yes', '--job-id', 'shop_2', '--state-dir', dir], env(`${db}_b`))).exitCode,
    ).toBe(0);
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
  });
});

interface RecordedCopy {
  tablesDone?: number;
  tablesTotal?: number;
  copying?: { table: string; rows: number }[];
}

/** The database's entry in the job record the CLI keeps for status (undefined while it is being replaced). */
function recordedCopy(state: string, db: string): RecordedCopy | undefined {
  try {
    const [job] = readdirSync(join(state, 'status'));
    const record = JSON.parse(readFileSync(join(state, 'status', job!, 'job.json'), 'utf8')) as {
      databases?: Record<string, RecordedCopy>;
    };
    return record.databases?.[db];
  } catch {
    return undefined;
  }
}

describe('init resume after a kill', () => {
  it('keeps finished tables, re-copies the rest through the original slot, and ends consistent', async () => {
    const small = Array.from(
      { length: 5 },
      (_, i) =>
        `CREATE TABLE small_${i} (id int PRIMARY KEY, v int NOT NULL); INSERT INTO small_${i} SELECT g, g FROM generate_series(1, 2000) g;`,
    ).join('\n');
    const db = await sourceDatabase(
      'init_resume',
      `
      CREATE TABLE big (id bigint PRIMARY KEY, payload text NOT NULL);
      INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 1500000) g;
      ${small}`,
    );
    const state = stateDir();
    const env = endpoints(clusterUrl(source, db), clusterUrl(target, db));

    // Writes go on through the kill and the resume.
    const writer = await connectAs(source, db);
    let writing = true;
    let n = 0;
    const load = (async () => {
      while (writing) {
        n++;
        await writer.query(
          `BEGIN; INSERT INTO big VALUES (${2_000_000 + n}, 'live'); UPDATE small_1 SET v = v + 1 WHERE id = ${1 + (n % 2000)}; DELETE FROM small_2 WHERE id = ${n}; COMMIT;`,
        );
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    try {
      const child = spawn(
        process.execPath,
        ['bin/database-replicator.js', 'init', '--yes', '--jobs', '2', '--state-dir', state],
        {
          env: { ...process.env, ...env },
          cwd: new URL('../..', import.meta.url).pathname,
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      const exited = new Promise((r) => child.on('exit', r));
      let stderr = '';
      await new Promise<void>((resolve, reject) => {
        child.stderr!.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if ((stderr.match(/copied public\.small_\d/g) ?? []).length >= 5) {
            child.kill('SIGKILL');
            resolve();
          }
        });
        child.on('exit', () => reject(new Error(`init ended before it could be killed: ${stderr}`)));
      });
      await exited;
      const [jobFolder] = readdirSync(join(state, 'status'));
      const jobFile = join(state, 'status', jobFolder!, 'checkpoint.json');
      const before = JSON.parse(readFileSync(jobFile, 'utf8')) as {
        databases: Record<string, { copied: Record<string, { seconds: number }>; steps: Record<string, unknown> }>;
      };
      const copiedBefore = before.databases[db]!.copied;
      expect(Object.keys(copiedBefore).sort()).toEqual([
        'public.small_0',
        'public.small_1',
        'public.small_2',
        'public.small_3',
        'public.small_4',
      ]);
      expect(before.databases[db]!.steps.data).toBeUndefined();

      // Run the same command again, reading the job record as `status --watch` does while it copies.
      const running = runCli(['init', '--yes', '--json', '--jobs', '2', '--state-dir', state], env);
      let finished = false;
      void running.finally(() => (finished = true));
      const seen: RecordedCopy[] = [];
      // What the killed run recorded last is not the resume's.
      const killedRunRecord = JSON.stringify(recordedCopy(state, db));
      while (!finished) {
        const copy = recordedCopy(state, db);
        if (JSON.stringify(copy) !== killedRunRecord && copy?.copying?.some((t) => t.table === 'public.big'))
          seen.push(copy);
        await new Promise((r) => setTimeout(r, 50));
      }
      const resumed = await running;
      expect(resumed.exitCode, resumed.stderr).toBe(0);
      // The resume shows its copy as the first run does: a bar for the table in flight, the kept tables counted.
      expect(seen.length, 'no record of the resumed copy in flight').toBeGreaterThan(0);
      expect(seen[0]).toMatchObject({ tablesDone: 5, tablesTotal: 6 });
      expect(Math.max(...seen.map((c) => c.copying!.find((t) => t.table === 'public.big')!.rows))).toBeGreaterThan(0);
      expect(resumed.stderr).not.toMatch(/copied public\.small_/);
      const report = JSON.parse(resumed.stdout) as InitJson & {
        resumed: boolean;
        databases: { resynced: string[]; subscription: string }[];
      };
      expect(report.resumed).toBe(true);
      expect(report.databases[0]!.resynced).toEqual(['public.big']);
      const after = JSON.parse(readFileSync(jobFile, 'utf8')) as typeof before;
      for (const [table, progress] of Object.entries(copiedBefore))
        expect(after.databases[db]!.copied[table]).toEqual(progress);
      // The table copied again is recorded whole (all its ranges), and the report counts what the target
      // holds: the kept tables and that one.
      const copiedAfter = after.databases[db]!.copied as unknown as Record<string, { rows: number }>;
      expect(copiedAfter['public.big']!.rows).toBeGreaterThanOrEqual(1_500_000);
      expect(report.databases[0]!.rows).toBe(Object.values(copiedAfter).reduce((n, t) => n + t.rows, 0));
      // The rerun went through the same steps: the schema step the stopped run recorded is kept, every other is recorded.
      expect(after.databases[db]!.steps.schema).toEqual(before.databases[db]!.steps.schema);
      expect(Object.keys(after.databases[db]!.steps).sort()).toEqual([
        'analyze',
        'data',
        'largeObjects',
        'postData',
        'schema',
        'sequences',
      ]);
      expect(await replicationObjectsOnSource(source, db)).toEqual({
        slots: [report.databases[0]!.slot],
        publications: [report.databases[0]!.publication],
      });
    } finally {
      writing = false;
      await load;
      await writer.end();
    }
    // The resumed job streams through a subscription on the original slot: once it has caught up, both sides are equal.
    await waitForSubscriptionCatchUp(source, target, db);
    await expectSameTables(source, target, db);
    expect(n).toBeGreaterThan(10);
  }, 180_000);
});

describe('init across several databases, with roles', () => {
  it('copies each selected database under its own name and the roles, listing what it skipped', async () => {
    const [a, b] = [
      await sourceDatabase(
        'init_multi_a',
        'CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a SELECT generate_series(1, 300);',
      ),
      await sourceDatabase(
        'init_multi_b',
        'CREATE TABLE b (id int PRIMARY KEY); INSERT INTO b SELECT generate_series(1, 200);',
      ),
    ];
    const suffix = a.slice(-8);
    await withClient(source, 'postgres', (c) =>
      c.query(
        `CREATE ROLE app_${suffix} LOGIN CREATEDB CONNECTION LIMIT 5; CREATE ROLE rds_probe_${suffix} NOLOGIN; GRANT rds_probe_${suffix} TO app_${suffix};`,
      ),
    );
    const run = await runCli(
      ['init', '--yes', '--json', '--no-sync', '--include-databases', `${a},${b}`, '--state-dir', stateDir()],
      endpoints(clusterUrl(source, 'postgres'), clusterUrl(target, 'postgres')),
    );
    expect(run.exitCode, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as InitJson & {
      roles: { applied: string[]; skipped: { statement: string; reason: string }[] };
    };
    expect(report.databases.map((d) => `${d.source}->${d.target}`)).toEqual([`${a}->${a}`, `${b}->${b}`]);
    await expectSameTables(source, target, a);
    await expectSameTables(source, target, b);
    const role = await withClient(
      target,
      'postgres',
      async (c) =>
        (
          await c.query('SELECT rolcanlogin, rolcreatedb, rolconnlimit FROM pg_roles WHERE rolname = $1', [
            `app_${suffix}`,
          ])
        ).rows[0],
    );
    expect(role).toEqual({ rolcanlogin: true, rolcreatedb: true, rolconnlimit: 5 });
    const skipped = report.roles.skipped.filter((s) => s.statement.includes(`rds_probe_${suffix}`));
    expect(skipped.length).toBeGreaterThanOrEqual(2);
    expect(skipped.every((s) => /built-in or RDS role/.test(s.reason))).toBe(true);
  });
});
