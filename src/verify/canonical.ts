import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../catalog/ident.ts';

/**
 * The same text for the same value on both servers: time zone, date and interval styles, float
 * digits and bytea format are fixed for verify sessions, whatever the servers' defaults are.
 */
export const CANONICAL_SETTINGS = [
  "SET TimeZone = 'UTC'",
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'postgres'",
  'SET extra_float_digits = 3',
  "SET bytea_output = 'hex'",
];

export async function useCanonicalSession(client: pg.Client): Promise<void> {
  for (const statement of CANONICAL_SETTINGS) await client.query(statement);
  // Reads for verification must never write, and should not hold locks for long.
  await client.query('SET default_transaction_read_only = on');
}

/**
 * How a row becomes a 64-bit hash. 'record' uses each column type's own hash function
 * (hash_record_extended, PostgreSQL 14+): about three times faster, as no value is turned into text.
 * 'text' hashes ROW(...)::text and works for every type, json included (no hash or equality
 * function needed), and tells NULL from ''. Both sides must use the same method, and 'record' only
 * between equal majors.
 */
export type RowHashMethod = 'record' | 'text';

/** Columns are matched by name (sorted), so column order does not matter. */
export function rowHashExpression(columns: string[], method: RowHashMethod = 'text'): string {
  const row = `ROW(${[...columns].sort().map(quoteIdent).join(', ')})`;
  return method === 'record' ? `hash_record_extended(${row}, 0)` : `hashtextextended(${row}::text, 0)`;
}

/**
 * Picks 'record' between equal majors (14+) when every column is a built-in base type (or an array or
 * domain of one) whose hash depends on the value alone: enums hash their OIDs, which differ between
 * databases, and extension types such as citext fold case. Anything else is compared as text.
 */
export async function chooseRowHashMethod(
  client: pg.Client,
  schema: string,
  table: string,
  columns: string[],
  sameMajorAtLeast14: boolean,
): Promise<RowHashMethod> {
  if (!sameMajorAtLeast14) return 'text';
  const { rows } = await client.query<{ ok: boolean }>(
    `SELECT bool_and(bt.typtype = 'b' AND btn.nspname = 'pg_catalog' AND bt.typname NOT IN ('oid', 'xid', 'cid', 'tid') AND bt.typname NOT LIKE 'reg%') AS ok
       FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
       JOIN pg_type bt ON bt.oid = CASE WHEN coalesce(e.oid, t.oid) = t.oid AND t.typtype = 'd' THEN t.typbasetype ELSE coalesce(e.oid, t.oid) END
       JOIN pg_namespace btn ON btn.oid = bt.typnamespace
      WHERE a.attrelid = $1::regclass AND a.attname = ANY ($2)`,
    [qualifiedName(schema, table), columns],
  );
  if (!rows[0]?.ok) return 'text';
  try {
    await client.query(
      `SELECT ${rowHashExpression(columns, 'record')} FROM ONLY ${qualifiedName(schema, table)} LIMIT 1`,
    );
    return 'record';
  } catch {
    return 'text';
  }
}

export interface ChunkSummary {
  rows: number;
  /** Sum of the row hashes as a decimal string (numeric on the server, so no overflow). */
  hashSum: string;
}

export async function summarizeRange(
  client: pg.Client,
  schema: string,
  table: string,
  columns: string[],
  method: RowHashMethod,
  where: string | null,
  params: unknown[] = [],
): Promise<ChunkSummary> {
  // sum(bigint) accumulates in 128 bits and returns numeric: no overflow, no per-row cast.
  const { rows } = await client.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, coalesce(sum(${rowHashExpression(columns, method)}), 0)::text AS h FROM ONLY ${qualifiedName(schema, table)}${where ? ` WHERE ${where}` : ''}`,
    params,
  );
  return { rows: Number(rows[0]!.n), hashSum: rows[0]!.h };
}
