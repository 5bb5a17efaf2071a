import type { InitCheckpoint } from './checkpoint.ts';
import type {
  DatabaseProgressInput,
  JobPatch,
  JobRecord,
  JobState,
  ListOptions,
  NewJob,
  StepRecord,
  TransitionExtra,
  VerifyRunRecord,
} from './types.ts';

/**
 * The job status store, read and written by the CLI and by the serverless workflow. Two
 * implementations behave the same: DynamoDbJobStore (AWS) and LocalFileJobStore (a state folder).
 *
 * Rules that hold for every method:
 * - Nothing that looks like a password is ever written: SecretInRecordError, and nothing is stored.
 * - Input that does not fit the schema: InvalidJobRecordError, and nothing is stored.
 * - A finished job (SUCCEEDED, FAILED, CANCELLED) never changes again: JobAlreadyFinishedError, record unchanged.
 * - Writes to a job that does not exist: JobNotFoundError.
 * - Every write stamps `updatedAt`; methods that change the job return the record as stored.
 */
export interface JobStore {
  /** Stores a new job (PENDING unless `state: 'RUNNING'`, no databases yet); JobExistsError if the id is taken. */
  createJob(job: NewJob): Promise<JobRecord>;

  /** The job, or undefined when there is none. */
  getJob(jobId: string): Promise<JobRecord | undefined>;

  /** Jobs, newest first (by createdAt, then jobId). */
  listJobs(options?: ListOptions): Promise<JobRecord[]>;

  /** Changes phase, executionArn, source or target of an unfinished job. */
  updateJob(jobId: string, patch: JobPatch): Promise<JobRecord>;

  /**
   * Moves the job to `to`, following ALLOWED_FROM (rules.ts): PENDING -> RUNNING -> SUCCEEDED | FAILED |
   * CANCELLED (PENDING may also finish directly; RUNNING -> RUNNING is allowed to change the phase).
   * Sets startedAt on the first RUNNING and endedAt on finishing. A finished job:
   * JobAlreadyFinishedError (also for the same state again); RUNNING -> PENDING: InvalidTransitionError.
   */
  transition(jobId: string, to: JobState, extra?: TransitionExtra): Promise<JobRecord>;

  /**
   * A new execution takes over a FAILED job, so an interrupted copy resumes from what its tasks
   * recorded: FAILED -> RUNNING, error and cause cleared, only when `executionArn` differs from the
   * one recorded (a late retry inside the failed execution cannot reopen it). SUCCEEDED and CANCELLED
   * stay final: JobAlreadyFinishedError, as for any refused reopen.
   */
  reopen(jobId: string, executionArn: string, phase: string): Promise<JobRecord>;

  /**
   * Replaces one database's progress entry, leaving the other databases alone: concurrent writers for
   * different databases do not overwrite each other.
   */
  updateDatabaseProgress(jobId: string, database: string, progress: DatabaseProgressInput): Promise<JobRecord>;

  /**
   * Init's checkpoint of the job (checkpoint.ts), or undefined when there is none. `database` names the
   * one source database an init covers when each database has an init of its own (the workflow runs
   * one task per database, at the same time); left out, the checkpoint of an init of the whole job
   * (the CLI). Each is kept apart from the others and from the databases' progress entries.
   */
  getCheckpoint(jobId: string, database?: string): Promise<InitCheckpoint | undefined>;

  /**
   * Replaces the checkpoint, under the rules of every write: the job must exist and not be finished
   * (JobNotFoundError, JobAlreadyFinishedError), no secret (SecretInRecordError); a checkpoint the
   * store cannot hold (over MAX_PACKED_CHECKPOINT packed, in DynamoDB): CheckpointError.
   */
  saveCheckpoint(jobId: string, checkpoint: InitCheckpoint, database?: string): Promise<void>;

  /**
   * Forgets the checkpoint (clean-up), in any state of the job; without `database`, also the job's
   * files kept beside it (the local store's files folder). Nothing there: nothing to do.
   */
  removeCheckpoint(jobId: string, database?: string): Promise<void>;

  /**
   * The job is over for good (cleaned up: its slots, publications and subscriptions are gone): its
   * record may now be deleted after the store's retention (DynamoDB's TTL). Until then a job's record
   * never expires, whatever its state, because it names what may still run. Any state; no job: nothing.
   */
  startRetention(jobId: string): Promise<void>;

  /**
   * Stores a step, keyed by (startedAt, step, database): put it again with the same three to record its
   * end. `seconds` is computed from startedAt and endedAt when left out. The job need not exist.
   */
  putStep(step: StepRecord): Promise<StepRecord>;

  /** The job's steps, oldest first (by startedAt, then step name and database). */
  listSteps(jobId: string): Promise<StepRecord[]>;

  /** Stores a verify run, keyed by (startedAt, runId); verify runs keep being added after the job finished. */
  putVerifyRun(run: VerifyRunRecord): Promise<VerifyRunRecord>;

  /** The job's verify runs, newest first: `limit` gives the latest runs. */
  listVerifyRuns(jobId: string, options?: ListOptions): Promise<VerifyRunRecord[]>;
}

/** The clock a store uses; tests pass a fixed one. */
export type Clock = () => Date;
