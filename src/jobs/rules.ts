// The rules both stores apply in the same way: input validation, the state machine of a job, and
// how a new or changed record is built. The DynamoDB store enforces the state rule with a condition
// expression built from ALLOWED_FROM; the local store calls assertTransition under its lock.
import type { z } from 'zod';
import { InvalidJobRecordError, InvalidTransitionError, JobAlreadyFinishedError, JobNotFoundError } from './errors.ts';
import { assertNoSecrets } from './secrets.ts';
import * as schemas from './types.ts';
import { isTerminal, type JobRecord, type JobState } from './types.ts';

type DatabaseProgressInput = schemas.DatabaseProgressInput;
type StepRecord = schemas.StepRecord;
type TransitionExtra = schemas.TransitionExtra;

/** The states a job may be in for a move to each state. Terminal states appear nowhere on the left. */
export const ALLOWED_FROM: Readonly<Record<JobState, readonly JobState[]>> = {
  PENDING: ['PENDING'],
  RUNNING: ['PENDING', 'RUNNING'],
  SUCCEEDED: ['PENDING', 'RUNNING'],
  FAILED: ['PENDING', 'RUNNING'],
  CANCELLED: ['PENDING', 'RUNNING'],
};

export function canTransition(from: JobState, to: JobState): boolean {
  return ALLOWED_FROM[to].includes(from);
}

/**
 * The error for a write that the state rule refused, given the job as it is now (undefined: missing).
 * `to` is the target state for a transition, undefined for a plain update.
 */
export function refusal(jobId: string, current: JobRecord | undefined, to?: JobState): Error | undefined {
  if (!current) return new JobNotFoundError(jobId);
  if (isTerminal(current.state)) return new JobAlreadyFinishedError(jobId, current.state);
  if (to !== undefined && !canTransition(current.state, to))
    return new InvalidTransitionError(jobId, current.state, to);
  return undefined;
}

/** Throws the refusal, if any; narrows `current` to a job that exists. */
export function assertWritable(
  jobId: string,
  current: JobRecord | undefined,
  to?: JobState,
): asserts current is JobRecord {
  const error = refusal(jobId, current, to);
  if (error) throw error;
}

/** Parses `value` with `schema` after the secret guard; the message lists fields, never values. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  assertNoSecrets(value, what);
  const result = schema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || 'the value'}: ${i.message}`).join('; ');
    throw new InvalidJobRecordError(`The ${what} is invalid (${issues}); fix these fields before storing it.`);
  }
  return result.data;
}

export function validJobId(jobId: string): string {
  return validate(schemas.jobIdSchema, jobId, 'job id');
}

/** Each write's input as both stores check it (the secret guard, then the schema); the job id first where one is given. */
export const checked = {
  /** The new job's record, stamped `now`. */
  newJob: (job: schemas.NewJob, now: string) => newJobRecord(validate(schemas.newJobSchema, job, 'job'), now),
  /** One database's progress entry, stamped `now`. */
  progress(jobId: string, database: string, progress: DatabaseProgressInput, now: string) {
    validJobId(jobId);
    return progressRecord(database, progress, now);
  },
  patch(jobId: string, patch: schemas.JobPatch) {
    validJobId(jobId);
    return validate(schemas.jobPatchSchema, patch, 'job update');
  },
  transition(jobId: string, to: JobState, extra: TransitionExtra) {
    validJobId(jobId);
    return {
      state: validate(schemas.jobStateSchema, to, 'job state'),
      extra: validate(schemas.transitionExtraSchema, extra, 'job transition'),
    };
  },
  reopen(jobId: string, executionArn: string, phase: string) {
    validJobId(jobId);
    return validate(schemas.transitionExtraSchema, { executionArn, phase }, 'job reopen') as {
      executionArn: string;
      phase: string;
    };
  },
  step: (step: StepRecord) => stepRecord(validate(schemas.stepRecordSchema, step, 'step')),
  verifyRun: (run: schemas.VerifyRunRecord) => validate(schemas.verifyRunRecordSchema, run, 'verify run'),
};

