import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../catalog/ident.ts';
import type { TablePlan } from '../plan/plan.ts';
import { CopyInRelay, CopyOutRelay } from './copy-relay.ts';

/** One unit of copy work: a whole table, or one ctid page range of a big one. */
export interface CopyTask {
  key: string;
  table: TablePlan;
  /** Page range [fromPage, toPage) of a split table; toPage null = to the end. */
  pages?: { from: number; to: number | null };
  bytes: number;
}

export interface CopyResult {
  rows: number;
  bytes: number;
  seconds: number;
}

const PAGE_SIZE = 8192;

/**
 * Splits the plan into tasks, biggest first so the longest copy starts early; tables above
 * `splitBytes` become page ranges that several workers copy at once.
 */
export function copyTasks(tables: TablePlan[], splitBytes: number): CopyTask[] {
  const tasks: CopyTask[] = [];
  for (const table of tables.filter((t) => t.mode === 'data')) {
    const key = `${table.schema}.${table.name}`;
    if (splitBytes > 0 && table.bytes > splitBytes) {
      const pages = Math.ceil(table.bytes / PAGE_SIZE);
      const chunks = Math.ceil(table.bytes / splitBytes);
      const step = Math.ceil(pages / chunks);
      for (let i = 0; i < chunks; i++) {
        const last = i === chunks - 1;
        tasks.push({
          key: `${key}#${i}`,
          table,
          pages: { from: i * step, to: last ? null : (i + 1) * step },
          bytes: Math.min(splitBytes, table.bytes - i * step * PAGE_SIZE),
        });
      }
    } else {
      tasks.push({ key, table, bytes: table.bytes });
    }
  }
  return tasks.sort((a, b) => b.bytes - a.bytes);
}

/**
 * ` (a, b)` for COPY. A table with no column, or only generated ones, gets no list: COPY rejects an
 * empty one, and without a list it leaves generated columns out by itself (the rows still count).
 */
function columnList(table: TablePlan): string {
  return table.columns.length ? ` (${table.columns.map(quoteIdent).join(', ')})` : '';
}

function sourceQuery(task: CopyTask, binary: boolean): string {
  const { table } = task;
  const columns = table.columns.map(quoteIdent).join(', ');
  const conditions = [
    ...(table.where ? [table.where] : []),
    ...(task.pages
      ? [
          `ctid >= '(${task.pages.from},0)'::tid`,
          ...(task.pages.to !== null ? [`ctid < '(${task.pages.to},0)'::tid`] : []),
        ]
      : []),
  ];
  const format = binary ? ' WITH (FORMAT binary)' : '';
  // `SELECT FROM t` (no output column) is valid and yields one empty row per row.
  // COPY table (cols) is cheaper than COPY (SELECT ...), so keep it when nothing filters the rows.
  if (conditions.length === 0)
    return `COPY ${qualifiedName(table.schema, table.name)}${columnList(table)} TO STDOUT${format}`;
  return `COPY (SELECT ${columns} FROM ONLY ${qualifiedName(table.schema, table.name)} WHERE ${conditions.join(' AND ')}) TO STDOUT${format}`;
}

function targetQuery(task: CopyTask, binary: boolean, freeze: boolean): string {
  const options = [...(binary ? ['FORMAT binary'] : []), ...(freeze ? ['FREEZE'] : [])];
  return `COPY ${qualifiedName(task.table.schema, task.table.name)}${columnList(task.table)} FROM STDIN${options.length ? ` WITH (${options.join(', ')})` : ''}`;
}

/**
 * A whole table is emptied in the copy's own transaction so COPY can write frozen rows: the index
 * builds and ANALYZE that follow then read pages without setting hint bits (writing them again).
 * Without the right to TRUNCATE it falls back to a plain COPY.
 */
async function prepareFreeze(target: pg.Client, task: CopyTask): Promise<boolean> {
  if (task.pages) return false;
  await target.query('SAVEPOINT before_truncate');
  try {
    await target.query(`TRUNCATE ONLY ${qualifiedName(task.table.schema, task.table.name)}`);
    return true;
  } catch {
    await target.query('ROLLBACK TO SAVEPOINT before_truncate');
    return false;
  }
}

/**
 * Streams one task from a source session (already inside the exported snapshot) into the target in
 * its own transaction, so a copy cut short never leaves committed half data behind.
 */
export async function copyTask(
  source: pg.Client,
  target: pg.Client,
  task: CopyTask,
  binary: boolean,
  onBytes?: (n: number, rows: number) => void,
): Promise<CopyResult> {
  const started = performance.now();
  await target.query('BEGIN');
  try {
    const freeze = await prepareFreeze(target, task);
    const reader = source.query(new CopyOutRelay(sourceQuery(task, binary), onBytes));
    const writer = target.query(new CopyInRelay(targetQuery(task, binary, freeze)));
    await pipeline(reader, writer);
    await target.query('COMMIT');
    return {
      rows: Number(writer.rowCount ?? 0),
      bytes: reader.payloadBytes,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (error) {
    await target.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
