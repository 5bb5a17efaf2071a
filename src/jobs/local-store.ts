// The job store in a local state folder, for `--local` runs and the CLI `status` command:
//
//   <dir>/status/<jobId>/job.json             the job record
//   <dir>/status/<jobId>/steps/<key>.json     one file per step
//   <dir>/status/<jobId>/verify/<key>.json    one file per verify run
//   <dir>/status/<jobId>/checkpoint.json      init's checkpoint of the whole job
//   <dir>/status/<jobId>/checkpoints/<h>.json init's checkpoint of one database (h: a hash of its name)
//   <dir>/status/<jobId>/files/               the job's files (init's post-data archive)
//   <dir>/status/<jobId>/.lock                held while the job record or a checkpoint is read, changed and replaced
//
// Files are written atomically with mode 0600. There is no expiry here: local records stay until
// the folder is removed; clean-up removes the checkpoint and the files.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import { checkedCheckpoint, type InitCheckpoint } from './checkpoint.ts';
import { InvalidJobRecordError, JobExistsError, JobNotFoundError } from './errors.ts';
import { readJson, withFileLock, writeJsonAtomic } from './local-files.ts';
import {
  assertWritable,
  byNewest,
  checked,
  sortableTime,
  stepSortKey,
  transitionFields,
  validJobId,
  validLimit,
  verifySortKey,
  reopenRefusal,
} from './rules.ts';
import type { Clock, JobStore } from './store.ts';
import {
  isTerminal,
  jobRecordSchema,
  stepRecordSchema,
  verifyRunRecordSchema,
  type DatabaseProgressInput,
  type JobPatch,
  type JobRecord,
  type JobState,
  type ListOptions,
  type NewJob,
  type StepRecord,
  type TransitionExtra,
  type VerifyRunRecord,
} from './types.ts';

/** The state folder: DATABASE_REPLICATOR_STATE_DIR, else database-replicator under XDG_STATE_HOME or ~/.local/state. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DATABASE_REPLICATOR_STATE_DIR) return env.DATABASE_REPLICATOR_STATE_DIR;
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'database-replicator');
}

export interface LocalFileJobStoreOptions {
  now?: Clock;
}

function parseStored<S extends z.ZodType>(schema: S, value: unknown, path: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new InvalidJobRecordError(
      `The job store file ${path} does not hold a valid record; remove it, or restore it from a backup.`,
    );
  }
  return result.data;
}

/** A file name that sorts like the key and stays short and portable whatever the names hold. */
function fileName(sortKey: string, startedAt: string): string {
  const hash = createHash('sha256').update(sortKey).digest('hex').slice(0, 16);
  return `${sortableTime(startedAt).replace(/[:.]/g, '')}-${hash}.json`;
}

function jsonFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => name.endsWith('.json'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export class LocalFileJobStore implements JobStore {
  /** `<dir>/status`: one folder per job. */
  readonly root: string;
  readonly #now: Clock;

  /** Where an earlier version kept init's checkpoints (`<dir>/jobs/<jobId>.json`): read until cleaned up. */
  readonly #legacy: string;

  /** `dir` is the state folder (see defaultStateDir). */
  constructor(dir: string, options: LocalFileJobStoreOptions = {}) {
    this.root = join(dir, 'status');
    this.#legacy = join(dir, 'jobs');
    this.#now = options.now ?? (() => new Date());
  }

  /** A folder for the job's files (e.g. init's post-data archive), made if missing; cleanup removes it. */
  filesDir(jobId: string): string {
    const dir = join(this.root, validJobId(jobId), 'files');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  checkpointPath(jobId: string, database?: string): string {
    if (database === undefined) return join(this.root, validJobId(jobId), 'checkpoint.json');
    const hash = createHash('sha256').update(database).digest('hex').slice(0, 16);
    return join(this.root, validJobId(jobId), 'checkpoints', `${hash}.json`);
  }

  jobPath(jobId: string): string {
    return join(this.root, validJobId(jobId), 'job.json');
  }

  #time(): string {
    return this.#now().toISOString();
  }

  #read(jobId: string): JobRecord | undefined {
    const path = this.jobPath(jobId);
    const value = readJson(path);
    return value === undefined ? undefined : parseStored(jobRecordSchema, value, path);
  }

  /** Reads, checks and replaces the job record under the job's lock. */
  async #change(
    jobId: string,
    to: JobState | undefined,
    change: (current: JobRecord) => JobRecord,
  ): Promise<JobRecord> {
    if (this.#read(jobId) === undefined) throw new JobNotFoundError(jobId);
    return withFileLock(join(this.root, jobId, '.lock'), () => {
      const current = this.#read(jobId);
      assertWritable(jobId, current, to);
      const next = change(current);
      writeJsonAtomic(this.jobPath(jobId), next);
      return next;
    });
  }

  async createJob(job: NewJob): Promise<JobRecord> {
    const record = checked.newJob(job, this.#time());
    return withFileLock(join(this.root, record.jobId, '.lock'), () => {
      if (this.#read(record.jobId) !== undefined) throw new JobExistsError(record.jobId);
      writeJsonAtomic(this.jobPath(record.jobId), record);
      return record;
    });
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    return this.#read(jobId);
  }

  async listJobs(options?: ListOptions): Promise<JobRecord[]> {
    const limit = validLimit(options);
    let names: string[];
    try {
      names = readdirSync(this.root, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const jobs = names.flatMap((name) => {
      const path = join(this.root, name, 'job.json');
      const value = readJson(path);
      return value === undefined ? [] : [parseStored(jobRecordSchema, value, path)];
    });
    return jobs.sort(byNewest).slice(0, limit);
  }

  async updateJob(jobId: string, patch: JobPatch): Promise<JobRecord> {
    const fields = checked.patch(jobId, patch);
    return this.#change(jobId, undefined, (current) => ({ ...current, ...fields, updatedAt: this.#time() }));
  }

  async transition(jobId: string, to: JobState, extra: TransitionExtra = {}): Promise<JobRecord> {
    const { state, extra: fields } = checked.transition(jobId, to, extra);
    return this.#change(jobId, state, (current) => ({
      ...current,
      ...transitionFields(current, state, fields, this.#time()),
      state,
    }));
  }

  async reopen(jobId: string, executionArn: string, phase: string): Promise<JobRecord> {
    const fields = checked.reopen(jobId, executionArn, phase);
    if (this.#read(jobId) === undefined) throw new JobNotFoundError(jobId);
    return withFileLock(join(this.root, jobId, '.lock'), () => {
      const current = this.#read(jobId);
      if (!current || current.state !== 'FAILED' || current.executionArn === fields.executionArn)
        throw reopenRefusal(jobId, current);
      const { error: _error, cause: _cause, endedAt: _endedAt, ...rest } = current;
      const next: JobRecord = {
        ...rest,
        state: 'RUNNING',
        phase: fields.phase,
        executionArn: fields.executionArn,
        updatedAt: this.#time(),
      };
      writeJsonAtomic(this.jobPath(jobId), next);
      return next;
    });
  }

  async updateDatabaseProgress(jobId: string, database: string, progress: DatabaseProgressInput): Promise<JobRecord> {
    const entry = checked.progress(jobId, database, progress, this.#time());
    return this.#change(jobId, undefined, (current) => ({
      ...current,
      databases: { ...current.databases, [database]: entry },
      updatedAt: entry.updatedAt,
    }));
  }

  async getCheckpoint(jobId: string, database?: string): Promise<InitCheckpoint | undefined> {
    const path = this.checkpointPath(jobId, database);
    const value =
      readJson(path) ?? (database === undefined ? readJson(join(this.#legacy, `${jobId}.json`)) : undefined);
    return value === undefined ? undefined : checkedCheckpoint(jobId, value);
  }

  async saveCheckpoint(jobId: string, checkpoint: InitCheckpoint, database?: string): Promise<void> {
    const path = this.checkpointPath(jobId, database);
    const value = checkedCheckpoint(jobId, checkpoint);
    if (this.#read(jobId) === undefined) throw new JobNotFoundError(jobId);
    // Synchronous while the lock is free: the file is written when this call returns.
    await withFileLock(join(this.root, jobId, '.lock'), () => {
      assertWritable(jobId, this.#read(jobId));
      writeJsonAtomic(path, value);
    });
  }

  async removeCheckpoint(jobId: string, database?: string): Promise<void> {
    rmSync(this.checkpointPath(jobId, database), { force: true });
    if (database !== undefined) return;
    rmSync(join(this.root, jobId, 'files'), { recursive: true, force: true });
    rmSync(join(this.#legacy, `${jobId}.json`), { force: true });
    rmSync(join(this.#legacy, jobId), { recursive: true, force: true });
  }

  /**
   * A new run of a job the CLI finished (init after cleanup, or a refresh with --drop-existing): a new
   * RUNNING record with the same id and endpoints replaces the finished one, and its checkpoint goes;
   * its steps and verify runs stay as its history. An unfinished job is returned as it is.
   */
  async startOver(jobId: string, phase: string): Promise<JobRecord> {
    validJobId(jobId);
    if (this.#read(jobId) === undefined) throw new JobNotFoundError(jobId);
    return withFileLock(join(this.root, jobId, '.lock'), () => {
      const current = this.#read(jobId);
      if (!current) throw new JobNotFoundError(jobId);
      if (!isTerminal(current.state)) return current;
      const { source, target } = current;
      const next = checked.newJob({ jobId, source, target, state: 'RUNNING', phase }, this.#time());
      rmSync(this.checkpointPath(jobId), { force: true });
      rmSync(join(this.root, jobId, 'checkpoints'), { recursive: true, force: true });
      writeJsonAtomic(this.jobPath(jobId), next);
      return next;
    });
  }

  /** Files do not expire: nothing to start. */
  async startRetention(jobId: string): Promise<void> {
    validJobId(jobId);
  }

  async putStep(step: StepRecord): Promise<StepRecord> {
    const record = checked.step(step);
    writeJsonAtomic(join(this.root, record.jobId, 'steps', fileName(stepSortKey(record), record.startedAt)), record);
    return record;
  }

  async listSteps(jobId: string): Promise<StepRecord[]> {
    return this.#readAll(jobId, 'steps', stepRecordSchema, stepSortKey);
  }

  async putVerifyRun(run: VerifyRunRecord): Promise<VerifyRunRecord> {
    const record = checked.verifyRun(run);
    writeJsonAtomic(join(this.root, record.jobId, 'verify', fileName(verifySortKey(record), record.startedAt)), record);
    return record;
  }

  async listVerifyRuns(jobId: string, options?: ListOptions): Promise<VerifyRunRecord[]> {
    const limit = validLimit(options);
    const runs = this.#readAll(jobId, 'verify', verifyRunRecordSchema, verifySortKey);
    return runs.reverse().slice(0, limit);
  }

  /** Every record in one of the job's folders, oldest first by its sort key. */
  #readAll<S extends z.ZodType>(
    jobId: string,
    folder: string,
    schema: S,
    sortKey: (record: z.output<S>) => string,
  ): z.output<S>[] {
    const dir = join(this.root, validJobId(jobId), folder);
    const records = jsonFiles(dir).flatMap((name) => {
      const path = join(dir, name);
      const value = readJson(path);
      return value === undefined ? [] : [parseStored(schema, value, path)];
    });
    return records
      .map((record) => ({ record, key: sortKey(record) }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((r) => r.record);
  }
}
