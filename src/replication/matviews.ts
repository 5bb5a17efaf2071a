import type pg from 'pg';
import { qualifiedName } from '../catalog/ident.ts';

/** A materialized view and the materialized views its query reads, directly or through plain views. */
export interface MatviewDependencies {
  schema: string;
  name: string;
  readsFrom: string[];
}

const key = (m: { schema: string; name: string }) => `${m.schema}.${m.name}`;

/**
 * Reads every user materialized view with the ones it depends on. A view's query is stored as a
 * rewrite rule whose pg_depend rows name the relations it reads; plain views are followed through.
 */
export async function readMatviewDependencies(
  client: pg.Client,
  options: { populatedOnly: boolean },
): Promise<MatviewDependencies[]> {
  const { rows } = await client.query<{ schema: string; name: string; reads_from: string[] }>(
    `
    WITH RECURSIVE reads(matview, rel) AS (
      SELECT r.ev_class, d.refobjid FROM pg_rewrite r
        JOIN pg_class m ON m.oid = r.ev_class AND m.relkind = 'm'
        JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
       WHERE d.refobjid <> r.ev_class
      UNION
      SELECT reads.matview, d.refobjid FROM reads
        JOIN pg_class v ON v.oid = reads.rel AND v.relkind = 'v'
        JOIN pg_rewrite r ON r.ev_class = v.oid
        JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
       WHERE d.refobjid <> v.oid
    )
    SELECT n.nspname AS schema, m.relname AS name,
           ARRAY(SELECT DISTINCT dn.nspname || '.' || dc.relname FROM reads JOIN pg_class dc ON dc.oid = reads.rel AND dc.relkind = 'm'
                   JOIN pg_namespace dn ON dn.oid = dc.relnamespace WHERE reads.matview = m.oid) AS reads_from
      FROM pg_class m JOIN pg_namespace n ON n.oid = m.relnamespace
     WHERE m.relkind = 'm' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND (m.relispopulated OR NOT $1)
     ORDER BY 1, 2`,
    [options.populatedOnly],
  );
  return rows.map((r) => ({ schema: r.schema, name: r.name, readsFrom: r.reads_from }));
}

/**
 * Orders materialized views so each comes after those it reads (refreshing one before its inputs would
 * leave it stale). Dependencies outside the list are ignored; a cycle cannot exist in PostgreSQL.
 */
export function refreshOrder<T extends MatviewDependencies>(matviews: T[]): T[] {
  const byKey = new Map(matviews.map((m) => [key(m), m]));
  const done = new Set<string>();
  const out: T[] = [];
  const visit = (m: T) => {
    if (done.has(key(m))) return;
    done.add(key(m));
    for (const dependency of m.readsFrom) {
      const d = byKey.get(dependency);
      if (d) visit(d);
    }
    out.push(m);
  };
  for (const m of matviews) visit(m);
  return out;
}

/**
 * Refreshes on the target the materialized views that are populated on the source, inputs first;
 * one left unpopulated on the source (WITH NO DATA) stays so on the target.
 */
export async function refreshMatviews(source: pg.Client, target: pg.Client): Promise<string[]> {
  const populated = new Set((await readMatviewDependencies(source, { populatedOnly: true })).map(key));
  const ordered = refreshOrder(await readMatviewDependencies(target, { populatedOnly: false })).filter((m) =>
    populated.has(key(m)),
  );
  for (const m of ordered) await target.query(`REFRESH MATERIALIZED VIEW ${qualifiedName(m.schema, m.name)}`);
  return ordered.map(key);
}
