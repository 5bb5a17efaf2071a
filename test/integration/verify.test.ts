import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { endpoints, runCli } from '../support/cli.ts';
import { dropReplicationObjects, waitForSubscriptionCatchUp } from '../support/compare.ts';
import { connectAs, createTestDatabase, edgeCasesSql, runPsqlFile, withClient } from '../support/db.ts';

interface VerifyJson {
  ok: boolean;
  databases: {
    tables: {
      table: string;
      status: string;
      rows: number;
      chunks: number;
      diffs: { kind: string; key: Record<string, string> }[];
      unconfirmedRows?: { kind: string; key: Record<string, string> }[];
      note?: string;
    }[];
    materializedViews: { matview: string; status: string; rows: number | null; note?: string }[];
    schemaDiffs: string[];
    drift: { kind: string; message: string; statements: { on: string; sql: string }[] }[];
    rechecked: boolean;
  }[];
}

const { source, target } = inject('clusters');
const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function copied(prefix: string, load: (db: string) => Promise<unknown>, initArgs: string[] = ['--no-sync']) {
  const db = (await createTestDatabase(source, prefix)).name;
  cleanups.push(() => dropReplicationObjects(source, target, db));
  await load(db);
  const state = mkdtempSync(join(tmpdir(), 'dbr-verify-'));
  dirs.push(state);
  const env = endpoints(clusterUrl(source, db), clusterUrl(target, db));
  const cli = (args: string[]) => runCli([...args, '--state-dir', state], env);
  const init = await cli(['init', '--yes', ...initArgs]);
  expect(init.exitCode, init.stderr).toBe(0);
  return {
    db,
    cli,
    verify: async (args: string[] = []) => {
      const run = await cli(['verify', '--json', ...args]);
      return { ...run, report: JSON.parse(run.stdout) as VerifyJson };
    },
  };
}

