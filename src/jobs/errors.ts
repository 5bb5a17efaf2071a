// Every job store failure is one of these, with the same class and message from both implementations.
import type { JobState, TerminalState } from './types.ts';

export class JobStoreError extends Error {
  override name = 'JobStoreError';
}

export class JobNotFoundError extends JobStoreError {
  override name = 'JobNotFoundError';
  readonly jobId: string;
  constructor(jobId: string) {
    super(`Job ${jobId} does not exist in the job store; check the job id, or create the job before updating it.`);
    this.jobId = jobId;
  }
}

export class JobExistsError extends JobStoreError {
  override name = 'JobExistsError';
  readonly jobId: string;
  constructor(jobId: string) {
    super(
      `Job ${jobId} already exists in the job store; pick a new job id, or update the existing job instead of creating it again.`,
    );
    this.jobId = jobId;
  }
}

/** The job reached SUCCEEDED, FAILED or CANCELLED: it never changes again. */
export class JobAlreadyFinishedError extends JobStoreError {
  override name = 'JobAlreadyFinishedError';
  readonly jobId: string;
  readonly state: TerminalState;
  constructor(jobId: string, state: TerminalState) {
    super(`Job ${jobId} has already finished as ${state} and can no longer change; start a new job to run it again.`);
    this.jobId = jobId;
    this.state = state;
  }
}

/** A move the state rule does not allow between two unfinished states (RUNNING back to PENDING). */
export class InvalidTransitionError extends JobStoreError {
  override name = 'InvalidTransitionError';
  readonly jobId: string;
  readonly from: JobState;
  readonly to: JobState;
  constructor(jobId: string, from: JobState, to: JobState) {
    super(
      `Job ${jobId} cannot go from ${from} to ${to}; a job only moves forward, from PENDING to RUNNING to SUCCEEDED, FAILED or CANCELLED.`,
    );
    this.jobId = jobId;
    this.from = from;
    this.to = to;
  }
}

/** A value that does not fit the record schema (the message names the fields, never their values). */
export class InvalidJobRecordError extends JobStoreError {
  override name = 'InvalidJobRecordError';
}

/** A value that looks like a password: the store refuses to write it anywhere. */
export class SecretInRecordError extends JobStoreError {
  override name = 'SecretInRecordError';
  /** Where in the record, e.g. `source.description`; never the value. */
  readonly path: string;
  constructor(what: string, path: string, reason: string) {
    super(
      `Refusing to store the ${what} because ${path} ${reason}; record a secret ARN or a redacted host:port/db instead of credentials.`,
    );
    this.path = path;
  }
}
