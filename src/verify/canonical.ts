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
 * A 64-bit hash of a row's text, columns matched by name (sorted), so column order does not matter.
 * ROW(...)::text keeps NULL and '' apart and works for every type, json included, because no
 * equality operator is needed.
 */
export function rowHashExpression(columns: string[]): string {
  const sorted = [...columns].sort();
  return `hashtextextended(ROW(${sorted.map(quoteIdent).join(', ')})::text, 0)`;
}

export interface ChunkSummary {
  rows: number;
  /** Sum of the row hashes as a decimal string (numeric on the server, so no overflow). */
  hashSum: string;
}

export async function summarizeRange(client: pg.Client, schema: string, table: string, columns: string[], where: string | null, params: unknown[] = []): Promise<ChunkSummary> {
  const { rows } = await client.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, coalesce(sum(${rowHashExpression(columns)}::numeric), 0)::text AS h FROM ONLY ${qualifiedName(schema, table)}${where ? ` WHERE ${where}` : ''}`,
    params,
  );
  return { rows: Number(rows[0]!.n), hashSum: rows[0]!.h };
}
