// The CLI's writer of the job record (src/jobs/): the same record the serverless workflow keeps, so
// `status` reads one model whether the work ran here or on AWS. Recording is best effort: a record
// that cannot be written is a warning, never the reason a copy fails.
import { describeEndpoint, type ConnectionSpec } from '../connection/url.ts';
import { LocalFileJobStore } from '../jobs/local-store.ts';
import type { JobStore } from '../jobs/store.ts';
import type { DatabaseProgressInput, JobRecord, StepRecord, VerifyRunRecord } from '../jobs/types.ts';
import { isTerminal } from '../jobs/types.ts';
import type { Logger } from '../log/logger.ts';
import type { CopyProgress } from '../snapshot/init.ts';

export interface CommandRecordOptions {
  store: JobStore;
  jobId: string;
  command: string;
  source: ConnectionSpec;
  target: ConnectionSpec;
  logger: Logger;
  /** Progress is written at most this often. */
  throttleMs?: number;
}

export function localJobStore(stateDir: string): LocalFileJobStore {
  return new LocalFileJobStore(stateDir);
}

/** One command's run in the job record: a step record, the job's phase, per-database progress. */
export class CommandRecord {
  private readonly o: CommandRecordOptions;
  private readonly startedAt = new Date().toISOString();
  private chain: Promise<unknown> = Promise.resolve();
  private lastWrite = new Map<string, number>();
  private finished = false;
  private warned = false;

  constructor(options: CommandRecordOptions) {
    this.o = options;
  }

  private attempt(what: () => Promise<unknown>): Promise<void> {
    this.chain = this.chain.then(what).catch((error: unknown) => {
      if (!this.warned)
        this.o.logger.warn(`the job record in the state folder was not updated (${(error as Error).message})`);
      this.warned = true;
    });
    return this.chain.then(() => undefined);
  }

  private step(state: StepRecord['state'], detail?: string): Promise<unknown> {
    const endedAt = state === 'RUNNING' ? undefined : new Date().toISOString();
    return this.o.store.putStep({
      jobId: this.o.jobId,
      step: this.o.command,
      state,
      startedAt: this.startedAt,
      ...(endedAt ? { endedAt } : {}),
      ...(detail ? { detail: detail.slice(0, 4000) } : {}),
    });
  }

  /** Creates the job record on first use, and marks it running with this command's phase. */
  begin(phase: string): Promise<void> {
    return this.attempt(async () => {
      const { store, jobId } = this.o;
      let job = await store.getJob(jobId);
      job ??= await store.createJob({
        jobId,
        source: { description: describeEndpoint(this.o.source) },
        target: { description: describeEndpoint(this.o.target) },
      });
      this.finished = isTerminal(job.state);
      if (!this.finished) await store.transition(jobId, 'RUNNING', { phase });
      await this.step('RUNNING');
    });
  }

  /**
   * A new run of a job whose record has finished (init after cleanup, or a refresh): `replace` gives
   * the job a new record (LocalFileJobStore.startOver), so this run, and its checkpoint, are recorded.
   */
  renew(replace: () => Promise<JobRecord>): Promise<void> {
    return this.attempt(async () => {
      if (this.finished) this.finished = isTerminal((await replace()).state);
    });
  }

  /** Init's copy progress for one database with its tables in flight (status --watch), written at most every `throttleMs`. */
  copyProgress(p: CopyProgress): void {
    const now = Date.now();
    const last = this.lastWrite.get(p.database) ?? 0;
    if (now - last < (this.o.throttleMs ?? 1000) && p.tablesDone < p.tablesTotal) return;
    this.lastWrite.set(p.database, now);
    const copying = p.tablesDone < p.tablesTotal && p.copying?.length ? { copying: p.copying } : {};
    void this.database(p.database, {
      state: 'RUNNING',
      phase: 'Copy data',
      tablesDone: p.tablesDone,
      tablesTotal: p.tablesTotal,
      rowsCopied: p.rowsDone,
      bytesCopied: p.bytesDone,
      ...copying,
    });
  }

  database(database: string, progress: DatabaseProgressInput): Promise<void> {
    return this.attempt(async () => {
      if (!this.finished) await this.o.store.updateDatabaseProgress(this.o.jobId, database, progress);
    });
  }

  /** The databases' entries as they are, with a new state and phase. */
  databasesTo(state: DatabaseProgressInput['state'], phase: string): Promise<void> {
    return this.attempt(async () => {
      const job = await this.o.store.getJob(this.o.jobId);
      if (!job || isTerminal(job.state)) return;
      for (const [name, entry] of Object.entries(job.databases)) {
        const { updatedAt: _updatedAt, ...rest } = entry;
        await this.o.store.updateDatabaseProgress(this.o.jobId, name, { ...rest, state, phase });
      }
    });
  }

  /** The command succeeded: the step ends, the job takes the new phase, or finishes with `finish`. */
  succeeded(phase: string, finish?: 'SUCCEEDED' | 'CANCELLED'): Promise<void> {
    return this.attempt(async () => {
      await this.step('SUCCEEDED');
      if (this.finished) return;
      await this.o.store.transition(this.o.jobId, finish ?? 'RUNNING', { phase });
    });
  }

  /**
   * The command failed. The job stays RUNNING: running the command again resumes it, which a
   * finished (FAILED) record would forbid; the step and the phase say what went wrong.
   */
  failed(error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    return this.attempt(async () => {
      await this.step('FAILED', message);
      if (!this.finished)
        await this.o.store.updateJob(this.o.jobId, { phase: `${this.o.command} failed: ${message}`.slice(0, 4000) });
    });
  }

  verifyRun(run: Omit<VerifyRunRecord, 'jobId'>): Promise<void> {
    return this.attempt(() => this.o.store.putVerifyRun({ ...run, jobId: this.o.jobId }));
  }
}

/** What `status` shows of the record: the job and its last steps, or nothing when there is no record. */
export async function readJobRecord(
  store: JobStore,
  jobId: string,
): Promise<{ job: JobRecord; steps: StepRecord[] } | undefined> {
  try {
    const job = await store.getJob(jobId);
    if (!job) return undefined;
    return { job, steps: (await store.listSteps(jobId)).slice(-10) };
  } catch {
    return undefined;
  }
}
