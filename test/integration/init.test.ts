import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseConnectionUrl } from '../../src/connection/url.ts';
import { createSubscriptionAtSlot, subscriptionConninfo } from '../../src/replication/subscription.ts';
import { clusterUrl } from '../support/cluster.ts';
import { endpoints, runCli } from '../support/cli.ts';
import { dropReplicationObjects, fingerprintTables, replicationObjectsOnSource, schemaObjects } from '../support/compare.ts';
import { connectAs, createTestDatabase, edgeCasesSql, runPsqlFile, withClient } from '../support/db.ts';

interface InitJson {
  ok: boolean;
  jobId: string;
  databases: { source: string; target: string; slot: string | null; publication: string | null; consistentPoint: string | null; tables: number; rows: number }[];
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
  return runCli(['init', '--yes', '--json', '--state-dir', stateDir(), ...args], endpoints(clusterUrl(source, db), clusterUrl(target, targetDb)));
}

async function expectSameData(db: string, targetDb = db): Promise<Map<string, { rows: number }>> {
  const [s, t] = await Promise.all([fingerprintTables(source, db), fingerprintTables(target, targetDb)]);
  expect([...t.keys()]).toEqual([...s.keys()]);
  for (const [name, fp] of s) expect(t.get(name), name).toEqual(fp);
  return s;
}

describe('init on the edge-case database', () => {
  it('copies every table exactly, with schema objects, sequences and large objects, and leaves the slot for sync', async () => {
    const db = await sourceDatabase('init_edge');
    await runPsqlFile(source, db, edgeCasesSql());
    const run = await init(db);
    expect(run.exitCode, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as InitJson;
    expect(report.ok).toBe(true);

    const tables = await expectSameData(db);
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

    // The slot and publication stay for sync; the publication lists the partitioned root, not the unlogged table.
    const [{ slot, publication, consistentPoint }] = report.databases as [InitJson['databases'][number]];
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [slot], publications: [publication] });
    expect(consistentPoint).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    const published = await withClient(source, db, async (c) => (await c.query<{ t: string }>('SELECT schemaname || \'.\' || tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1', [publication])).rows.map((r) => r.t));
    expect(published).toEqual(['Reporting Dept.Daily Totals', 'sales.categories', 'sales.customers', 'sales.events_nopk', 'sales.orders']);
  });
});

describe('init under concurrent writes', () => {
  it('copies exactly the snapshot at the slot, and a subscription on that slot converges without loss or duplicates', async () => {
    const db = await sourceDatabase('init_live', `
      CREATE TABLE events (id bigserial PRIMARY KEY, note text NOT NULL);
      CREATE TABLE totals (k int PRIMARY KEY, n bigint NOT NULL);
      CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL);
      INSERT INTO totals VALUES (1, 0);
      INSERT INTO items SELECT i, 0 FROM generate_series(1, 2000) i;
      INSERT INTO events (note) SELECT 'seed ' || i FROM generate_series(1, 50000) i;
      UPDATE totals SET n = 50000;`);
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
        const { rows } = await c.query<{ events: string; total: string }>('SELECT (SELECT count(*) FROM events) AS events, (SELECT n FROM totals) AS total');
        return rows[0]!;
      });
      // The copy is one consistent snapshot across tables copied by different workers ...
      expect(copied.events).toBe(copied.total);
      // ... and it excludes what was committed after it while the writer went on.
      const sourceNow = await withClient(source, db, async (c) => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]!.n));
      expect(Number(copied.events)).toBeLessThan(sourceNow);

      // Hand off on the slot at its consistent point (what sync does): the target must converge exactly.
      const [{ slot, publication, consistentPoint }] = report.databases as [InitJson['databases'][number]];
      await withClient(target, db, (c) =>
        createSubscriptionAtSlot(c, { name: slot!, conninfo: subscriptionConninfo(parseConnectionUrl(clusterUrl(source, db)), { allowSelfSignedCerts: false }), publication: publication!, slot: slot!, consistentPoint: consistentPoint!, binary: true }),
      );
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      writing = false;
      await load;
      await writer.end();
    }
    const lsn = await withClient(source, db, async (c) => (await c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn);
    await withClient(target, db, async (c) => {
      for (let i = 0; i < 240; i++) {
        const { rows } = await c.query<{ ok: boolean }>('SELECT latest_end_lsn >= $1::pg_lsn AS ok FROM pg_stat_subscription WHERE relid IS NULL', [lsn]);
        if (rows[0]?.ok) break;
        await new Promise((r) => setTimeout(r, 250));
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    await expectSameData(db);
    expect(written).toBeGreaterThan(10);
  });
});
