import { MAX_RECORDED_TABLE_COPIES, type TableCopy } from '../jobs/types.ts';
import type { CopyResult, CopyTask } from './copy.ts';

/** Where a copy stands, for init's onProgress (the CLI's bars, the job record, the task's metrics). */
export interface CopyProgress {
  database: string;
  bytesDone: number;
  bytesTotal: number;
  tablesDone: number;
  tablesTotal: number;
  rowsDone: number;
  /** The table just finished, if this event is for one. */
  finished?: { table: string; rows: number; bytes: number; seconds: number };
  /** The tables in flight (largest first) and the last finished, as of at most a second ago. */
  copying?: TableCopy[];
}

/** Tables in flight kept in a snapshot (the largest), and finished ones after them (the latest). */
export const MAX_IN_FLIGHT = 20;
export const MAX_RECENT = MAX_RECORDED_TABLE_COPIES - MAX_IN_FLIGHT;

interface Counter {
  table: string;
  rows: number;
  bytesDone: number;
  bytesExpected: number;
  startedAt: number;
  rangesLeft: number;
}

/**
 * The copy's tables in flight, for `status --watch`: counters bumped on every read (cheap), and a
 * bounded list of them rebuilt at most every `everyMs`, so recording the list never costs the copy
 * more than a sort of a few entries a second. A split table is one entry over all its ranges.
 */
export class TableCopies {
  readonly #counters = new Map<string, Counter>();
  /** Started and not finished: at most one entry per worker, so the list is cheap to rebuild. */
  readonly #flying = new Map<string, Counter>();
  /** What the reads of each range in flight counted, replaced by its exact counts when it commits. */
  readonly #ranges = new Map<string, { rows: number; bytes: number }>();
  readonly #recent: TableCopy[] = [];
  readonly #everyMs: number;
  readonly #now: () => number;
  #snapshot: TableCopy[] = [];
  #builtAt = -Infinity;

