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
// The record model: states, schemas and types (types.ts is their one list).
export * from './types.ts';
