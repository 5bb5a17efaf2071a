import { MAX_RECORDED_TABLE_COPIES, type TableCopy } from '../jobs/types.ts';
import type { CopyTask } from './copy.ts';

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
