// Schema changes while replicating (issue 18): status names the drift and the DDL that fixes it,
// sync --apply-ddl carries the additive changes across under a running writer, and leaves the
// destructive ones to a person.
import { describe, expect, inject, it } from 'vitest';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { endpoints, runCli, type CliRun } from '../support/cli.ts';
import { dropReplicationObjects, fingerprintTables } from '../support/compare.ts';
import { createTestDatabase, edgeCasesSql, runPsqlFile, startWriter, withClient } from '../support/db.ts';
import { useScratch } from '../support/scratch.ts';

const { source, target } = inject('clusters');
const scratch = useScratch('drift');

interface Finding {
  database: string;
  table: string;
  kind: string;
  column?: string;
  message: string;
  statements: { on: string; sql: string }[];
  additive: boolean;
  blocksReplication: boolean;
}
interface StatusJson {
  ok: boolean;
  drift: Finding[];
  databases: { verdict: string; reason: string; drift: Finding[] }[];
}

async function database(
  prefix: string,
  sql: string,
): Promise<{ db: string; cli: (args: string[]) => Promise<CliRun> }> {
  const { name: db } = await createTestDatabase(source, prefix);
  scratch.cleanups.push(() => dropReplicationObjects(source, target, db));
  if (sql) await withClient(source, db, (c) => c.query(sql));
  const state = scratch.stateDir();
  return {
    db,
    cli: (args) => runCli([...args, '--state-dir', state], endpoints(clusterUrl(source, db), clusterUrl(target, db))),
  };
}

async function status(cli: (args: string[]) => Promise<CliRun>): Promise<StatusJson> {
  return JSON.parse((await cli(['status', '--json'])).stdout) as StatusJson;
}