  constructor(tasks: CopyTask[], options: { everyMs?: number; now?: () => number } = {}) {
    this.#everyMs = options.everyMs ?? 1000;
    this.#now = options.now ?? Date.now;
    for (const t of tasks) {
      const key = `${t.table.schema}.${t.table.name}`;
      const c = this.#counters.get(key);
      if (c) c.rangesLeft++;
      else
        this.#counters.set(key, {
          table: key,
          rows: 0,
          bytesDone: 0,
          bytesExpected: t.table.bytes,
          startedAt: 0,
          rangesLeft: 1,
        });
    }
  }

  started(task: CopyTask): void {
    const c = this.#counters.get(`${task.table.schema}.${task.table.name}`);
    if (c && !c.startedAt) c.startedAt = this.#now();
    if (c) this.#flying.set(c.table, c);
    this.#ranges.set(task.key, { rows: 0, bytes: 0 });
  }

  read(task: CopyTask, bytes: number, rows: number): void {
    const c = this.#counters.get(`${task.table.schema}.${task.table.name}`);
    if (!c) return;
    c.bytesDone += bytes;
    c.rows += rows;
    const r = this.#ranges.get(task.key);
    if (r) {
      r.bytes += bytes;
      r.rows += rows;
    }
  }

  /** A range committed with its exact counts; the table leaves the flight when its last range has. */
  done(task: CopyTask, result: { rows: number; bytes: number }): void {
    const c = this.#counters.get(`${task.table.schema}.${task.table.name}`);
    if (!c) return;
    const counted = this.#ranges.get(task.key) ?? { rows: 0, bytes: 0 };
    this.#ranges.delete(task.key);
    c.rows += result.rows - counted.rows;
    c.bytesDone += result.bytes - counted.bytes;
    if (--c.rangesLeft > 0) return;
    this.#counters.delete(c.table);
    this.#flying.delete(c.table);
    this.#recent.push({ ...this.#entry(c), seconds: Math.max(0, (this.#now() - (c.startedAt || this.#now())) / 1000) });
    if (this.#recent.length > MAX_RECENT) this.#recent.shift();
    this.#builtAt = -Infinity;
  }

  /** The bounded list as of at most `everyMs` ago: largest in flight first, then the last finished. */
  list(): TableCopy[] {
    const now = this.#now();
    if (now - this.#builtAt < this.#everyMs) return this.#snapshot;
    this.#builtAt = now;
    const flying = [...this.#flying.values()].sort((a, b) => b.bytesExpected - a.bytesExpected).slice(0, MAX_IN_FLIGHT);
    this.#snapshot = [...flying.map((c) => this.#entry(c)), ...this.#recent];
    return this.#snapshot;
  }

  #entry(c: Counter): TableCopy {
    return {
      table: c.table,
      rows: c.rows,
      bytesDone: c.bytesDone,
      bytesExpected: c.bytesExpected,
      startedAt: new Date(c.startedAt || this.#now()).toISOString(),
    };
  }
}

/**
 * The copy's progress events: tables, rows and bytes committed so far (a split table counts once all
 * its ranges are in), bytes as they stream, and the tables in flight. A resume starts it with what
 * the stopped run had committed, so its bars and totals go on from there.
 */
export class CopyProgressTracker {
  readonly #progress: CopyProgress;
  readonly #tables: TableCopies;
  readonly #rangesLeft = new Map<string, number>();
  readonly #sums = new Map<string, { rows: number; bytes: number; seconds: number }>();
  readonly #emit: (progress: CopyProgress) => void;

  constructor(
    database: string,
    tasks: CopyTask[],
    emit: ((progress: CopyProgress) => void) | undefined,
    committed: { tables: number; rows: number; bytes: number } = { tables: 0, rows: 0, bytes: 0 },
  ) {
    for (const t of tasks) {
      const key = `${t.table.schema}.${t.table.name}`;
      this.#rangesLeft.set(key, (this.#rangesLeft.get(key) ?? 0) + 1);
    }
    this.#progress = {
      database,
      bytesDone: committed.bytes,
      bytesTotal: committed.bytes + tasks.reduce((n, t) => n + t.bytes, 0),
      tablesDone: committed.tables,
      tablesTotal: committed.tables + this.#rangesLeft.size,
      rowsDone: committed.rows,
    };
    this.#tables = new TableCopies(tasks);
    this.#emit = emit ?? (() => undefined);
  }

  started(task: CopyTask): void {
    this.#tables.started(task);
  }

  read(task: CopyTask, bytes: number, rows: number): void {
    this.#progress.bytesDone += bytes;
    this.#tables.read(task, bytes, rows);
    this.#emit({ ...this.#progress, finished: undefined, copying: this.#tables.list() });
  }

  /**
   * A range committed: the table's sums once its last range is in, else undefined. Nothing is told
   * until `announce`: the caller records the range first, so what a reader sees is never ahead of it.
   */
  done(task: CopyTask, result: CopyResult): { rows: number; bytes: number; seconds: number } | undefined {
    const key = `${task.table.schema}.${task.table.name}`;
    const left = this.#rangesLeft.get(key)! - 1;
    this.#rangesLeft.set(key, left);
    const sum = this.#sums.get(key) ?? { rows: 0, bytes: 0, seconds: 0 };
    const total = {
      rows: sum.rows + result.rows,
      bytes: sum.bytes + result.bytes,
      seconds: sum.seconds + result.seconds,
    };
    this.#sums.set(key, total);
    this.#progress.rowsDone += result.rows;
    if (left === 0) this.#progress.tablesDone++;
    this.#tables.done(task, result);
    return left === 0 ? total : undefined;
  }

  /** Tells that the range `done` counted is recorded. */
  announce(task: CopyTask, result: CopyResult): void {
    this.#emit({ ...this.#progress, finished: { table: task.key, ...result }, copying: this.#tables.list() });
  }

  /** Every table's last range is in. */
  allDone(): boolean {
    return [...this.#rangesLeft.values()].every((n) => n === 0);
  }
}
