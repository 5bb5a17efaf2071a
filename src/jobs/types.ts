// The job status model shared by the CLI `status` command and the serverless workflow: one job
// record, one record per step, one record per verify run. Never a password (see secrets.ts).
import { z } from 'zod';

export const JOB_STATES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** Once a job is in one of these states it never changes again (a late Lambda retry must not resurrect it). */
export const TERMINAL_STATES = ['SUCCEEDED', 'FAILED', 'CANCELLED'] as const satisfies readonly JobState[];
export type TerminalState = (typeof TERMINAL_STATES)[number];

export function isTerminal(state: JobState): state is TerminalState {
  return (TERMINAL_STATES as readonly JobState[]).includes(state);
}

export const VERIFY_OUTCOMES = ['equal', 'different', 'unconfirmed', 'error'] as const;
export type VerifyOutcome = (typeof VERIFY_OUTCOMES)[number];

/** Letters, digits, "_", "-" and "." (not first): safe as a file name and a DynamoDB key part. */
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

const iso = z.iso.datetime({ error: 'expected an ISO 8601 UTC time such as 2025-01-31T12:00:00.000Z' });
const count = z.number().int().nonnegative();
const text = z.string().max(4000);

export const jobIdSchema = z.string().regex(JOB_ID, 'use 1 to 128 letters, digits, "_", "-" or "." (not first)');
export const jobStateSchema = z.enum(JOB_STATES);

/** Where data comes from or goes to, without credentials: a secret ARN and/or a redacted `host:port/db`. */
export const endpointSchema = z.object({
  description: z.string().min(1).max(1000),
  secretArn: z.string().min(1).max(2048).optional(),
});
export type Endpoint = z.infer<typeof endpointSchema>;

export const databaseNameSchema = z.string().min(1).max(256);

/** Tables in the copy's record at most: the largest in flight, then the ones finished last. */
export const MAX_RECORDED_TABLE_COPIES = 25;

/** One table of init's copy, as `status --watch` draws its bar: in flight, or finished (`seconds` set). */
export const tableCopySchema = z.object({
  table: z.string().min(1).max(300),
  rows: count,
  bytesDone: count,
  /** The planner's size of the table (on disk): the copy's bytes end near it, not exactly on it. */
  bytesExpected: count,
  startedAt: iso,
  /** Set once every range of the table is committed. */
  seconds: z.number().nonnegative().optional(),
});
export type TableCopy = z.infer<typeof tableCopySchema>;

export const databaseProgressSchema = z.object({
  state: jobStateSchema,
  phase: text,
  tablesDone: count,
  tablesTotal: count,
  rowsCopied: count,
  bytesCopied: count,
  /** Replication lag of this database's subscription, once streaming. */
  lagBytes: count.optional(),
  /** While init copies: the tables in flight and the last finished (bounded, for the 400 KB item limit). */
  copying: z.array(tableCopySchema).max(MAX_RECORDED_TABLE_COPIES).optional(),
  /** One sentence: why this database's last step failed (set with state FAILED). */
  error: text.optional(),
  /** Schema drift found by the last replication check, one line per difference with its fix (src/drift). */
  drift: z.array(z.string().max(1000)).max(20).optional(),
  updatedAt: iso,
});
export type DatabaseProgress = z.infer<typeof databaseProgressSchema>;
/** What a writer passes: the store stamps `updatedAt`. */
export const databaseProgressInputSchema = databaseProgressSchema.omit({ updatedAt: true });
export type DatabaseProgressInput = z.infer<typeof databaseProgressInputSchema>;
/** One database's progress update, as validated by both stores. */
export const progressUpdateSchema = z.object({ database: databaseNameSchema, progress: databaseProgressInputSchema });

export const jobRecordSchema = z.object({
  jobId: jobIdSchema,
  state: jobStateSchema,
  /** Free text for people, e.g. "Copy snapshot". */
  phase: text,
  createdAt: iso,
  updatedAt: iso,
  startedAt: iso.optional(),
  endedAt: iso.optional(),
  source: endpointSchema,
  target: endpointSchema,
  databases: z.record(databaseNameSchema, databaseProgressSchema),
  /** One sentence: what failed and what to do (set with FAILED, or CANCELLED). */
  error: text.optional(),
  cause: text.optional(),
  /** The Step Functions execution that runs this job, when run on AWS. */
  executionArn: z.string().min(1).max(2048).optional(),
});
export type JobRecord = z.infer<typeof jobRecordSchema>;

export const newJobSchema = z.object({
  jobId: jobIdSchema,
  source: endpointSchema,
  target: endpointSchema,
  /** PENDING (default) or RUNNING: a job is never created finished. */
  state: z.enum(['PENDING', 'RUNNING']).optional(),
  phase: text.optional(),
  executionArn: z.string().min(1).max(2048).optional(),
});
export type NewJob = z.infer<typeof newJobSchema>;

/** Fields any writer may change while the job is not finished, as the job record holds them. The state changes only through `transition`. */
export const jobPatchSchema = jobRecordSchema
  .pick({ phase: true, executionArn: true, source: true, target: true })
  .partial();
export type JobPatch = z.infer<typeof jobPatchSchema>;

/** Fields a transition may set with the state, as the job record holds them. */
export const transitionExtraSchema = jobRecordSchema
  .pick({ phase: true, error: true, cause: true, executionArn: true })
  .partial();
export type TransitionExtra = z.infer<typeof transitionExtraSchema>;

export const stepRecordSchema = z.object({
  jobId: jobIdSchema,
  /** e.g. "schema", "data", "Copy snapshot". */
  step: z.string().min(1).max(200),
  database: databaseNameSchema.optional(),
  state: jobStateSchema,
  startedAt: iso,
  endedAt: iso.optional(),
  seconds: z.number().nonnegative().optional(),
  detail: text.optional(),
});
export type StepRecord = z.infer<typeof stepRecordSchema>;

/** Tables compared in one verify run, by result. */
export const verifyTableCountsSchema = z.object({
  total: count,
  equal: count,
  different: count,
  unconfirmed: count,
  error: count,
});
export type VerifyTableCounts = z.infer<typeof verifyTableCountsSchema>;

export const verifyRunRecordSchema = z.object({
  jobId: jobIdSchema,
  runId: z.string().min(1).max(128),
  /** The source database compared, when a run covers one database (the Fargate task's verify). */
  database: databaseNameSchema.optional(),
  startedAt: iso,
  endedAt: iso.optional(),
  outcome: z.enum(VERIFY_OUTCOMES),
  tables: verifyTableCountsSchema,
  /** Rows (or keys) found different across all tables. */
  differences: count,
  /** When the outcome is `error`: one sentence saying what went wrong. */
  error: text.optional(),
});
export type VerifyRunRecord = z.infer<typeof verifyRunRecordSchema>;

export interface ListOptions {
  /** At most this many records (a positive integer); all when left out. */
  limit?: number;
}