async function waitFor(
  cli: (args: string[]) => Promise<CliRun>,
  done: (s: StatusJson) => boolean,
  what: string,
  timeoutMs = 90_000,
): Promise<StatusJson> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(cli);
    if (done(s)) return s;
    if (Date.now() > deadline) throw new Error(`${what} never happened: ${JSON.stringify(s.databases)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function expectTargetEqualsSource(db: string): Promise<void> {
  const [s, t] = await Promise.all([fingerprintTables(source, db), fingerprintTables(target, db)]);
  expect([...t.keys()]).toEqual([...s.keys()]);
  for (const [name, fp] of s) expect(t.get(name), name).toEqual(fp);
}

describe('schema drift under a running writer', () => {
  it('ADD COLUMN and a new table on the source: status names them with the DDL, sync --apply-ddl carries them, cutover leaves equal tables', async () => {
    const { db, cli } = await database(
      'drift_add',
      `
      CREATE TABLE orders (id bigserial PRIMARY KEY, amount int NOT NULL, note text);
      CREATE TABLE audit (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
      INSERT INTO orders (amount) SELECT i FROM generate_series(1, 2000) i;`,
    );
    expect((await cli(['init', '--yes'])).exitCode).toBe(0);
    expect((await cli(['sync'])).exitCode).toBe(0);
    const writer = startWriter(
      source,
      db,
      (i) =>
        `BEGIN; INSERT INTO orders (amount) VALUES (${i}); UPDATE orders SET note = 'w${i}' WHERE id = ${1 + (i % 2000)}; INSERT INTO audit DEFAULT VALUES; COMMIT;`,
    );
    try {
      await waitFor(cli, (s) => s.databases[0]!.verdict === 'in sync', 'in sync before the change');
      expect((await status(cli)).drift).toEqual([]);

      await withClient(source, db, (c) => c.query('ALTER TABLE orders ADD COLUMN c int DEFAULT 7'));
      // The next replicated row of orders carries c, which the target lacks: the apply worker stops on it.
      const drifted = await waitFor(cli, (s) => s.databases[0]!.verdict === 'broken', 'broken replication');
      expect(drifted.databases[0]!.reason).toContain(
        'schema drift stops replication: column c was added to public.orders on the source; the target lacks it',
      );
      expect(drifted.drift).toEqual([
        expect.objectContaining({
          table: 'public.orders',
          kind: 'column added',
          column: 'c',
          additive: true,
          blocksReplication: true,
          statements: [{ on: 'target', sql: 'ALTER TABLE "public"."orders" ADD COLUMN "c" integer DEFAULT 7' }],
        }),
      ]);
      const text = await cli(['status']);
      expect(text.exitCode).toBe(1);
      expect(text.stdout).toContain('ALTER TABLE "public"."orders" ADD COLUMN "c" integer DEFAULT 7;');

      const applied = await cli(['sync', '--apply-ddl']);
      expect(applied.exitCode, applied.stderr).toBe(0);
      expect(applied.stdout).toContain('applied 1 schema change(s)');
      expect(applied.stdout).toContain('applied: column c was added to public.orders');
      await waitFor(
        cli,
        (s) => s.databases[0]!.verdict === 'in sync' && s.drift.length === 0,
        'in sync after --apply-ddl',
      );

      // A new table under load: nothing replicates it until --apply-ddl adds it to publication and subscription.
      await withClient(source, db, (c) =>
        c.query(`CREATE TABLE shipments (id int PRIMARY KEY, order_id bigint NOT NULL, label text DEFAULT 'x');
        CREATE INDEX shipments_order ON shipments (order_id);
        INSERT INTO shipments SELECT i, i, 'seed' FROM generate_series(1, 500) i;`),
      );
      const added = await waitFor(cli, (s) => s.drift.some((f) => f.kind === 'table added'), 'the new table found');
      expect(added.drift).toEqual([
        expect.objectContaining({
          table: 'public.shipments',
          kind: 'table added',
          additive: true,
          message: 'table public.shipments was created on the source after init; it is not replicated',
        }),
      ]);
      expect(added.drift[0]!.statements.map((s) => s.sql)).toEqual([
        `CREATE TABLE "public"."shipments" ("id" integer NOT NULL, "order_id" bigint NOT NULL, "label" text DEFAULT 'x'::text, CONSTRAINT "shipments_pkey" PRIMARY KEY (id))`,
        'CREATE INDEX shipments_order ON public.shipments USING btree (order_id)',
        expect.stringMatching(/^ALTER PUBLICATION "\w+" ADD TABLE "public"."shipments"$/),
        expect.stringMatching(/^ALTER SUBSCRIPTION "\w+" REFRESH PUBLICATION WITH \(copy_data = true\)$/),
      ]);
      const more = startWriter(source, db, (i) => `INSERT INTO shipments VALUES (${1000 + i}, ${i}, 'live')`);
      try {
        expect((await cli(['sync', '--apply-ddl'])).exitCode).toBe(0);
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        await more.stop();
      }
      await waitFor(
        cli,
        (s) => s.databases[0]!.verdict === 'in sync' && s.drift.length === 0,
        'in sync after the new table',
      );
    } finally {
      const inserted = await writer.stop();
      const cutover = await cli(['cutover', '--timeout', '120']);
      expect(cutover.exitCode, cutover.stderr).toBe(0);
      // The writer's own count: every committed insert is on the target, once.
      const counts = await withClient(
        target,
        db,
        async (c) =>
          (
            await c.query<{ n: string; d: string; sevens: string }>(
              'SELECT count(*) AS n, count(DISTINCT id) AS d, count(*) FILTER (WHERE c = 7) AS sevens FROM orders',
            )
          ).rows[0]!,
      );
      expect(Number(counts.n)).toBe(2000 + inserted);
      expect(Number(counts.d)).toBe(Number(counts.n));
      // Old rows got the default on both sides; rows written since carry it from the source.
      expect(Number(counts.sevens)).toBe(Number(counts.n));
    }
    await expectTargetEqualsSource(db);
  }, 400_000);
});

describe('destructive and ambiguous drift', () => {
  it('a dropped and a renamed column are listed with the statements to run, and nothing is applied', async () => {
    const { db, cli } = await database(
      'drift_drop',
      `
      CREATE TABLE people (id int PRIMARY KEY, name text, legacy text NOT NULL);
      CREATE TABLE places (id int PRIMARY KEY, title text);
      INSERT INTO people SELECT i, 'p' || i, 'l' FROM generate_series(1, 100) i;
      INSERT INTO places SELECT i, 't' || i FROM generate_series(1, 100) i;`,
    );
    expect((await cli(['init', '--yes'])).exitCode).toBe(0);
    expect((await cli(['sync'])).exitCode).toBe(0);
    await withClient(source, db, (c) =>
      c.query('ALTER TABLE people DROP COLUMN legacy; ALTER TABLE places RENAME COLUMN title TO label'),
    );
    const s = await status(cli);
    expect(s.drift).toEqual([
      expect.objectContaining({
        table: 'public.people',
        kind: 'column dropped',
        column: 'legacy',
        additive: false,
        blocksReplication: true,
        statements: [
          { on: 'target', sql: 'ALTER TABLE "public"."people" ALTER COLUMN "legacy" DROP NOT NULL' },
          { on: 'target', sql: 'ALTER TABLE "public"."people" DROP COLUMN "legacy"' },
        ],
      }),
      expect.objectContaining({
        table: 'public.places',
        kind: 'column renamed',
        column: 'label',
        additive: false,
        statements: [{ on: 'target', sql: 'ALTER TABLE "public"."places" RENAME COLUMN "title" TO "label"' }],
      }),
    ]);
    const before = await withClient(
      target,
      db,
      async (c) =>
        (
          await c.query<{ x: string }>(
            "SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY 1) AS x FROM information_schema.columns WHERE table_schema = 'public'",
          )
        ).rows[0]!.x,
    );
    const run = await cli(['sync', '--apply-ddl', '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { databases: { ddl: { applied: string[]; listed: Finding[] } }[] };
    expect(out.databases[0]!.ddl.applied).toEqual([]);
    expect(out.databases[0]!.ddl.listed.map((f) => f.kind)).toEqual(['column dropped', 'column renamed']);
    const text = await cli(['sync', '--apply-ddl']);
    expect(text.stdout).toContain('Not applied (destructive or ambiguous) (2):');
    expect(text.stdout).toContain('ALTER TABLE "public"."places" RENAME COLUMN "title" TO "label";');
    const after = await withClient(
      target,
      db,
      async (c) =>
        (
          await c.query<{ x: string }>(
            "SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY 1) AS x FROM information_schema.columns WHERE table_schema = 'public'",
          )
        ).rows[0]!.x,
    );
    expect(after).toBe(before);
  }, 180_000);
});

describe('the edge-case fixture', () => {
  it('shows no drift after init, then an added column and a new index are carried across and cutover leaves equal tables', async () => {
    const { db, cli } = await database('drift_edge', '');
    await runPsqlFile(source, db, edgeCasesSql());
    expect((await cli(['init', '--yes'])).exitCode).toBe(0);
    expect((await cli(['sync'])).exitCode).toBe(0);
    const clean = await status(cli);
    expect(clean.drift).toEqual([]);
    await withClient(source, db, (c) =>
      c.query(`
      ALTER TABLE sales.customers ADD COLUMN tier smallint NOT NULL DEFAULT 1;
      ALTER TABLE "Reporting Dept"."Daily Totals" ADD COLUMN "Note" varchar(20) DEFAULT 'n/a';
      CREATE INDEX customers_tier ON sales.customers (tier);
      UPDATE sales.customers SET tier = 2 WHERE id % 7 = 0;
      INSERT INTO sales.orders (customer_id, status, total, placed_at) VALUES (1, 'paid', 3, '2025-03-01');`),
    );
    const drifted = await status(cli);
    expect(drifted.drift.map((f) => `${f.table} ${f.kind}`).sort()).toEqual([
      'Reporting Dept.Daily Totals column added',
      'sales.customers column added',
      'sales.customers index missing',
    ]);
    const applied = await cli(['sync', '--apply-ddl']);
    expect(applied.exitCode, applied.stderr).toBe(0);
    await waitFor(
      cli,
      (s) => s.databases[0]!.verdict === 'in sync' && s.drift.length === 0,
      'in sync after --apply-ddl',
    );
    const cutover = await cli(['cutover', '--timeout', '120']);
    expect(cutover.exitCode, cutover.stderr).toBe(0);
    await withClient(source, db, (c) => c.query('REFRESH MATERIALIZED VIEW sales.customer_order_counts'));
    const [s, t] = await Promise.all([fingerprintTables(source, db), fingerprintTables(target, db)]);
    s.delete('sales.cache');
    t.delete('sales.cache');
    expect(t).toEqual(s);
  }, 300_000);
});
