import { expect } from 'vitest';
import type { ClusterInfo } from '../../scripts/support/cluster.ts';
import { withClient, SUBSCRIPTIONS_OF_THIS_DATABASE } from './db.ts';
import { committedWalEnd } from '../../src/catalog/wal.ts';

export interface TableFingerprint {
  rows: number;
  /** md5 over the rows' text, sorted: equal fingerprints mean equal multisets of rows. */
  digest: string;
}

/**
 * Fingerprints every user table (leaf partitions and unlogged tables included) independently of the
 * product's verify: count and an md5 over the sorted row texts.
 */
/** Row count and digest of every table and populated materialized view (an unpopulated one cannot be read). */
export async function fingerprintTables(
  cluster: ClusterInfo,
  database: string,
): Promise<Map<string, TableFingerprint>> {
  return withClient(cluster, database, async (client) => {
    await client.query("SET TimeZone = 'UTC'; SET extra_float_digits = 3");
    const { rows: tables } = await client.query<{ schema: string; name: string }>(`
      SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE (c.relkind = 'r' OR c.relkind = 'm' AND c.relispopulated) AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
       ORDER BY 1, 2`);
    const out = new Map<string, TableFingerprint>();
    for (const t of tables) {
      const q = `"${t.schema.replace(/"/g, '""')}"."${t.name.replace(/"/g, '""')}"`;
      const { rows } = await client.query<{ n: string; digest: string | null }>(
        `SELECT count(*) AS n, md5(string_agg(r::text, E'\\n' ORDER BY r::text)) AS digest FROM ${q} r`,
      );
      out.set(`${t.schema}.${t.name}`, { rows: Number(rows[0]!.n), digest: rows[0]!.digest ?? '' });
    }
    return out;
  });
}

/**
 * Asserts that the target database holds exactly the source's tables and populated materialized views, row
 * for row (one assertion per table, so a failure names it), and returns the source's fingerprints.
 */
export async function expectSameTables(
  source: ClusterInfo,
  target: ClusterInfo,
  database: string,
  targetDb = database,
): Promise<Map<string, TableFingerprint>> {
  const [s, t] = await Promise.all([fingerprintTables(source, database), fingerprintTables(target, targetDb)]);
  expect([...t.keys()]).toEqual([...s.keys()]);
  for (const [name, fp] of s) expect(t.get(name), name).toEqual(fp);
  return s;
}

/** Names of the schema objects a copy must carry, per kind, for comparing both sides. */
export async function schemaObjects(cluster: ClusterInfo, database: string): Promise<Record<string, string[]>> {
  return withClient(cluster, database, async (client) => {
    const q = async (sql: string) => (await client.query<{ x: string }>(sql)).rows.map((r) => r.x);
    const user = `NOT IN ('pg_catalog', 'information_schema')`;
    return {
      indexes: await q(
        `SELECT schemaname || '.' || indexname AS x FROM pg_indexes WHERE schemaname ${user} ORDER BY 1`,
      ),
      constraints: await q(
        `SELECT n.nspname || '.' || c.conname || ':' || c.contype::text AS x FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname ${user} ORDER BY 1`,
      ),
      views: await q(`SELECT schemaname || '.' || viewname AS x FROM pg_views WHERE schemaname ${user} ORDER BY 1`),
      matviews: await q(
        `SELECT schemaname || '.' || matviewname || ':' || ispopulated AS x FROM pg_matviews ORDER BY 1`,
      ),
      functions: await q(
        `SELECT n.nspname || '.' || p.proname AS x FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname ${user} ORDER BY 1`,
      ),
      triggers: await q(
        `SELECT tgrelid::regclass || '.' || tgname AS x FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`,
      ),
      sequences: await q(
        `SELECT schemaname || '.' || sequencename || '=' || coalesce(last_value::text, 'null') AS x FROM pg_sequences ORDER BY 1`,
      ),
      types: await q(
        `SELECT n.nspname || '.' || t.typname AS x FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname ${user} AND t.typtype IN ('e', 'd', 'c') AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c') ORDER BY 1`,
      ),
      extensions: await q(`SELECT extname AS x FROM pg_extension ORDER BY 1`),
      largeObjects: await q(`SELECT oid::text || ':' || md5(lo_get(oid)) AS x FROM pg_largeobject_metadata ORDER BY 1`),
    };
  });
}

/** Drops what init left for a database (subscriptions on the target, slots and publications on the source). */
export async function dropReplicationObjects(
  source: ClusterInfo,
  target: ClusterInfo,
  sourceDb: string,
  targetDb = sourceDb,
): Promise<void> {
  await withClient(target, 'postgres', async (c) => {
    const { rows } = await c.query<{ exists: boolean }>('SELECT true AS exists FROM pg_database WHERE datname = $1', [
      targetDb,
    ]);
    if (!rows.length) return;
    await withClient(target, targetDb, async (t) => {
      const subs = await t.query<{ subname: string }>(
        'SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())',
      );
      for (const { subname } of subs.rows) {
        await t.query(`ALTER SUBSCRIPTION "${subname}" DISABLE`);
        await t.query(`ALTER SUBSCRIPTION "${subname}" SET (slot_name = NONE)`);
        await t.query(`DROP SUBSCRIPTION "${subname}"`);
      }
    });
  });
  await withClient(source, 'postgres', async (c) => {
    await c.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active`, [
      sourceDb,
    ]);
    await new Promise((r) => setTimeout(r, 200));
    await c.query(
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`,
      [sourceDb],
    );
  });
}

export async function replicationObjectsOnSource(
  source: ClusterInfo,
  database: string,
): Promise<{ slots: string[]; publications: string[] }> {
  const slots = await withClient(source, 'postgres', async (c) =>
    (
      await c.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots WHERE database = $1', [database])
    ).rows.map((r) => r.slot_name),
  );
  const publications = await withClient(source, database, async (c) =>
    (await c.query<{ pubname: string }>('SELECT pubname FROM pg_publication')).rows.map((r) => r.pubname),
  );
  return { slots, publications };
}

/** Waits until the target's subscription has applied everything the source had written when called. */
export async function waitForSubscriptionCatchUp(
  source: ClusterInfo,
  target: ClusterInfo,
  database: string,
  targetDb = database,
): Promise<void> {
  const lsn = await withClient(source, database, async (c) => committedWalEnd(c));
  await withClient(target, targetDb, async (c) => {
    for (let i = 0; i < 240; i++) {
      const { rows } = await c.query<{ ok: boolean }>(
        `SELECT bool_and(latest_end_lsn >= $1::pg_lsn) AS ok FROM pg_stat_subscription WHERE relid IS NULL AND ${SUBSCRIPTIONS_OF_THIS_DATABASE}`,
        [lsn],
      );
      if (rows[0]?.ok) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`the subscription on ${targetDb} did not catch up with ${lsn} within 60 s`);
  });
  // latest_end_lsn is what the worker reported; give the last transaction a moment to be visible.
  await new Promise((r) => setTimeout(r, 500));
}
