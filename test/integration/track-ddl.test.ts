// init --track-ddl (issue 18): schema changes on the source are recorded by an event trigger into a
// published log, and a trigger on the target's copy of the log applies the additive ones in stream
// order, so replication goes on through them under a running writer. cleanup leaves nothing of it.
import { describe, expect, inject, it } from 'vitest';
import { clusterUrl, type ClusterInfo } from '../../scripts/support/cluster.ts';
import { endpoints, runCli, type CliRun } from '../support/cli.ts';
import {
  dropReplicationObjects,
  fingerprintTables,
  replicationObjectsOnSource,
  waitForSubscriptionCatchUp,
} from '../support/compare.ts';
import {
  createTestDatabase,
  createTestRole,
  edgeCasesSql,
  runPsqlFile,
  startWriter,
  withClient,
  SUBSCRIPTIONS_OF_THIS_DATABASE,
} from '../support/db.ts';
import { useScratch } from '../support/scratch.ts';
import { deriveJobId, ddlCaptureName } from '../../src/jobs/naming.ts';
import { parseConnectionUrl } from '../../src/connection/url.ts';
import { applySql } from '../../src/ddl-capture/sql.ts';
import { isWidening } from '../../src/drift/widening.ts';
import { isConstantDefault } from '../../src/drift/compare.ts';

const { source, target } = inject('clusters');
const scratch = useScratch('trackddl');

interface Run {
  db: string;
  schema: string;
  cli: (args: string[]) => Promise<CliRun>;
}

async function database(prefix: string, sql: string): Promise<Run> {
  const { name: db } = await createTestDatabase(source, prefix);
  scratch.cleanups.push(() => dropReplicationObjects(source, target, db));
  if (sql) await withClient(source, db, (c) => c.query(sql));
  const state = scratch.stateDir();
  const [s, t] = [clusterUrl(source, db), clusterUrl(target, db)];
  return {
    db,
    schema: ddlCaptureName(deriveJobId(parseConnectionUrl(s), parseConnectionUrl(t))),
    cli: (args) => runCli([...args, '--state-dir', state], endpoints(s, t)),
  };
}

/** What the target's trigger applied and skipped, in stream order. */
async function ddlOutcomes(db: string, schema: string): Promise<{ applied: string[]; skipped: string[] }[]> {
  return withClient(
    target,
    db,
    async (c) =>
      (
        await c.query<{ applied: string[]; skipped: string[] }>(
          `SELECT applied, skipped FROM "${schema}".ddl_outcome ORDER BY log_id`,
        )
      ).rows,
  );
}

async function applyErrors(db: string): Promise<number> {
  return withClient(target, db, async (c) =>
    Number(
      (
        await c.query<{ n: string }>(
          `SELECT coalesce(sum(apply_error_count), 0)::text AS n FROM pg_stat_subscription_stats WHERE ${SUBSCRIPTIONS_OF_THIS_DATABASE}`,
        )
      ).rows[0]!.n,
    ),
  );
}

/** Event triggers, functions and schemas of ours left in a database. */
async function leftovers(cluster: ClusterInfo, db: string, schema: string): Promise<string[]> {
  return withClient(cluster, db, async (c) =>
    (
      await c.query<{ x: string }>(
        `
    SELECT 'event trigger ' || evtname AS x FROM pg_event_trigger WHERE evtname = $1
    UNION ALL SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 OR p.proname IN ('capture_ddl', 'apply_ddl')
    UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname = $1`,
        [schema],
      )
    ).rows.map((r) => r.x),
  );
}

async function expectEqualTables(db: string, leaveOut: string[] = []): Promise<void> {
  const [s, t] = await Promise.all([fingerprintTables(source, db), fingerprintTables(target, db)]);
  for (const name of leaveOut) {
    s.delete(name);
    t.delete(name);
  }
  expect([...t.keys()]).toEqual([...s.keys()]);
  for (const [name, fp] of s) expect(t.get(name), name).toEqual(fp);
}

