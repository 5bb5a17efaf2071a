// The job/status store: one interface (JobStore), two implementations behaving the same.
export type { Clock, JobStore } from './store.ts';
export {
  DynamoDbJobStore,
  JOB_TABLE_SCHEMA,
  DEFAULT_RETENTION_DAYS,
  type DynamoDbJobStoreOptions,
} from './dynamodb-store.ts';
export { LocalFileJobStore, defaultStateDir, type LocalFileJobStoreOptions } from './local-store.ts';
export {
  CheckpointError,
  INIT_STEPS,
  MAX_PACKED_CHECKPOINT,
  packCheckpoint,
  unpackCheckpoint,
  type DatabaseCheckpoint,
  type InitCheckpoint,
  type InitStep,
  type ResumeRecord,
  type TableProgress,
} from './checkpoint.ts';
export { CheckpointWriter } from './checkpoint-writer.ts';
export {
  JobStoreError,
  JobNotFoundError,
  JobExistsError,
  JobAlreadyFinishedError,
  InvalidTransitionError,
  InvalidJobRecordError,
  SecretInRecordError,
} from './errors.ts';
export { ALLOWED_FROM, canTransition } from './rules.ts';
export { assertNoSecrets, findSecret } from './secrets.ts';
export {
  JOB_STATES,
  TERMINAL_STATES,
  VERIFY_OUTCOMES,
  isTerminal,
  jobRecordSchema,
  stepRecordSchema,
  verifyRunRecordSchema,
  type DatabaseProgress,
  type DatabaseProgressInput,
  type Endpoint,
  type JobPatch,
  type JobRecord,
  type JobState,
  type ListOptions,
  type NewJob,
  type StepRecord,
  type TerminalState,
  type TransitionExtra,
  type VerifyOutcome,
  type VerifyRunRecord,
  type VerifyTableCounts,
} from './types.ts';
