// The task's one writer of its database's progress entry in the job record (phase, tables, rows,
// bytes). Init's checkpoint is not part of it: the engine writes that through the job store itself.
// Changes are written as they come, at most every throttleMs; one left over is written when the
// throttle allows, or by the final flush.
import { clearTimeout, setTimeout } from 'node:timers';
import { JobAlreadyFinishedError, JobNotFoundError } from '../jobs/errors.ts';
import type { JobStore } from '../jobs/store.ts';
import type { DatabaseProgress, DatabaseProgressInput } from '../jobs/types.ts';
import type { Logger } from '../log/logger.ts';
import type { CopyProgress } from '../snapshot/init.ts';

export interface RecorderOptions {
  store: JobStore;
  jobId: string;
  database: string;
  logger: Logger;
  /** The entry as the job record holds it now, if any: counts carry over from earlier tasks. */
  initial?: DatabaseProgress;
  /** Progress is written at most this often (default 5 s). */
  throttleMs?: number;
  /** Hears every copy progress event too (the task's copy metrics). */
  onCopyProgress?: (p: CopyProgress) => void;
}

export class DatabaseRecorder {
  readonly #o: RecorderOptions;
  #progress: DatabaseProgressInput;
  #writable = true;
  #stopped = false;
  #lastWritten = '';
  #lastWriteAt = 0;
  #lastWarning = '';
  #chain: Promise<void> = Promise.resolve();
  #later: ReturnType<typeof setTimeout> | undefined;

  constructor(options: RecorderOptions) {
    this.#o = options;
    const i = options.initial;
    this.#progress = {
      state: i?.state ?? 'RUNNING',
      phase: i?.phase ?? '',
      tablesDone: i?.tablesDone ?? 0,
      tablesTotal: i?.tablesTotal ?? 0,
      rowsCopied: i?.rowsCopied ?? 0,
      bytesCopied: i?.bytesCopied ?? 0,
      ...(i?.lagBytes !== undefined ? { lagBytes: i.lagBytes } : {}),
    };
  }

  get progress(): Readonly<DatabaseProgressInput> {
    return this.#progress;
  }

  /** Changes progress fields; `error: undefined` clears the error. Written when the throttle allows, or by flush. */
  set(fields: Partial<DatabaseProgressInput>): void {
    const next = { ...this.#progress, ...fields };
    if ('error' in fields && fields.error === undefined) delete next.error;
    this.#progress = next;
    this.#changed();
  }

  /** Init's copy progress, as the snapshot streams, with its tables in flight while some are (status --watch). */
  copyProgress(p: CopyProgress): void {
    this.#o.onCopyProgress?.(p);
    const copying = p.tablesDone < p.tablesTotal && p.copying?.length ? p.copying : undefined;
    const { copying: _previous, ...rest } = this.#progress;
    this.#progress = {
      ...rest,
      tablesDone: p.tablesDone,
      tablesTotal: p.tablesTotal,
      rowsCopied: p.rowsDone,
      bytesCopied: p.bytesDone,
      ...(copying ? { copying } : {}),
    };
    this.#changed();
  }

  /** No more writes but the ones flush is asked for. */
  stop(): void {
    this.#stopped = true;
    if (this.#later) clearTimeout(this.#later);
    this.#later = undefined;
  }

  /** Writes the entry if it changed: always when forced, else only when the last write is throttleMs old. */
  flush(force = true): Promise<void> {
    const run = this.#chain.then(() => this.#write(force));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  #changed(): void {
    if (this.#stopped || this.#later) return;
    const wait = this.#lastWriteAt + (this.#o.throttleMs ?? 5000) - Date.now();
    const write = () => {
      this.#later = undefined;
      this.flush(false).catch((error: unknown) => {
        // Said once: the final flush fails the task if the problem lasts.
        const message = `could not record the progress of ${this.#o.database} yet: ${(error as Error).message}`;
        if (message !== this.#lastWarning) this.#o.logger.warn(message);
        this.#lastWarning = message;
      });
    };
    if (wait <= 0) write();
    else {
      this.#later = setTimeout(write, wait);
      this.#later.unref();
    }
  }

  async #write(force: boolean): Promise<void> {
    if (!this.#writable) return;
    if (!force && Date.now() - this.#lastWriteAt < (this.#o.throttleMs ?? 5000)) return;
    const entry = this.#progress;
    const text = JSON.stringify(entry);
    if (text === this.#lastWritten) return;
    try {
      await this.#o.store.updateDatabaseProgress(this.#o.jobId, this.#o.database, entry);
    } catch (error) {
      if (error instanceof JobAlreadyFinishedError || error instanceof JobNotFoundError) {
        // A finished job never changes again (a scheduled verify, a late clean-up); steps are still recorded.
        this.#writable = false;
        this.#o.logger.info(
          `job ${this.#o.jobId} ${error instanceof JobNotFoundError ? 'is not in the job store' : `has finished as ${error.state}`}; the progress of ${this.#o.database} is not recorded on it`,
        );
        return;
      }
      throw error;
    }
    this.#lastWritten = text;
    this.#lastWriteAt = Date.now();
  }
}
