import type pg from 'pg';
import { chooseRowHashMethod, summarizeRange } from './canonical.ts';
import { sameSummary, type Sides } from './table.ts';

/**
 * 'unconfirmed': differs while replication streams. Logical replication does not carry materialized
 * views, so the target's keeps what init (or the last refresh there) put in it while the source's is
 * refreshed by its application: a difference then is expected, and cutover refreshes the target's.
 */
export type MatviewStatus = 'ok' | 'different' | 'unconfirmed';

export interface MatviewResult {
  database: string;
  matview: string;
  status: MatviewStatus;
  /** Rows on the source; null when it is not populated there. */
  rows: number | null;
  note?: string;
}

export interface MatviewOnOneSide {
  schema: string;
  name: string;
  populated: boolean;
  columns: string[];
}

const key = (m: { schema: string; name: string }) => `${m.schema}.${m.name}`;

/** Every user materialized view, with whether it holds data and its columns. */
export async function readMatviews(client: pg.Client): Promise<Map<string, MatviewOnOneSide>> {
  const { rows } = await client.query<MatviewOnOneSide>(`
    SELECT n.nspname AS schema, c.relname AS name, c.relispopulated AS populated,
           ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'm' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
     ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`);
  return new Map(rows.map((m) => [key(m), m]));
}

export interface MatviewCompareOptions {
  database: string;
  /** Both servers of the same major, 14 or later: row hashes may use the types' own hash functions. */
  sameMajorAtLeast14: boolean;
  /** The job's subscription streams: the source's views may have been refreshed since init. */
  streaming: boolean;
}

const STALE =
  "materialized views are not replicated, and the source's may have been refreshed since init: cutover refreshes the target's (or run REFRESH MATERIALIZED VIEW there)";

/**
 * Compares one materialized view as a table without a key: row count and the sum of the row hashes,
 * on both sides. One that is populated on neither side is equal; one populated on one side only is not.
 */
export async function compareMatview(
  sides: Sides,
  source: MatviewOnOneSide,
  target: MatviewOnOneSide | undefined,
  options: MatviewCompareOptions,
): Promise<MatviewResult> {
  const base = { database: options.database, matview: key(source), rows: null };
  // A difference that a refresh of the target's view would settle is not proof of a broken copy while the source moves on.
  const differs = (note: string): MatviewResult =>
    options.streaming
      ? { ...base, status: 'unconfirmed', note: `${note}; ${STALE}` }
      : { ...base, status: 'different', note };
  if (!target) return { ...base, status: 'different', note: 'missing on the target' };
  if (!source.populated && !target.populated) return { ...base, status: 'ok', note: 'populated on neither side' };
  if (!source.populated) return { ...base, status: 'different', note: 'populated on the target but not on the source' };
  if (!target.populated) return differs('not populated on the target');
  const columns = source.columns.filter((c) => target.columns.includes(c));
  if (columns.length !== source.columns.length || columns.length !== target.columns.length)
    return { ...base, status: 'different', note: 'the columns differ' };
  const method = await chooseRowHashMethod(
    sides.source,
    source.schema,
    source.name,
    columns,
    options.sameMajorAtLeast14,
  );
  const [s, t] = await Promise.all([
    summarizeRange(sides.source, source.schema, source.name, columns, method, null),
    summarizeRange(sides.target, source.schema, source.name, columns, method, null),
  ]);
  if (sameSummary(s, t)) return { ...base, status: 'ok', rows: s.rows };
  return {
    ...differs(
      s.rows === t.rows
        ? `the rows differ (${s.rows} on both sides)`
        : `${s.rows} row(s) on the source, ${t.rows} on the target`,
    ),
    rows: s.rows,
  };
}
