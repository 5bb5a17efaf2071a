import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../catalog/ident.ts';

/** A key range on the first primary-key column: [lower, upper), either end open when null. */
export interface KeyRange {
  lower: string | null;
  upper: string | null;
}

export function keyColumnExpression(column: string, type: string): string {
  // Text keys compare byte-wise on both sides, whatever each database's collation is.
  return /^(text|character|character varying|citext|name)\b/.test(type)
    ? `${quoteIdent(column)} COLLATE "C"`
    : quoteIdent(column);
}

export function rangeCondition(
  column: string,
  type: string,
  range: KeyRange,
  firstParam: number,
): { sql: string; params: string[] } {
  const key = keyColumnExpression(column, type);
  const cast = type.replace(/\(.*\)/, '');
  const parts: string[] = [];
  const params: string[] = [];
  if (range.lower !== null) {
    params.push(range.lower);
    parts.push(`${key} >= $${firstParam + params.length - 1}::${cast}`);
  }
  if (range.upper !== null) {
    params.push(range.upper);
    parts.push(`${key} < $${firstParam + params.length - 1}::${cast}`);
  }
  return { sql: parts.join(' AND '), params };
}

/**
 * Splits a table into about `chunks` key ranges of similar row counts, from the planner's histogram
 * of the first key column (fresh after init's ANALYZE); without one, from a sample of the keys.
 */
export async function planKeyRanges(
  client: pg.Client,
  schema: string,
  table: string,
  column: string,
  type: string,
  chunks: number,
): Promise<KeyRange[]> {
  if (chunks <= 1) return [{ lower: null, upper: null }];
  const key = keyColumnExpression(column, type);
  let bounds: string[];
  try {
    const { rows } = await client.query<{ b: string }>(
      `SELECT h.b::text AS b FROM (SELECT unnest(histogram_bounds::text::${type.replace(/\(.*\)/, '')}[]) AS b FROM pg_stats WHERE schemaname = $1 AND tablename = $2 AND attname = $3) h ORDER BY ${/COLLATE/.test(key) ? 'h.b COLLATE "C"' : 'h.b'}`,
      [schema, table, column],
    );
    bounds = rows.map((r) => String(r.b));
  } catch {
    bounds = [];
  }
  if (bounds.length < 2) {
    const { rows } = await client.query<{ b: string }>(
      `SELECT b::text AS b FROM (SELECT ${key} AS b FROM ${qualifiedName(schema, table)} TABLESAMPLE SYSTEM (1) LIMIT 10000) s ORDER BY s.b`,
    );
    bounds = rows.map((r) => r.b);
  }
  const unique = [...new Set(bounds)];
  if (unique.length < 2) return [{ lower: null, upper: null }];
  const step = Math.max(1, Math.floor(unique.length / chunks));
  const cuts: string[] = [];
  for (let i = step; i < unique.length; i += step) cuts.push(unique[i]!);
  const ranges: KeyRange[] = [];
  let lower: string | null = null;
  for (const cut of cuts) {
    ranges.push({ lower, upper: cut });
    lower = cut;
  }
  ranges.push({ lower, upper: null });
  return ranges;
}
