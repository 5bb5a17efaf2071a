import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../catalog/ident.ts';
import { keyColumnExpression, planKeyRanges, rangeCondition, type KeyRange } from './chunks.ts';
import { rowHashExpression, summarizeRange, type ChunkSummary, type RowHashMethod } from './canonical.ts';

export type DiffKind = 'missing on target' | 'extra on target' | 'different';

export interface RowDiff {
  kind: DiffKind;
  /** The primary key as column -> text value. */
  key: Record<string, string>;
}

/** What to compare for one table on both sides. */
export interface TableToVerify {
  schema: string;
  name: string;
  /** Columns present on both sides, compared by name. */
  columns: string[];
  primaryKey: { name: string; type: string }[];
  /** Time window or table filter recorded by init, so only the copied rows are compared. */
  where: string | null;
  hashMethod: RowHashMethod;
}

export interface Sides {
  source: pg.Client;
  target: pg.Client;
}

/** Below this many rows in a mismatching range, rows are compared one by one instead of splitting further. */
const ROW_COMPARE_LIMIT = 2000;

function combine(...conditions: (string | null)[]): string | null {
  const parts = conditions.filter((c): c is string => Boolean(c));
  return parts.length ? parts.map((p) => `(${p})`).join(' AND ') : null;
}

export function sameSummary(a: ChunkSummary, b: ChunkSummary): boolean {
  return a.rows === b.rows && a.hashSum === b.hashSum;
}

export async function summarizeBoth(
  sides: Sides,
  table: TableToVerify,
  range: KeyRange | null,
): Promise<[ChunkSummary, ChunkSummary]> {
  const cond =
    range && table.primaryKey.length
      ? rangeCondition(table.primaryKey[0]!.name, table.primaryKey[0]!.type, range, 1)
      : { sql: '', params: [] };
  const where = combine(table.where, cond.sql || null);
  return Promise.all([
    summarizeRange(sides.source, table.schema, table.name, table.columns, table.hashMethod, where, cond.params),
    summarizeRange(sides.target, table.schema, table.name, table.columns, table.hashMethod, where, cond.params),
  ]);
}

export async function chunkRanges(
  sides: Sides,
  table: TableToVerify,
  rowsPerChunk: number,
  estimatedRows: number,
): Promise<KeyRange[]> {
  if (!table.primaryKey.length) return [{ lower: null, upper: null }];
  if (estimatedRows <= 0) {
    // Never analyzed (reltuples unknown): count once rather than compare a big table as one range.
    const { rows } = await sides.source.query<{ n: string }>(
      `SELECT count(*) AS n FROM ONLY ${qualifiedName(table.schema, table.name)}`,
    );
    estimatedRows = Number(rows[0]!.n);
  }
  const chunks = Math.min(200, Math.max(1, Math.ceil(estimatedRows / rowsPerChunk)));
  return planKeyRanges(
    sides.source,
    table.schema,
    table.name,
    table.primaryKey[0]!.name,
    table.primaryKey[0]!.type,
    chunks,
  );
}

/** Row-level comparison of a small range: keys and row hashes from both sides, merged in key order. */
async function compareRows(sides: Sides, table: TableToVerify, range: KeyRange): Promise<RowDiff[]> {
  const first = table.primaryKey[0]!;
  const cond = rangeCondition(first.name, first.type, range, 1);
  const where = combine(table.where, cond.sql || null);
  const keyJson = `json_build_object(${table.primaryKey.map((k) => `'${k.name.replace(/'/g, "''")}', ${quoteIdent(k.name)}::text`).join(', ')})::text`;
  const sql = `SELECT ${keyJson} AS k, ${rowHashExpression(table.columns, table.hashMethod)}::text AS h FROM ONLY ${qualifiedName(table.schema, table.name)}${where ? ` WHERE ${where}` : ''}`;
  const [s, t] = await Promise.all([
    sides.source.query<{ k: string; h: string }>(sql, cond.params),
    sides.target.query<{ k: string; h: string }>(sql, cond.params),
  ]);
  const source = new Map(s.rows.map((r) => [r.k, r.h]));
  const target = new Map(t.rows.map((r) => [r.k, r.h]));
  const diffs: RowDiff[] = [];
  for (const [k, h] of source) {
    if (!target.has(k)) diffs.push({ kind: 'missing on target', key: JSON.parse(k) as Record<string, string> });
    else if (target.get(k) !== h) diffs.push({ kind: 'different', key: JSON.parse(k) as Record<string, string> });
  }
  for (const k of target.keys())
    if (!source.has(k)) diffs.push({ kind: 'extra on target', key: JSON.parse(k) as Record<string, string> });
  return diffs;
}

/** The key value in the middle of a range (on whichever side has rows), to split it in two. */
async function middleKey(sides: Sides, table: TableToVerify, range: KeyRange, rows: number): Promise<string | null> {
  const first = table.primaryKey[0]!;
  const cond = rangeCondition(first.name, first.type, range, 1);
  const where = combine(table.where, cond.sql || null);
  const key = keyColumnExpression(first.name, first.type);
  const { rows: r } = await sides.source.query<{ k: string }>(
    `SELECT ${quoteIdent(first.name)}::text AS k FROM ONLY ${qualifiedName(table.schema, table.name)}${where ? ` WHERE ${where}` : ''} ORDER BY ${key} OFFSET ${Math.floor(rows / 2)} LIMIT 1`,
    cond.params,
  );
  return r[0]?.k ?? null;
}

/**
 * Narrows a mismatching range down to rows: split at the middle key while the range is big, then
 * compare keys and row hashes. Ranges that match on both sides are dropped on the way.
 */
export async function bisect(
  sides: Sides,
  table: TableToVerify,
  range: KeyRange,
  maxDiffs: number,
): Promise<RowDiff[]> {
  const [s, t] = await summarizeBoth(sides, table, range);
  if (sameSummary(s, t)) return [];
  const rows = Math.max(s.rows, t.rows);
  if (rows <= ROW_COMPARE_LIMIT) return compareRows(sides, table, range);
  const middle = await middleKey(sides, table, range, s.rows > 0 ? s.rows : t.rows);
  if (middle === null || middle === range.lower) return compareRows(sides, table, range);
  const left = await bisect(sides, table, { lower: range.lower, upper: middle }, maxDiffs);
  if (left.length >= maxDiffs) return left;
  return [...left, ...(await bisect(sides, table, { lower: middle, upper: range.upper }, maxDiffs - left.length))];
}