describe('init --track-ddl under a running writer', () => {
  it('carries ADD COLUMN, a change in the same transaction as rows, a widening and an index with no intervention; cleanup leaves nothing of ours', async () => {
    const { db, schema, cli } = await database(
      'tddl_load',
      `
      CREATE TABLE orders (id bigserial PRIMARY KEY, amount int NOT NULL, note text);
      CREATE TABLE audit (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
      INSERT INTO orders (amount) SELECT i FROM generate_series(1, 2000) i;`,
    );
    const init = await cli(['init', '--yes', '--track-ddl', '--json']);
    expect(init.exitCode, init.stderr).toBe(0);
    // The log is replicated, but it is not the user's: neither planned nor copied.
    expect((JSON.parse(init.stdout) as { databases: { tables: number; rows: number }[] }).databases[0]).toMatchObject({
      tables: 2,
      rows: 2000,
    });
    expect((await cli(['sync'])).exitCode).toBe(0);
    const writer = startWriter(
      source,
      db,
      (i) =>
        `BEGIN; INSERT INTO orders (amount) VALUES (${i}); UPDATE orders SET note = 'w${i}' WHERE id = ${1 + (i % 2000)}; INSERT INTO audit DEFAULT VALUES; COMMIT;`,
    );
    let inserted: number;
    const verdicts = new Set<string>();
    try {
      await new Promise((r) => setTimeout(r, 1000));
      await withClient(source, db, async (c) => {
        await c.query('ALTER TABLE orders ADD COLUMN c int DEFAULT 7');
        // Rows of the new shape in the transaction that changes it: the change must be applied first.
        await c.query(
          "BEGIN; ALTER TABLE orders ADD COLUMN d text DEFAULT 'x'; INSERT INTO orders (amount, c, d) VALUES (-1, 9, 'in the same transaction'); COMMIT",
        );
        await c.query('ALTER TABLE orders ALTER COLUMN amount TYPE bigint');
        await c.query('CREATE INDEX orders_c ON orders (c)');
      });
      for (let i = 0; i < 6; i++) {
        const s = JSON.parse((await cli(['status', '--json'])).stdout) as { databases: { verdict: string }[] };
        verdicts.add(s.databases[0]!.verdict);
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      inserted = await writer.stop();
    }
    expect(verdicts).not.toContain('broken');
    await waitForSubscriptionCatchUp(source, target, db);
    // The apply worker never stopped on the changes, and nothing is left different.
    expect(await applyErrors(db)).toBe(0);
    expect((JSON.parse((await cli(['status', '--json'])).stdout) as { drift: unknown[] }).drift).toEqual([]);
    const outcomes = await ddlOutcomes(db, schema);
    expect(outcomes.flatMap((o) => o.skipped)).toEqual([]);
    expect(outcomes.flatMap((o) => o.applied)).toEqual([
      'ALTER TABLE public.orders ADD COLUMN c integer DEFAULT 7',
      "ALTER TABLE public.orders ADD COLUMN d text DEFAULT 'x'::text",
      'ALTER TABLE public.orders ALTER COLUMN amount TYPE bigint',
      'CREATE INDEX orders_c ON public.orders USING btree (c)',
    ]);
    const cutover = await cli(['cutover', '--timeout', '120']);
    expect(cutover.exitCode, cutover.stderr).toBe(0);
    // The writer's own count: every committed insert is on the target, once.
    const counts = await withClient(
      target,
      db,
      async (c) =>
        (
          await c.query<{ n: string; d: string; nine: string }>(
            'SELECT count(*) AS n, count(DISTINCT id) AS d, count(*) FILTER (WHERE c = 9) AS nine FROM orders',
          )
        ).rows[0]!,
    );
    expect(Number(counts.n)).toBe(2000 + inserted + 1);
    expect(Number(counts.d)).toBe(Number(counts.n));
    expect(Number(counts.nine)).toBe(1);

    const cleanup = await cli(['cleanup', '--yes']);
    expect(cleanup.exitCode, cleanup.stderr).toBe(0);
    expect(cleanup.stdout).toContain(`dropped event trigger ${schema} (source database ${db})`);
    expect(cleanup.stdout).toContain(`dropped schema ${schema} with its DDL log and functions (target database ${db})`);
    expect(await leftovers(source, db, schema)).toEqual([]);
    expect(await leftovers(target, db, schema)).toEqual([]);
    await expectEqualTables(db);
    // A second cleanup finds nothing (also without the job record).
    expect((await cli(['cleanup', '--yes'])).stdout).toMatch(/Nothing to clean up/);
  }, 400_000);

  it('skips and records what it must not apply (a rename), and status then names it as drift', async () => {
    const { db, schema, cli } = await database(
      'tddl_skip',
      `
      CREATE TABLE places (id int PRIMARY KEY, title text);
      INSERT INTO places SELECT i, 't' || i FROM generate_series(1, 100) i;`,
    );
    expect((await cli(['init', '--yes', '--track-ddl'])).exitCode).toBe(0);
    expect((await cli(['sync'])).exitCode).toBe(0);
    // One string with two statements, one holding a password: the log keeps the text, never the password.
    const role = `tddl_${db.slice(-8)}`;
    scratch.cleanups.push(async () => {
      await withClient(source, 'postgres', (c) => c.query(`DROP ROLE IF EXISTS "${role}"`));
    });
    await withClient(source, db, (c) =>
      c.query(
        `CREATE ROLE "${role}" LOGIN PASSWORD 'Logged-Never-Pa55'; ALTER TABLE places RENAME COLUMN title TO label`,
      ),
    );
    await waitForSubscriptionCatchUp(source, target, db);
    const skipped = (await ddlOutcomes(db, schema)).flatMap((r) => r.skipped);
    expect(skipped).toEqual([
      `a column of public.places was renamed on the source (CREATE ROLE "${role}" LOGIN PASSWORD ***; ALTER TABLE places RENAME COLUMN title TO label): rename it on the target by hand`,
    ]);
    for (const cluster of [source, target])
      expect(
        await withClient(cluster, db, async (c) =>
          JSON.stringify((await c.query(`SELECT * FROM "${schema}".ddl_log`)).rows),
        ),
      ).not.toContain('Logged-Never-Pa55');
    const s = JSON.parse((await cli(['status', '--json'])).stdout) as {
      drift: { kind: string; statements: { sql: string }[] }[];
    };
    expect(s.drift).toEqual([
      expect.objectContaining({
        kind: 'column renamed',
        statements: [{ on: 'target', sql: 'ALTER TABLE "public"."places" RENAME COLUMN "title" TO "label"' }],
      }),
    ]);
    // The log itself is no drift and no table of the user's for verify.
    const verify = await cli(['verify', '--json']);
    expect(verify.stdout).not.toContain(schema);
    expect((await cli(['cleanup', '--yes'])).exitCode).toBe(0);
    expect(await leftovers(source, db, schema)).toEqual([]);
    expect(await leftovers(target, db, schema)).toEqual([]);
  }, 200_000);
});

describe('init --track-ddl refuses a source user who may not create event triggers', () => {
  it('stops with one sentence before anything exists on either side', async () => {
    const { name: db } = await createTestDatabase(source, 'tddl_user');
    scratch.cleanups.push(() => dropReplicationObjects(source, target, db));
    scratch.cleanups.push(async () => {
      await withClient(target, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`));
    });
    const password = 'Track-Ddl-Pa55';
    const user = await createTestRole(source, password, 'REPLICATION');
    await withClient(source, db, (c) =>
      c.query(`CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT i, 'x' FROM generate_series(1, 50) i;
      ALTER TABLE items OWNER TO "${user}"; GRANT CREATE ON DATABASE "${db}" TO "${user}"`),
    );
    const run = await runCli(
      ['init', '--yes', '--track-ddl', '--state-dir', scratch.stateDir()],
      endpoints(clusterUrl(source, db, user, password), clusterUrl(target, db)),
    );
    expect(run.exitCode, run.stderr).toBe(1);
    const errors = run.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toEqual([
      `error: init did not start, and nothing was created: DDL capture (--track-ddl): --track-ddl creates an event trigger on the source, which needs a superuser, and ${user} is neither. Run init as a superuser, or leave out --track-ddl and carry schema changes with sync --apply-ddl.`,
    ]);
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
    expect(
      await withClient(
        target,
        'postgres',
        async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).rowCount,
      ),
    ).toBe(0);
    expect(
      await withClient(
        source,
        db,
        async (c) =>
          (
            await c.query(
              "SELECT 1 FROM pg_namespace WHERE nspname ~ '^dbr_.+_ddl$' UNION ALL SELECT 1 FROM pg_event_trigger",
            )
          ).rowCount,
      ),
    ).toBe(0);
  }, 120_000);
});

describe('init --track-ddl with --no-sync', () => {
  it('is a usage error: nothing would carry the changes', async () => {
    const run = await runCli(
      ['init', '--yes', '--track-ddl', '--no-sync', '--state-dir', scratch.stateDir()],
      endpoints(clusterUrl(source, 'postgres'), clusterUrl(target, 'postgres')),
    );
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(
      'error: --track-ddl carries schema changes through replication, which --no-sync leaves out; pass one of them.',
    );
  });
});

describe('the edge-case fixture with --track-ddl', () => {
  it('goes through init, an ADD COLUMN, cutover and cleanup, and compares equal', async () => {
    const { db, schema, cli } = await database('tddl_edge', '');
    await runPsqlFile(source, db, edgeCasesSql());
    const init = await cli(['init', '--yes', '--track-ddl']);
    expect(init.exitCode, init.stderr).toBe(0);
    expect((await cli(['sync'])).exitCode).toBe(0);
    await withClient(source, db, (c) =>
      c.query(`
      ALTER TABLE sales.customers ADD COLUMN tier smallint NOT NULL DEFAULT 1;
      ALTER TABLE "Reporting Dept"."Daily Totals" ADD COLUMN "Note" varchar(20) DEFAULT 'n/a';
      CREATE INDEX customers_tier ON sales.customers (tier);
      ALTER TABLE sales.orders ADD COLUMN channel text DEFAULT 'web';
      UPDATE sales.customers SET tier = 2 WHERE id % 7 = 0;
      INSERT INTO sales.orders (customer_id, status, total, placed_at, channel) VALUES (1, 'paid', 3, '2025-03-01', 'shop');`),
    );
    await waitForSubscriptionCatchUp(source, target, db);
    expect(await applyErrors(db)).toBe(0);
    // The partitioned table changes at its root, once; its partitions follow it on the target.
    const outcomes = await ddlOutcomes(db, schema);
    expect(outcomes.flatMap((o) => o.skipped)).toEqual([]);
    expect(outcomes.flatMap((o) => o.applied)).toEqual([
      'ALTER TABLE sales.customers ADD COLUMN tier smallint DEFAULT 1 NOT NULL',
      `ALTER TABLE "Reporting Dept"."Daily Totals" ADD COLUMN "Note" character varying(20) DEFAULT 'n/a'::character varying`,
      'CREATE INDEX customers_tier ON sales.customers USING btree (tier)',
      "ALTER TABLE sales.orders ADD COLUMN channel text DEFAULT 'web'::text",
    ]);
    const s = JSON.parse((await cli(['status', '--json'])).stdout) as {
      drift: unknown[];
      databases: { verdict: string }[];
    };
    expect(s.drift).toEqual([]);
    const cutover = await cli(['cutover', '--timeout', '120']);
    expect(cutover.exitCode, cutover.stderr).toBe(0);
    expect((await cli(['cleanup', '--yes'])).exitCode).toBe(0);
    expect(await leftovers(source, db, schema)).toEqual([]);
    expect(await leftovers(target, db, schema)).toEqual([]);
    await withClient(source, db, (c) => c.query('REFRESH MATERIALIZED VIEW sales.customer_order_counts'));
    await expectEqualTables(db, ['sales.cache']);
  }, 300_000);
});

describe("the target trigger's rules", () => {
  it('widening and constant defaults decide as src/drift does', async () => {
    const { name: db } = await createTestDatabase(target, 'tddl_rules');
    scratch.cleanups.push(async () => {
      await withClient(target, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`));
    });
    const types = [
      'smallint',
      'integer',
      'bigint',
      'numeric',
      'numeric(5,0)',
      'numeric(10,0)',
      'numeric(12,2)',
      'numeric(19,0)',
      'numeric(20,0)',
      'numeric(12,4)',
      'real',
      'double precision',
      'text',
      'character varying',
      'character varying(10)',
      'character varying(20)',
      'character(5)',
      'timestamp without time zone',
      'timestamp with time zone',
      'date',
    ];
    const defaults = [
      null,
      '7',
      '-1',
      '(-1)',
      '1.5',
      "'x'::text",
      "'it''s'::character varying",
      'true',
      'NULL::integer',
      "'n/a'::character varying",
      'now()',
      "nextval('public.s'::regclass)",
      'random()',
      '(1 + 2)',
      "'2025-01-01'::date",
    ];
    await withClient(target, db, async (c) => {
      await c.query(applySql('dbr_rules_ddl'));
      for (const from of types) {
        for (const to of types) {
          const { rows } = await c.query<{ w: boolean }>('SELECT dbr_rules_ddl.is_widening($1, $2) AS w', [from, to]);
          expect(rows[0]!.w, `${from} -> ${to}`).toBe(isWidening(from, to));
        }
      }
      for (const d of defaults) {
        const { rows } = await c.query<{ k: boolean }>('SELECT dbr_rules_ddl.is_constant_default($1) AS k', [d]);
        expect(rows[0]!.k, String(d)).toBe(isConstantDefault(d));
      }
    });
  }, 60_000);
});
