// The task's one writer of its database's entry in the job record: progress (phase, tables, rows,
// bytes) and init's resume state travel together, because the store replaces an entry whole and
// tasks of other databases write their own entries at the same time.
import { clearInterval, setInterval } from 'node:timers';
import { JobAlreadyFinishedError, JobNotFoundError } from '../jobs/errors.ts';
import type { JobStore } from '../jobs/store.ts';
import type { DatabaseProgress, DatabaseProgressInput } from '../jobs/types.ts';
import type { Logger } from '../log/logger.ts';
import type { CopyProgress } from '../snapshot/init.ts';
import type { JobState } from '../snapshot/state.ts';
import { encodeInitState, readInitStateFile } from './init-state.ts';

type Progress = Omit<DatabaseProgressInput, 'initState'>;

export interface RecorderOptions {
  store: JobStore;
  jobId: string;
  database: string;
  /** Where init keeps its state file, and the engine's job id for this database. */
  stateDir: string;
  engineJobId: string;
  logger: Logger;
  /** The entry as the job record holds it now, if any: counts carry over from earlier tasks. */
  initial?: DatabaseProgress;
  /** Progress is written at most this often (default 5 s); state milestones are written at once. */
  throttleMs?: number;
  /** How often the state file and progress are looked at (default 1 s). */
  tickMs?: number;
  /** Hears every copy progress event too (the task's copy metrics). */
  onCopyProgress?: (p: CopyProgress) => void;
}

/** What must reach the store at once: a task killed right after these must find them on retry. */
function milestones(state: JobState | undefined): string {
  if (!state) return 'none';
  return JSON.stringify(
    Object.values(state.databases).map((d) => [
      d.slotCreated,
      d.consistentPoint,
      d.createdTargetDatabase,
      d.subscription,
      d.done,
      Object.keys(d.steps).sort(),
    ]),
  );
}

export class DatabaseRecorder {
  readonly #o: RecorderOptions;
  #progress: Progress;
  #writable = true;
  #lastWritten = '';
  #lastMilestones = '';
  #lastWriteAt = 0;
  #lastWarning = '';
  #chain: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setInterval> | undefined;

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

  get progress(): Readonly<Progress> {
    return this.#progress;
  }

  /** Changes progress fields; `error: undefined` clears the error. Written on the next due tick or flush. */
  set(fields: Partial<Progress>): void {
    const next = { ...this.#progress, ...fields };
    if ('error' in fields && fields.error === undefined) delete next.error;
    this.#progress = next;
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
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      this.flush(false).catch((error: unknown) => {
        // Said once: the final flush fails the task if the problem lasts.
        const message = `could not record the progress of ${this.#o.database} yet: ${(error as Error).message}`;
        if (message !== this.#lastWarning) this.#o.logger.warn(message);
        this.#lastWarning = message;
      });
    }, this.#o.tickMs ?? 1000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Writes the entry if it changed: always when forced or at a state milestone, else at most every throttleMs. */
  flush(force = true): Promise<void> {
    const run = this.#chain.then(() => this.#write(force));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #write(force: boolean): Promise<void> {
    if (!this.#writable) return;
    const state = readInitStateFile(this.#o.stateDir, this.#o.engineJobId);
    const marks = milestones(state);
    const due =
      force || marks !== this.#lastMilestones || Date.now() - this.#lastWriteAt >= (this.#o.throttleMs ?? 5000);
    if (!due) return;
    const entry: DatabaseProgressInput = { ...this.#progress, ...(state ? { initState: encodeInitState(state) } : {}) };
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
    this.#lastMilestones = marks;
    this.#lastWriteAt = Date.now();
  }
}
