// Schemas real users have (issue #21): each runs the whole flow on the harness clusters and compares
// both sides independently after cutover.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { endpoints, runCli, type CliRun } from '../support/cli.ts';
import { dropReplicationObjects, expectSameTables, replicationObjectsOnSource } from '../support/compare.ts';
import { createTestDatabase, withClient, SUBSCRIPTIONS_OF_THIS_DATABASE } from '../support/db.ts';

const { source, target } = inject('clusters');
const stateDirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
  for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
});

async function sourceDatabase(prefix: string, sql: string): Promise<string> {
  const db = await createTestDatabase(source, prefix);
  cleanups.push(() => dropReplicationObjects(source, target, db.name));
  await withClient(source, db.name, (c) => c.query(sql));
  return db.name;
}

/** The CLI on one database with a state folder of its own. */
function jobFor(db: string): (args: string[]) => Promise<CliRun> {
  const state = mkdtempSync(join(tmpdir(), 'dbr-schemas-'));
  stateDirs.push(state);
  return (args) => runCli([...args, '--state-dir', state], endpoints(clusterUrl(source, db), clusterUrl(target, db)));
}

async function waitInSync(cli: (args: string[]) => Promise<CliRun>): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const status = JSON.parse((await cli(['status', '--json'])).stdout) as { databases: { verdict: string }[] };
    if (status.databases.every((d) => d.verdict === 'in sync')) return;
    if (Date.now() > deadline) throw new Error(`never in sync: ${JSON.stringify(status.databases)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** init, sync, `live` writes on the source while streaming, cutover; then both sides must hold the same rows. */
async function replicateThroughCutover(
  db: string,
  initArgs: string[],
  live: string,
  beforeComparing = '',
): Promise<Map<string, { rows: number }>> {
  const cli = jobFor(db);
  const init = await cli(['init', '--yes', '--json', ...initArgs]);
  expect(init.exitCode, init.stderr).toBe(0);
  const sync = await cli(['sync', '--json']);
  expect(sync.exitCode, sync.stderr).toBe(0);
  await withClient(source, db, (c) => c.query(live));
  await waitInSync(cli);
  const cutover = await cli(['cutover', '--json', '--timeout', '60']);
  expect(cutover.exitCode, cutover.stderr).toBe(0);
  if (beforeComparing) await withClient(source, db, (c) => c.query(beforeComparing));
  return expectSameTables(source, target, db);
}

describe('tables with no copyable column', () => {
  it('copies a table without columns and one with only generated columns', async () => {
    const db = await sourceDatabase(
      'nocols',
      `
      CREATE TABLE nocols ();
      ALTER TABLE nocols REPLICA IDENTITY FULL;
      INSERT INTO nocols DEFAULT VALUES; INSERT INTO nocols DEFAULT VALUES; INSERT INTO nocols DEFAULT VALUES;
      CREATE TABLE only_generated (answer int GENERATED ALWAYS AS (42) STORED);
      ALTER TABLE only_generated REPLICA IDENTITY FULL;
      INSERT INTO only_generated DEFAULT VALUES; INSERT INTO only_generated DEFAULT VALUES;
      CREATE TABLE items (id int PRIMARY KEY);
      INSERT INTO items SELECT generate_series(1, 10);`,
    );
    const tables = await replicateThroughCutover(
      db,
      [],
      'INSERT INTO nocols DEFAULT VALUES; INSERT INTO only_generated DEFAULT VALUES; INSERT INTO items VALUES (11);',
    );
    expect(tables.get('public.nocols')!.rows).toBe(4);
    expect(tables.get('public.only_generated')!.rows).toBe(3);
  });
});

describe('a source that ends idle transactions and long statements', () => {
  it('keeps the snapshot-exporting session alive while the schema restores', async () => {
    // Enough objects that the schema restore outlasts the short timeouts.
    const tables = Array.from(
      { length: 40 },
      (_, i) =>
        `CREATE TABLE t${i} (id int PRIMARY KEY, label text NOT NULL DEFAULT 'x', CHECK (id > 0)); INSERT INTO t${i} VALUES (1);`,
    ).join('\n');
    const db = await sourceDatabase('idle_timeout', tables);
    await withClient(source, 'postgres', (c) =>
      c.query(
        `ALTER DATABASE "${db}" SET idle_in_transaction_session_timeout = '200ms'; ALTER DATABASE "${db}" SET statement_timeout = '200ms'`,
      ),
    );
    const copied = await replicateThroughCutover(db, [], 'INSERT INTO t0 VALUES (2);');
    expect(copied.get('public.t0')!.rows).toBe(2);
  }, 120_000);
});

describe('--exclude-tables of a table that foreign keys point to', () => {
  it('refuses before creating anything and names the foreign key', async () => {
    const db = await sourceDatabase(
      'exclude_fk',
      `
      CREATE TABLE customers (id int PRIMARY KEY);
      CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL CONSTRAINT orders_customer_fk REFERENCES customers);
      INSERT INTO customers VALUES (1); INSERT INTO orders VALUES (1, 1);`,
    );
    const cli = jobFor(db);
    const validate = await runCli(
      ['validate', '--json', '--exclude-tables', 'customers'],
      endpoints(clusterUrl(source, db), clusterUrl(target, db)),
    );
    expect(validate.exitCode).toBe(1);
    const report = JSON.parse(validate.stdout) as { checks: { id: string; status: string; detail: string }[] };
    expect(report.checks.find((c) => c.id === 'excluded-referenced-tables')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/orders_customer_fk/),
    });

    const init = await cli(['init', '--yes', '--exclude-tables', 'customers']);
    expect(init.exitCode).toBe(1);
    expect(init.stderr).toMatch(/nothing was created.*orders_customer_fk.*public\.orders.*public\.customers/s);
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
    const created = await withClient(
      target,
      'postgres',
      async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).rowCount,
    );
    expect(created).toBe(0);
  });

  it('copies when the referencing table is excluded too', async () => {
    const db = await sourceDatabase(
      'exclude_fk_both',
      `
      CREATE TABLE customers (id int PRIMARY KEY);
      CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers);
      CREATE TABLE items (id int PRIMARY KEY);
      INSERT INTO customers VALUES (1); INSERT INTO orders VALUES (1, 1); INSERT INTO items VALUES (1);`,
    );
    const cli = jobFor(db);
    const init = await cli(['init', '--yes', '--exclude-tables', 'customers', '--exclude-tables', 'orders']);
    expect(init.exitCode, init.stderr).toBe(0);
  });
});

describe('a partitioned root without a replica identity, published through the root', () => {
  it('is refused before anything is created, naming the root', async () => {
    const db = await sourceDatabase(
      'root_identity',
      `
      CREATE TABLE events (id int NOT NULL, at date NOT NULL, note text) PARTITION BY RANGE (at);
      CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
      ALTER TABLE events_2026 REPLICA IDENTITY FULL;
      INSERT INTO events VALUES (1, '2026-03-01', 'a');`,
    );
    const init = await jobFor(db)(['init', '--yes']);
    expect(init.exitCode).toBe(1);
    expect(init.stderr).toMatch(
      /nothing was created.*partitioned .*public\.events has no replica identity.*REPLICA IDENTITY FULL/s,
    );
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
  });
});

describe('materialized views', () => {
  it('cutover refreshes them inputs first and leaves unpopulated ones unpopulated', async () => {
    const db = await sourceDatabase(
      'matviews',
      `
      CREATE TABLE sales (id int PRIMARY KEY, amount int NOT NULL);
      INSERT INTO sales SELECT g, g FROM generate_series(1, 10) g;
      CREATE MATERIALIZED VIEW z_base AS SELECT sum(amount) AS total, count(*) AS n FROM sales;
      CREATE VIEW through_view AS SELECT total FROM z_base;
      CREATE MATERIALIZED VIEW a_report AS SELECT total * 2 AS doubled FROM through_view;
      CREATE MATERIALIZED VIEW never_filled AS SELECT id FROM sales WITH NO DATA;`,
    );
    // The source's own refresh, in dependency order, is what the target must match.
    const tables = await replicateThroughCutover(
      db,
      [],
      'INSERT INTO sales VALUES (11, 1000);',
      'REFRESH MATERIALIZED VIEW z_base; REFRESH MATERIALIZED VIEW a_report;',
    );
    expect(tables.get('public.a_report')).toBeDefined();
    const populated = await withClient(
      target,
      db,
      async (c) =>
        (
          await c.query<{ ispopulated: boolean }>(
            "SELECT ispopulated FROM pg_matviews WHERE matviewname = 'never_filled'",
          )
        ).rows[0]!.ispopulated,
    );
    expect(populated).toBe(false);
  });
});

describe('a materialized view over a function that reads unqualified names', () => {
  it("is filled by init under the source database's search path, inputs first, and stays unpopulated when it is on the source", async () => {
    const db = await sourceDatabase(
      'matview_function',
      `
      CREATE SCHEMA app;
      SET search_path = app, public;
      CREATE TABLE app.sales (id int PRIMARY KEY, amount int NOT NULL);
      INSERT INTO app.sales SELECT g, g FROM generate_series(1, 10) g;
      -- The body names app.sales as "sales": it resolves through the search path of whoever calls it.
      CREATE FUNCTION public.sales_total() RETURNS TABLE (total bigint, n bigint) LANGUAGE sql STABLE AS 'SELECT sum(amount), count(*) FROM sales';
      CREATE MATERIALIZED VIEW public.totals AS SELECT * FROM public.sales_total();
      CREATE MATERIALIZED VIEW public.a_doubled AS SELECT total * 2 AS doubled FROM public.totals;
      CREATE MATERIALIZED VIEW public.never_filled AS SELECT * FROM public.sales_total() WITH NO DATA;`,
    );
    await withClient(source, 'postgres', (c) => c.query(`ALTER DATABASE "${db}" SET search_path = app, public`));
    const cli = jobFor(db);
    const init = await cli(['init', '--yes', '--no-sync']);
    expect(init.exitCode, init.stderr).toBe(0);
    const read = (cluster: typeof source) =>
      withClient(
        cluster,
        db,
        async (c) =>
          (
            await c.query<{ name: string; populated: boolean; rows: string | null }>(`
        SELECT matviewname AS name, ispopulated AS populated,
               CASE matviewname WHEN 'totals' THEN (SELECT total::text FROM public.totals) WHEN 'a_doubled' THEN (SELECT doubled::text FROM public.a_doubled) END AS rows
          FROM pg_matviews WHERE schemaname = 'public' ORDER BY 1`)
          ).rows,
      );
    expect(await read(target)).toEqual([
      { name: 'a_doubled', populated: true, rows: '110' },
      { name: 'never_filled', populated: false, rows: null },
      { name: 'totals', populated: true, rows: '55' },
    ]);
    expect(await read(target)).toEqual(await read(source));
  });
});

describe('database-level settings', () => {
  it('are copied to the target, and verify reads both schemas alike whatever their search paths', async () => {
    const db = await sourceDatabase(
      'db_settings',
      `
      CREATE SCHEMA app;
      CREATE TABLE app.customers (id int PRIMARY KEY);
      CREATE TABLE app.orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES app.customers);
      INSERT INTO app.customers VALUES (1); INSERT INTO app.orders VALUES (1, 1);`,
    );
    await withClient(source, 'postgres', (c) =>
      c.query(`ALTER DATABASE "${db}" SET search_path = app, public; ALTER DATABASE "${db}" SET work_mem = '8MB'`),
    );
    await replicateThroughCutover(db, [], 'INSERT INTO app.customers VALUES (2);');
    const settings = await withClient(
      target,
      'postgres',
      async (c) =>
        (
          await c.query<{ s: string[] }>(
            'SELECT s.setconfig AS s FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1 AND s.setrole = 0',
            [db],
          )
        ).rows[0]?.s,
    );
    expect(settings).toEqual(['search_path=app, public', 'work_mem=8MB']);
    // The target is read with the source's search path too, or not: verify must see no difference either way.
    await withClient(target, 'postgres', (c) => c.query(`ALTER DATABASE "${db}" RESET search_path`));
    const verify = await runCli(['verify', '--json'], endpoints(clusterUrl(source, db), clusterUrl(target, db)));
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
  });
});

describe('verify while replication is broken', () => {
  it('stops re-checking after one --recheck-timeout and says replication is broken', async () => {
    const db = await sourceDatabase(
      'verify_broken',
      `
      CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL);
      CREATE TABLE notes (body text NOT NULL);
      ALTER TABLE notes REPLICA IDENTITY FULL;
      INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g;
      INSERT INTO notes SELECT 'note ' || g FROM generate_series(1, 10) g;`,
    );
    const cli = jobFor(db);
    expect((await cli(['init', '--yes'])).exitCode).toBe(0);
    expect((await cli(['sync'])).exitCode).toBe(0);
    await waitInSync(cli);
    // A row the target has already: the apply worker fails on it and retries forever, applying nothing after it.
    await withClient(target, db, (c) => c.query("INSERT INTO items VALUES (1000, 'target only')"));
    await withClient(source, db, (c) =>
      c.query(
        "INSERT INTO items VALUES (1000, 'conflict'); INSERT INTO notes VALUES ('late'); UPDATE items SET label = 'changed' WHERE id <= 5;",
      ),
    );
    const started = Date.now();
    const verify = await cli(['verify', '--recheck-timeout', '3']);
    const seconds = (Date.now() - started) / 1000;
    expect(verify.exitCode).toBe(1);
    expect(verify.stdout).toMatch(/replication is broken or far behind/);
    expect(verify.stdout).not.toMatch(/changed during every re-check/);
    // One wait of 3 s, not one per re-check round and table.
    expect(seconds).toBeLessThan(12);
  });
});

describe('a schema-only leaf partition under a replicated root', () => {
  it('is refused before anything is created: live rows would reach it through the root', async () => {
    const db = await sourceDatabase(
      'leaf_schema_only',
      `
      CREATE TABLE events (id int NOT NULL, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
      CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
      INSERT INTO events VALUES (1, '2025-03-01'), (2, '2026-03-01');`,
    );
    const init = await jobFor(db)(['init', '--yes', '--schema-only-tables', 'events_2025']);
    expect(init.exitCode).not.toBe(0);
    expect(init.stderr).toMatch(
      /partition public\.events_2025 is schema-only but its partitioned table public\.events replicates/,
    );
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
  });
});

describe('status while the apply worker keeps failing', () => {
  it('never says in sync once apply errors climb (a partitioned root that lost its replica identity)', async () => {
    const db = await sourceDatabase(
      'apply_errors',
      `
      CREATE TABLE events (id int NOT NULL, at date NOT NULL, note text) PARTITION BY RANGE (at);
      CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
      ALTER TABLE events REPLICA IDENTITY FULL; ALTER TABLE events_2026 REPLICA IDENTITY FULL;
      INSERT INTO events SELECT g, '2026-03-01', 'a' FROM generate_series(1, 10) g;`,
    );
    const cli = jobFor(db);
    expect((await cli(['init', '--yes'])).exitCode).toBe(0);
    expect((await cli(['sync'])).exitCode).toBe(0);
    await waitInSync(cli);
    // What validate now refuses, made after the fact: the root loses its replica identity.
    await withClient(source, db, (c) =>
      c.query("ALTER TABLE events REPLICA IDENTITY DEFAULT; UPDATE events SET note = 'b' WHERE id = 1"),
    );
    const errors = () =>
      withClient(target, db, async (c) =>
        Number(
          (
            await c.query<{ n: string }>(
              `SELECT sum(apply_error_count)::text AS n FROM pg_stat_subscription_stats WHERE ${SUBSCRIPTIONS_OF_THIS_DATABASE}`,
            )
          ).rows[0]!.n,
        ),
      );
    while ((await errors()) === 0) await new Promise((r) => setTimeout(r, 200));
    const verdicts: string[] = [];
    for (let i = 0; i < 12; i++) {
      const status = JSON.parse((await cli(['status', '--json'])).stdout) as {
        databases: { verdict: string; reason: string }[];
      };
      verdicts.push(`${status.databases[0]!.verdict}: ${status.databases[0]!.reason}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(verdicts.filter((v) => !v.startsWith('broken'))).toEqual([]);
  }, 90_000);
});