export function validLimit(options: schemas.ListOptions | undefined): number | undefined {
  const limit = options?.limit;
  if (limit === undefined) return undefined;
  if (!Number.isInteger(limit) || limit < 1)
    throw new InvalidJobRecordError(
      `The list limit ${String(limit)} is invalid; pass a positive whole number, or leave it out to list everything.`,
    );
  return limit;
}

/** A UTC time in one fixed format, so keys built from times sort in time order. */
export function sortableTime(iso: string): string {
  return new Date(iso).toISOString();
}

export function newJobRecord(input: schemas.NewJob, now: string): JobRecord {
  const state = input.state ?? 'PENDING';
  return dropUndefined({
    jobId: input.jobId,
    state,
    phase: input.phase ?? '',
    createdAt: now,
    updatedAt: now,
    startedAt: state === 'RUNNING' ? now : undefined,
    source: input.source,
    target: input.target,
    databases: {},
    executionArn: input.executionArn,
  });
}

/** The fields a transition sets besides `state`: startedAt on the first RUNNING, endedAt on finishing. */
export function transitionFields(
  current: Pick<JobRecord, 'startedAt'> | undefined,
  to: JobState,
  extra: TransitionExtra,
  now: string,
): Partial<JobRecord> {
  return dropUndefined({
    ...extra,
    updatedAt: now,
    startedAt: to === 'RUNNING' && !current?.startedAt ? now : undefined,
    endedAt: isTerminal(to) ? now : undefined,
  });
}

/** Validates one database's progress update and stamps it; the name is checked for secrets as a value. */
export function progressRecord(
  database: string,
  progress: DatabaseProgressInput,
  now: string,
): schemas.DatabaseProgress {
  const input = validate(schemas.progressUpdateSchema, { database, progress }, 'database progress');
  return dropUndefined({ ...input.progress, updatedAt: now });
}

/** Fills `seconds` from startedAt and endedAt when the writer left it out. */
export function stepRecord(step: StepRecord): StepRecord {
  if (step.seconds !== undefined || step.endedAt === undefined) return dropUndefined(step);
  const seconds = Math.max(0, (Date.parse(step.endedAt) - Date.parse(step.startedAt)) / 1000);
  return dropUndefined({ ...step, seconds });
}

/** Steps sort by start time, then name and database; putting the same three again replaces the step. */
export function stepSortKey(step: Pick<StepRecord, 'startedAt' | 'step' | 'database'>): string {
  return `STEP#${sortableTime(step.startedAt)}#${encodeURIComponent(step.step)}#${encodeURIComponent(step.database ?? '')}`;
}

/** Verify runs sort by start time, then run id; putting the same two again replaces the run. */
export function verifySortKey(run: Pick<schemas.VerifyRunRecord, 'startedAt' | 'runId'>): string {
  return `VERIFY#${sortableTime(run.startedAt)}#${encodeURIComponent(run.runId)}`;
}

/** Newest first; ties by job id so both stores list in the same order. */
export function byNewest(a: JobRecord, b: JobRecord): number {
  return b.createdAt.localeCompare(a.createdAt) || a.jobId.localeCompare(b.jobId);
}

/** A copy without undefined members (DynamoDB refuses them unless the client was told to drop them). */
export function dropUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => dropUndefined(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, dropUndefined(v)]),
    ) as T;
  }
  return value;
}

/** Why a reopen was refused: no job, a job that is not FAILED, or a late call from the execution that failed it. */
export function reopenRefusal(jobId: string, current: JobRecord | undefined): Error {
  if (!current) return new JobNotFoundError(jobId);
  if (isTerminal(current.state)) return new JobAlreadyFinishedError(jobId, current.state);
  return new InvalidTransitionError(jobId, current.state, 'RUNNING');
}