describe('verify', () => {
  it('passes on a correct copy of every table kind in the edge-case database', async () => {
    const { db, verify, cli } = await copied('verify_edge', (name) => runPsqlFile(source, name, edgeCasesSql()));
    const run = await verify(['--rows-per-chunk', '3000']);
    expect(run.exitCode, run.stdout).toBe(0);
    const tables = run.report.databases[0]!.tables;
    expect(tables.map((t) => t.table).sort()).toEqual([
      'Reporting Dept.Daily Totals',
      'sales.cache',
      'sales.categories',
      'sales.customers',
      'sales.events_nopk',
      'sales.orders_2024',
      'sales.orders_2025',
      'sales.orders_default',
    ]);
    expect(tables.every((t) => t.status === 'ok')).toBe(true);
    expect(tables.find((t) => t.table === 'sales.customers')!.chunks).toBeGreaterThan(3);
    expect(run.report.databases[0]!.schemaDiffs).toEqual([]);
    const rows = await withClient(source, db, async (c) =>
      Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM sales.customer_order_counts')).rows[0]!.n),
    );
    expect(run.report.databases[0]!.materializedViews).toEqual([
      { database: db, matview: 'sales.customer_order_counts', status: 'ok', rows },
    ]);
    const text = await cli(['verify']);
    expect(text.stdout).toMatch(/Verify passed: 8 table\(s\) equal; 1 materialized view\(s\) equal\./);
  });

  it('names exactly the changed, deleted and extra rows, each with its kind, and exits 1', async () => {
    const { db, verify } = await copied('verify_diff', async (name) => {
      await withClient(source, name, (c) =>
        c.query(`
        CREATE TABLE "Big Table" (id bigint PRIMARY KEY, doc json, data bytea, tags text[], amount numeric(12,2), at timestamptz, label text);
        INSERT INTO "Big Table" SELECT g, json_build_object('g', g), decode(md5(g::text), 'hex'), ARRAY['a' || g % 5], g * 1.25, timestamptz '2025-01-01' + g * interval '1 minute', CASE WHEN g % 10 = 0 THEN '' END FROM generate_series(1, 200000) g;
        CREATE TABLE text_keyed (code text PRIMARY KEY, v int);
        INSERT INTO text_keyed SELECT 'Key-' || g, g FROM generate_series(1, 5000) g;
        ANALYZE;`),
      );
    });
    await withClient(target, db, (c) =>
      c.query(`
      UPDATE "Big Table" SET label = NULL WHERE id = 120000;
      DELETE FROM "Big Table" WHERE id = 777;
      INSERT INTO "Big Table" (id, label) VALUES (300001, 'extra');
      UPDATE text_keyed SET v = -1 WHERE code = 'Key-4242';`),
    );
    const run = await verify(['--rows-per-chunk', '20000', '--jobs', '3']);
    expect(run.exitCode).toBe(1);
    expect(run.report.ok).toBe(false);
    const tables = run.report.databases[0]!.tables;
    const big = tables.find((t) => t.table === 'public.Big Table')!;
    expect(big.status).toBe('different');
    expect(big.chunks).toBeGreaterThan(5);
    expect(big.diffs.sort((a, b) => Number(a.key.id) - Number(b.key.id))).toEqual([
      { kind: 'missing on target', key: { id: '777' } },
      { kind: 'different', key: { id: '120000' } },
      { kind: 'extra on target', key: { id: '300001' } },
    ]);
    expect(tables.find((t) => t.table === 'public.text_keyed')!.diffs).toEqual([
      { kind: 'different', key: { code: 'Key-4242' } },
    ]);
    // NULL and the empty string are different values.
    await withClient(target, db, (c) => c.query(`UPDATE "Big Table" SET label = NULL WHERE id = 10`));
    const again = await verify(['--max-diffs', '10']);
    expect(
      again.report.databases[0]!.tables.find((t) => t.table === 'public.Big Table')!.diffs.map((d) => d.key.id),
    ).toContain('10');
  });

  it('compares a table without primary key as a whole, and only the recorded window of a time-filtered table', async () => {
    const { db, verify } = await copied(
      'verify_kinds',
      (name) =>
        withClient(source, name, (c) =>
          c.query(`
        CREATE TABLE log (at timestamptz, what text);
        ALTER TABLE log REPLICA IDENTITY FULL;
        INSERT INTO log SELECT now() - g * interval '1 hour', 'x' FROM generate_series(1, 100) g;
        INSERT INTO log SELECT * FROM log LIMIT 3;
        CREATE TABLE events (id int, at timestamptz, PRIMARY KEY (id, at));
        INSERT INTO events SELECT g, now() - g * interval '1 day' FROM generate_series(1, 60) g;
        CREATE TABLE snapshots (id int PRIMARY KEY, body text);
        INSERT INTO snapshots SELECT g, 'b' FROM generate_series(1, 10) g;`),
        ),
      ['--no-sync', '--time-filter', 'events:at:30 days', '--schema-only-tables', 'snapshots'],
    );
    const ok = await verify();
    expect(ok.exitCode, ok.stdout).toBe(0);
    const tables = ok.report.databases[0]!.tables;
    expect(tables.find((t) => t.table === 'public.events')!.rows).toBe(29);
    expect(tables.find((t) => t.table === 'public.snapshots')!.status).toBe('schema only');

    await withClient(target, db, (c) => c.query(`DELETE FROM log WHERE ctid = (SELECT ctid FROM log LIMIT 1)`));
    const bad = await verify();
    expect(bad.exitCode).toBe(1);
    expect(bad.report.databases[0]!.tables.find((t) => t.table === 'public.log')).toMatchObject({
      status: 'different',
      note: expect.stringContaining('cannot be pinpointed'),
    });
  });

  it('reports schema differences', async () => {
    const { db, cli, verify } = await copied('verify_schema', (name) =>
      withClient(source, name, (c) =>
        c.query(
          "CREATE TABLE t (id int PRIMARY KEY, a text, b int); CREATE INDEX t_a ON t (a); INSERT INTO t VALUES (1, 'x', 2);",
        ),
      ),
    );
    await withClient(target, db, (c) => c.query('DROP INDEX t_a; ALTER TABLE t ALTER COLUMN b TYPE bigint'));
    const run = await verify();
    expect(run.exitCode).toBe(1);
    // Schema drift is its own section, each difference with the statement that fixes it (and not repeated as a plain difference).
    expect(run.report.databases[0]!.drift).toEqual([
      expect.objectContaining({
        kind: 'type changed',
        message:
          'column b of public.t is integer on the source but bigint on the target (narrowed on the source: the target still accepts every value)',
        statements: [{ on: 'target', sql: 'ALTER TABLE "public"."t" ALTER COLUMN "b" TYPE integer' }],
      }),
      expect.objectContaining({
        kind: 'index missing',
        message: 'index t_a was created on public.t on the source; the target lacks it',
        statements: [{ on: 'target', sql: 'CREATE INDEX t_a ON public.t USING btree (a)' }],
      }),
    ]);
    expect(run.report.databases[0]!.schemaDiffs).toEqual([]);
    const text = await cli(['verify']);
    expect(text.stdout).toContain('Schema drift (2):');
    expect(text.stdout).toContain('      CREATE INDEX t_a ON public.t USING btree (a);');
    expect(text.stdout).toContain('Verify found differences: 0 table(s) differ, 2 schema difference(s).');
  });

  it('while writes stream, reports no difference after the re-check, and still catches a row changed only on the target', async () => {
    const { db, cli, verify } = await copied(
      'verify_live',
      (name) =>
        withClient(source, name, (c) =>
          c.query(`
        CREATE TABLE orders (id bigserial PRIMARY KEY, status text NOT NULL, touched int NOT NULL DEFAULT 0);
        INSERT INTO orders (status) SELECT 'new' FROM generate_series(1, 30000);
        CREATE TABLE audit (at timestamptz NOT NULL DEFAULT clock_timestamp(), what text);
        ALTER TABLE audit REPLICA IDENTITY FULL;`),
        ),
      [],
    );
    expect((await cli(['sync'])).exitCode).toBe(0);
    const writer = await connectAs(source, db);
    let writing = true;
    const load = (async () => {
      let i = 0;
      while (writing) {
        i++;
        await writer.query(
          `INSERT INTO orders (status) VALUES ('live'); UPDATE orders SET touched = touched + 1 WHERE id = ${1000 + (i % 5000)}; INSERT INTO audit (what) VALUES ('w')`,
        );
      }
    })();
    try {
      const clean = await verify(['--rows-per-chunk', '5000']);
      expect(clean.exitCode, clean.stdout).toBe(0);
      // A keyless table under steady inserts cannot be pinned at one position on both sides: it is not a difference.
      expect(['ok', 'unconfirmed']).toContain(
        clean.report.databases[0]!.tables.find((t) => t.table === 'public.audit')!.status,
      );
      await withClient(target, db, (c) => c.query(`UPDATE orders SET status = 'tampered' WHERE id = 25000`));
      const caught = await verify(['--rows-per-chunk', '5000']);
      expect(caught.exitCode).toBe(1);
      expect(caught.report.databases[0]!.tables.find((t) => t.table === 'public.orders')!.diffs).toEqual([
        { kind: 'different', key: { id: '25000' } },
      ]);
    } finally {
      writing = false;
      await load;
      await writer.end();
    }
  });

  it('reports hot rows that keep changing during the re-checks as unconfirmed, never as different, and still fails on a row changed only on the target', async () => {
    const { db, cli, verify } = await copied(
      'verify_hot',
      (name) =>
        withClient(source, name, (c) =>
          c.query(`
        CREATE TABLE counters (id int PRIMARY KEY, hits bigint NOT NULL DEFAULT 0, label text);
        INSERT INTO counters (id, label) SELECT g, 'c' || g FROM generate_series(1, 20000) g;
        ANALYZE counters;`),
        ),
      [],
    );
    expect((await cli(['sync'])).exitCode).toBe(0);
    // A session keeps bumping the same three rows, so their source value moves between any two reads.
    const hot = ['1', '2', '10000'];
    const writers = [await connectAs(source, db)];
    let writing = true;
    const loads = writers.map(async (w) => {
      while (writing) await w.query(`UPDATE counters SET hits = hits + 1 WHERE id IN (${hot.join(', ')})`);
    });
    try {
      const hotOnly = await verify(['--rows-per-chunk', '4000']);
      expect(hotOnly.exitCode, hotOnly.stdout).toBe(0);
      expect(hotOnly.report.ok).toBe(true);
      const counters = hotOnly.report.databases[0]!.tables.find((t) => t.table === 'public.counters')!;
      expect(counters.diffs).toEqual([]);
      expect(counters.status).toBe('unconfirmed');
      expect(counters.note).toMatch(/row\(s\) kept changing on the source while they were re-checked/);
      const unconfirmed = counters.unconfirmedRows!.map((d) => d.key.id);
      expect(unconfirmed.length).toBeGreaterThan(0);
      expect(hot).toEqual(expect.arrayContaining(unconfirmed));

      // A row changed on the target alone is still a difference, whatever the hot rows do meanwhile.
      await withClient(target, db, (c) => c.query(`UPDATE counters SET label = 'tampered' WHERE id = 15000`));
      const tampered = await cli(['verify', '--rows-per-chunk', '4000']);
      expect(tampered.exitCode, tampered.stdout).toBe(1);
      expect(tampered.stdout).toMatch(/public\.counters differs:\n {2}different {9}id=15000\n/);
      expect(tampered.stdout).not.toMatch(/different {9}id=(1|2|10000)\n/);
      expect(tampered.stdout).toMatch(
        /changing {10}id=(1|2|10000) \(kept changing on the source while re-checked; not a difference\)/,
      );
      expect(tampered.stdout).toMatch(/Verify found differences: 1 table\(s\) differ/);
    } finally {
      writing = false;
      await Promise.all(loads);
      await Promise.all(writers.map((w) => w.end()));
    }
  }, 240_000);

  it("compares materialized views by rows, equal when populated on neither side, and only unconfirmed while the source's may have been refreshed", async () => {
    const { db, cli, verify } = await copied(
      'verify_matviews',
      (name) =>
        withClient(source, name, (c) =>
          c.query(`
        CREATE TABLE items (id int PRIMARY KEY, grp int NOT NULL, amount int NOT NULL);
        INSERT INTO items SELECT g, g % 3, g FROM generate_series(1, 30) g;
        CREATE MATERIALIZED VIEW by_group AS SELECT grp, sum(amount) AS total FROM items GROUP BY grp;
        CREATE MATERIALIZED VIEW totals AS SELECT sum(amount) AS total FROM items;
        CREATE MATERIALIZED VIEW "Never filled" AS SELECT id FROM items WITH NO DATA;`),
        ),
      [],
    );
    const views = (run: { report: VerifyJson }) => run.report.databases[0]!.materializedViews;
    const equal = await verify();
    expect(equal.exitCode, equal.stdout).toBe(0);
    expect(views(equal)).toEqual([
      { database: db, matview: 'public.Never filled', status: 'ok', rows: null, note: 'populated on neither side' },
      { database: db, matview: 'public.by_group', status: 'ok', rows: 3 },
      { database: db, matview: 'public.totals', status: 'ok', rows: 1 },
    ]);

    // The target's views changed alone, its tables as the source's: replication is not running, so these are differences.
    await withClient(target, db, (c) =>
      c.query(`
      UPDATE items SET amount = amount + 1 WHERE id = 1; REFRESH MATERIALIZED VIEW by_group; UPDATE items SET amount = amount - 1 WHERE id = 1;
      REFRESH MATERIALIZED VIEW totals WITH NO DATA;`),
    );
    const different = await verify();
    expect(different.exitCode).toBe(1);
    expect(different.report.databases[0]!.tables.map((t) => t.status)).toEqual(['ok']);
    expect(views(different).filter((m) => m.status !== 'ok')).toEqual([
      {
        database: db,
        matview: 'public.by_group',
        status: 'different',
        rows: 3,
        note: 'the rows differ (3 on both sides)',
      },
      { database: db, matview: 'public.totals', status: 'different', rows: null, note: 'not populated on the target' },
    ]);
    const text = await cli(['verify']);
    expect(text.exitCode).toBe(1);
    expect(text.stdout).toContain(
      `${db}: materialized view public.by_group differs (the rows differ (3 on both sides)).`,
    );
    expect(text.stdout).toMatch(
      /Verify found differences: 0 table\(s\) differ, 2 materialized view\(s\) differ, 0 schema difference\(s\)\./,
    );

    // While replication streams, the source refreshing its view is no failure: the target's is refreshed at cutover.
    await withClient(target, db, (c) =>
      c.query('REFRESH MATERIALIZED VIEW by_group; REFRESH MATERIALIZED VIEW totals'),
    );
    expect((await cli(['sync'])).exitCode).toBe(0);
    await withClient(source, db, (c) =>
      c.query('INSERT INTO items VALUES (31, 0, 100); REFRESH MATERIALIZED VIEW by_group'),
    );
    await waitForSubscriptionCatchUp(source, target, db);
    const streaming = await verify();
    expect(streaming.exitCode, streaming.stdout).toBe(0);
    expect(streaming.report.databases[0]!.tables.map((t) => t.status)).toEqual(['ok']);
    expect(views(streaming).find((m) => m.matview === 'public.by_group')).toMatchObject({
      status: 'unconfirmed',
      note: expect.stringMatching(
        /^the rows differ \(3 on both sides\); materialized views are not replicated.*cutover refreshes/,
      ),
    });
    expect(views(streaming).find((m) => m.matview === 'public.totals')!.status).toBe('ok');
  }, 240_000);
});
