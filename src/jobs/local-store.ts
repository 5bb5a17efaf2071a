// The job store in a local state folder, for `--local` runs and the CLI `status` command:
//
//   <dir>/status/<jobId>/job.json             the job record
//   <dir>/status/<jobId>/steps/<key>.json     one file per step
//   <dir>/status/<jobId>/verify/<key>.json    one file per verify run
//   <dir>/status/<jobId>/.lock                held while the job record is read, changed and replaced
//
// A folder of its own: src/snapshot/state.ts owns <dir>/jobs/<jobId>.json and <dir>/jobs/<jobId>/,
// and clean-up removes the latter whole. Files are written atomically with mode 0600. There is no
// expiry here: local records stay until the folder is removed.
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { InvalidJobRecordError, JobExistsError, JobNotFoundError } from './errors.ts';
import { readJson, withFileLock, writeJsonAtomic } from './local-files.ts';
import {
  assertWritable,
  byNewest,
  newJobRecord,
  progressRecord,
  sortableTime,
  stepRecord,
  stepSortKey,
  transitionFields,
  validate,
  validJobId,
  validLimit,
  verifySortKey,
  reopenRefusal,
} from './rules.ts';
import type { Clock, JobStore } from './store.ts';
import {
  jobPatchSchema,
  jobRecordSchema,
  jobStateSchema,
  newJobSchema,
  stepRecordSchema,
  transitionExtraSchema,
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

  /** `dir` is the state folder (see defaultStateDir in src/snapshot/state.ts). */
  constructor(dir: string, options: LocalFileJobStoreOptions = {}) {
    this.root = join(dir, 'status');
    this.#now = options.now ?? (() => new Date());
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
    const input = validate(newJobSchema, job, 'job');
    return withFileLock(join(this.root, input.jobId, '.lock'), () => {
      if (this.#read(input.jobId) !== undefined) throw new JobExistsError(input.jobId);
      const record = newJobRecord(input, this.#time());
      writeJsonAtomic(this.jobPath(input.jobId), record);
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
    validJobId(jobId);
    const fields = validate(jobPatchSchema, patch, 'job update');
    return this.#change(jobId, undefined, (current) => ({ ...current, ...fields, updatedAt: this.#time() }));
  }

  async transition(jobId: string, to: JobState, extra: TransitionExtra = {}): Promise<JobRecord> {
    validJobId(jobId);
    const state = validate(jobStateSchema, to, 'job state');
    const fields = validate(transitionExtraSchema, extra, 'job transition');
    return this.#change(jobId, state, (current) => ({
      ...current,
      ...transitionFields(current, state, fields, this.#time()),
      state,
    }));
  }

  async reopen(jobId: string, executionArn: string, phase: string): Promise<JobRecord> {
    validJobId(jobId);
    const fields = validate(transitionExtraSchema, { executionArn, phase }, 'job reopen');
    if (this.#read(jobId) === undefined) throw new JobNotFoundError(jobId);
    return withFileLock(join(this.root, jobId, '.lock'), () => {
      const current = this.#read(jobId);
      if (!current || current.state !== 'FAILED' || current.executionArn === fields.executionArn)
        throw reopenRefusal(jobId, current);
      const { error: _error, cause: _cause, endedAt: _endedAt, ...rest } = current;
      const next: JobRecord = {
        ...rest,
        state: 'RUNNING',
        phase: fields.phase!,
        executionArn: fields.executionArn!,
        updatedAt: this.#time(),
      };
      writeJsonAtomic(this.jobPath(jobId), next);
      return next;
    });
  }

  async updateDatabaseProgress(jobId: string, database: string, progress: DatabaseProgressInput): Promise<JobRecord> {
    validJobId(jobId);
    const entry = progressRecord(database, progress, this.#time());
    return this.#change(jobId, undefined, (current) => ({
      ...current,
      databases: { ...current.databases, [database]: entry },
      updatedAt: entry.updatedAt,
    }));
  }

  /** Files do not expire: nothing to start. */
  async startRetention(jobId: string): Promise<void> {
    validJobId(jobId);
  }

  async putStep(step: StepRecord): Promise<StepRecord> {
    const record = stepRecord(validate(stepRecordSchema, step, 'step'));
    writeJsonAtomic(join(this.root, record.jobId, 'steps', fileName(stepSortKey(record), record.startedAt)), record);
    return record;
  }

  async listSteps(jobId: string): Promise<StepRecord[]> {
    return this.#readAll(jobId, 'steps', stepRecordSchema, stepSortKey);
  }

  async putVerifyRun(run: VerifyRunRecord): Promise<VerifyRunRecord> {
    const record = validate(verifyRunRecordSchema, run, 'verify run');
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
