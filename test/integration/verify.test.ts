import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { endpoints, runCli } from '../support/cli.ts';
import { dropReplicationObjects } from '../support/compare.ts';
import { connectAs, createTestDatabase, edgeCasesSql, runPsqlFile, withClient } from '../support/db.ts';

interface VerifyJson {
  ok: boolean;
  databases: {
    tables: { table: string; status: string; rows: number; chunks: number; diffs: { kind: string; key: Record<string, string> }[]; note?: string }[];
    schemaDiffs: string[];
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
  return { db, cli, verify: async (args: string[] = []) => {
    const run = await cli(['verify', '--json', ...args]);
    return { ...run, report: JSON.parse(run.stdout) as VerifyJson };
  } };
}

describe('verify', () => {
  it('passes on a correct copy of every table kind in the edge-case database', async () => {
    const { verify, cli } = await copied('verify_edge', (db) => runPsqlFile(source, db, edgeCasesSql()));
    const run = await verify(['--rows-per-chunk', '3000']);
    expect(run.exitCode, run.stdout).toBe(0);
    const tables = run.report.databases[0]!.tables;
    expect(tables.map((t) => t.table).sort()).toEqual(['Reporting Dept.Daily Totals', 'sales.cache', 'sales.categories', 'sales.customers', 'sales.events_nopk', 'sales.orders_2024', 'sales.orders_2025', 'sales.orders_default']);
    expect(tables.every((t) => t.status === 'ok')).toBe(true);
    expect(tables.find((t) => t.table === 'sales.customers')!.chunks).toBeGreaterThan(3);
    expect(run.report.databases[0]!.schemaDiffs).toEqual([]);
    const text = await cli(['verify']);
    expect(text.stdout).toMatch(/Verify passed: 8 table\(s\) equal\./);
  });

  it('names exactly the changed, deleted and extra rows, each with its kind, and exits 1', async () => {
    const { db, verify } = await copied('verify_diff', async (name) => {
      await withClient(source, name, (c) => c.query(`
        CREATE TABLE "Big Table" (id bigint PRIMARY KEY, doc json, data bytea, tags text[], amount numeric(12,2), at timestamptz, label text);
        INSERT INTO "Big Table" SELECT g, json_build_object('g', g), decode(md5(g::text), 'hex'), ARRAY['a' || g % 5], g * 1.25, timestamptz '2025-01-01' + g * interval '1 minute', CASE WHEN g % 10 = 0 THEN '' END FROM generate_series(1, 200000) g;
        CREATE TABLE text_keyed (code text PRIMARY KEY, v int);
        INSERT INTO text_keyed SELECT 'Key-' || g, g FROM generate_series(1, 5000) g;
        ANALYZE;`));
    });
    await withClient(target, db, (c) => c.query(`
      UPDATE "Big Table" SET label = NULL WHERE id = 120000;
      DELETE FROM "Big Table" WHERE id = 777;
      INSERT INTO "Big Table" (id, label) VALUES (300001, 'extra');
      UPDATE text_keyed SET v = -1 WHERE code = 'Key-4242';`));
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
    expect(tables.find((t) => t.table === 'public.text_keyed')!.diffs).toEqual([{ kind: 'different', key: { code: 'Key-4242' } }]);
    // NULL and the empty string are different values.
    await withClient(target, db, (c) => c.query(`UPDATE "Big Table" SET label = NULL WHERE id = 10`));
    const again = await verify(['--max-diffs', '10']);
    expect(again.report.databases[0]!.tables.find((t) => t.table === 'public.Big Table')!.diffs.map((d) => d.key.id)).toContain('10');
  });

  it('compares a table without primary key as a whole, and only the recorded window of a time-filtered table', async () => {
    const { db, verify } = await copied('verify_kinds', (name) =>
      withClient(source, name, (c) => c.query(`
        CREATE TABLE log (at timestamptz, what text);
        ALTER TABLE log REPLICA IDENTITY FULL;
        INSERT INTO log SELECT now() - g * interval '1 hour', 'x' FROM generate_series(1, 100) g;
        INSERT INTO log SELECT * FROM log LIMIT 3;
        CREATE TABLE events (id int, at timestamptz, PRIMARY KEY (id, at));
        INSERT INTO events SELECT g, now() - g * interval '1 day' FROM generate_series(1, 60) g;
        CREATE TABLE snapshots (id int PRIMARY KEY, body text);
        INSERT INTO snapshots SELECT g, 'b' FROM generate_series(1, 10) g;`)),
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
    expect(bad.report.databases[0]!.tables.find((t) => t.table === 'public.log')).toMatchObject({ status: 'different', note: expect.stringContaining('cannot be pinpointed') });
  });

  it('reports schema differences', async () => {
    const { db, verify } = await copied('verify_schema', (name) => withClient(source, name, (c) => c.query('CREATE TABLE t (id int PRIMARY KEY, a text, b int); CREATE INDEX t_a ON t (a); INSERT INTO t VALUES (1, \'x\', 2);')));
    await withClient(target, db, (c) => c.query('DROP INDEX t_a; ALTER TABLE t ALTER COLUMN b TYPE bigint'));
    const run = await verify();
    expect(run.exitCode).toBe(1);
    const diffs = run.report.databases[0]!.schemaDiffs.join('\n');
    expect(diffs).toContain('column public.t.b is integer on the source but bigint on the target');
    expect(diffs).toContain('index public.t_a is missing or different on the target');
  });

  it('while writes stream, reports no difference after the re-check, and still catches a row changed only on the target', async () => {
    const { db, cli, verify } = await copied('verify_live', (name) =>
      withClient(source, name, (c) => c.query(`
        CREATE TABLE orders (id bigserial PRIMARY KEY, status text NOT NULL, touched int NOT NULL DEFAULT 0);
        INSERT INTO orders (status) SELECT 'new' FROM generate_series(1, 30000);
        CREATE TABLE audit (at timestamptz NOT NULL DEFAULT clock_timestamp(), what text);
        ALTER TABLE audit REPLICA IDENTITY FULL;`)),
      [],
    );
    expect((await cli(['sync'])).exitCode).toBe(0);
    const writer = await connectAs(source, db);
    let writing = true;
    const load = (async () => {
      let i = 0;
      while (writing) {
        i++;
        await writer.query(`INSERT INTO orders (status) VALUES ('live'); UPDATE orders SET touched = touched + 1 WHERE id = ${1000 + (i % 5000)}; INSERT INTO audit (what) VALUES ('w')`);
      }
    })();
    try {
      const clean = await verify(['--rows-per-chunk', '5000']);
      expect(clean.exitCode, clean.stdout).toBe(0);
      // A keyless table under steady inserts cannot be pinned at one position on both sides: it is not a difference.
      expect(['ok', 'unconfirmed']).toContain(clean.report.databases[0]!.tables.find((t) => t.table === 'public.audit')!.status);
      await withClient(target, db, (c) => c.query(`UPDATE orders SET status = 'tampered' WHERE id = 25000`));
      const caught = await verify(['--rows-per-chunk', '5000']);
      expect(caught.exitCode).toBe(1);
      expect(caught.report.databases[0]!.tables.find((t) => t.table === 'public.orders')!.diffs).toEqual([{ kind: 'different', key: { id: '25000' } }]);
    } finally {
      writing = false;
      await load;
      await writer.end();
    }
  });
});
