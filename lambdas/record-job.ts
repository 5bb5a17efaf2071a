import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { redact } from '../src/connection/redact.ts';
import { DynamoDbJobStore, isTerminal, type JobStore } from '../src/jobs/index.ts';
import { awsClientConfig } from './shared/clients.ts';
import { NamedError } from '../src/errors/safe-error.ts';
import { lambdaHandler, parseEvent } from './shared/errors.ts';
import { databasesSchema, jobIdSchema } from './shared/events.ts';
import { cut, describeFailure, MAX_CAUSE } from './shared/failures.ts';
import { createLambdaLogger, type LambdaLog } from './shared/logger.ts';
import { driftEventSchema, recordDrift } from './shared/drift-notice.ts';
import { addCountMetric, tracer } from './shared/observability.ts';
import { normalizeJob, parseWorkflowInput, type WorkflowJob } from './shared/workflow-job.ts';
import { recordVerified, type VerifySummary } from './shared/verify-summary.ts';

export { recordVerified, type VerifySummary };

// The workflow's writes to the job store (src/jobs), so the records keep the store's format. Actions:
//   started    validates the execution input, creates the job RUNNING (or resumes a PENDING/RUNNING job, or
//              a FAILED one from a new execution) and returns the normalized job that every later state reads its payload from;
//   succeeded  marks the job SUCCEEDED (with the phase given: the cut-over workflow names its own);
//   failed     marks it FAILED and returns one readable error and cause for the Fail state, adding what a
//              failed task recorded (on its database, or in its step since `since`); it never throws
//              for a job it cannot record (bad input, unknown or finished job);
//   verified   sums up the verify runs recorded since the execution started, emits VerifyDifferences;
//   cleaned    records the clean-up step (FAILED with the reason when an error is given); a successful
//              clean-up ends a job that is still PENDING or RUNNING as CANCELLED (a finished job stays)
//              and starts the retention of the job's record (DynamoDB's TTL; until then it never expires);
//   drift      keeps the schema drift a replication check found on the database's entry and returns the
//              message the workflow publishes to the alarm topic (lambdas/shared/drift-notice.ts).
// Errors (by name): InvalidEvent, JobAlreadyRunning, JobAlreadyFinishedError, InvalidJobRecordError, SecretInRecordError.

const logger = createLambdaLogger('record-job');
const STORE_TEXT = 4000;

const iso = z.iso.datetime({ offset: true });
const failureSchema = z.object({ Error: z.string().optional(), Cause: z.string().optional() });

export const recordJobEvent = z.discriminatedUnion('action', [
  z.object({ action: z.literal('started'), input: z.unknown(), executionArn: z.string().min(1).max(2048).optional() }),
  z.object({ action: z.literal('succeeded'), jobId: jobIdSchema, phase: z.string().min(1).max(200).optional() }),
  /** `since`: the execution's start; failed steps of the job since then add their detail to the cause. */
  z.object({
    action: z.literal('failed'),
    input: z.unknown().optional(),
    jobId: z.string().optional(),
    since: iso.optional(),
    error: failureSchema,
  }),
  z.object({
    action: z.literal('verified'),
    jobId: jobIdSchema,
    databases: databasesSchema,
    since: iso,
    /** The verify Map's outcome per database, with the error name of a failed task (a task that found differences fails too). */
    tasks: z
      .array(z.object({ database: z.string(), failed: z.boolean(), error: z.string().max(256).optional() }))
      .optional(),
  }),
  z.object({
    action: z.literal('cleaned'),
    jobId: jobIdSchema,
    databases: databasesSchema,
    startedAt: iso,
    error: failureSchema.optional(),
  }),
  driftEventSchema,
]);
export type RecordJobEvent = z.infer<typeof recordJobEvent>;

export interface Failure {
  jobId?: string;
  recorded: boolean;
  error: string;
  cause: string;
}

export interface RecordJobDependencies {
  store: JobStore;
  logger?: LambdaLog;
  now?: () => Date;
  /** Copy workers of a task when the plan sets none (the task's vCPUs, at least 2): the estimate assumes them. */
  defaultJobs?: number;
  /** Adds one CloudWatch count metric (Powertools Metrics in Lambda, written when the invocation ends). */
  metric?: (name: string, value: number) => void;
  /** Whether an execution still runs (DescribeExecution); left out, another execution is taken as ended. */
  executionRunning?: (executionArn: string) => Promise<boolean>;
}

/** Another execution of the workflow runs the job: a second one would race it on the same slots and tables. */
export class JobAlreadyRunning extends NamedError {
  constructor(jobId: string, executionArn: string) {
    super(
      'JobAlreadyRunning',
      `Job ${jobId} is being replicated by the execution ${executionArn}, which is still running; follow that one (database-replicator status), or stop it before starting another.`,
    );
  }
}

const secretName = (arn: string) => arn.slice(arn.indexOf(':secret:') + 8);

export async function recordStarted(
  event: { input: unknown; executionArn?: string | undefined },
  deps: RecordJobDependencies,
): Promise<WorkflowJob> {
  const input = parseWorkflowInput(event.input);
  const job = normalizeJob(input, deps.defaultJobs);
  const arn = event.executionArn ? { executionArn: event.executionArn } : {};
  const existing = await deps.store.getJob(input.jobId);
  const other = existing?.executionArn;
  if (
    existing &&
    !isTerminal(existing.state) &&
    other &&
    event.executionArn &&
    other !== event.executionArn &&
    (await deps.executionRunning?.(other))
  ) {
    throw new JobAlreadyRunning(input.jobId, other);
  }
  if (existing?.state === 'FAILED' && event.executionArn) {
    // A new execution of a failed job resumes it: its tasks carry on from the state they recorded.
    await deps.store.reopen(input.jobId, event.executionArn, 'Checks');
  } else if (existing) {
    await deps.store.transition(input.jobId, 'RUNNING', { phase: 'Checks', ...arn });
  } else {
    const source = input.source?.instanceIdentifier
      ? `RDS ${input.source.instanceIdentifier}`
      : (input.source?.endpoint ?? `secret ${secretName(input.sourceSecretArn)}`);
    const target = input.target?.endpoint ?? `secret ${secretName(input.targetSecretArn)}`;
    await deps.store.createJob({
      jobId: input.jobId,
      source: { description: source, secretArn: input.sourceSecretArn },
      target: { description: target, secretArn: input.targetSecretArn },
      state: 'RUNNING',
      phase: 'Checks',
      ...arn,
    });
  }
  // A resumed job keeps the progress its tasks recorded (and init's checkpoints, kept apart on the job item).
  for (const database of input.databases.filter((d) => !existing?.databases[d])) {
    await deps.store.updateDatabaseProgress(input.jobId, database, {
      state: 'PENDING',
      phase: 'Waiting for its snapshot copy',
      tablesDone: 0,
      tablesTotal: 0,
      rowsCopied: 0,
      bytesCopied: 0,
    });
  }
  deps.logger?.info('job started', {
    jobId: input.jobId,
    databases: input.databases.length,
    resumed: existing !== undefined,
  });
  return job;
}

export const REPLICATING_PHASE = 'Replicating: every database is in sync';
export const CLEANED_PHASE = 'Cleaned up before cut-over';

export async function recordSucceeded(
  jobId: string,
  deps: RecordJobDependencies,
  phase = REPLICATING_PHASE,
): Promise<{ jobId: string; state: 'SUCCEEDED' }> {
  const current = await deps.store.getJob(jobId);
  // A retried invocation whose first attempt was recorded, or a job already replicating (cut-over): nothing left to do.
  if (current?.state !== 'SUCCEEDED') await deps.store.transition(jobId, 'SUCCEEDED', { phase });
  deps.logger?.info('job succeeded', { jobId });
  return { jobId, state: 'SUCCEEDED' };
}

/**
 * A task that failed under runTask.sync is known to Step Functions only by its exit code; the task
 * recorded its own error on its database's entry (an unfinished job) and in its step. Adds those
 * sentences to the cause: the entries' errors, and the failed steps since `since` of other databases.
 */
async function withTaskErrors(
  jobId: string,
  described: { error: string; cause: string },
  store: JobStore,
  since?: string,
): Promise<{ error: string; cause: string }> {
  if (!described.cause.includes('The replicator task')) return described;
  const job = await store.getJob(jobId);
  const byDatabase = new Map<string, string>();
  for (const [db, p] of Object.entries(job?.databases ?? {})) {
    const error = (p as { error?: unknown }).error;
    if (p.state === 'FAILED' && typeof error === 'string') byDatabase.set(db, error);
  }
  // A finished job's entries do not change (a cut-over after replicate): its tasks' steps say it. Newest first.
  const steps = since === undefined ? [] : (await store.listSteps(jobId)).reverse();
  for (const step of steps) {
    if (
      step.state === 'FAILED' &&
      step.database &&
      step.detail &&
      !byDatabase.has(step.database) &&
      Date.parse(step.startedAt) >= Date.parse(since!)
    )
      byDatabase.set(step.database, step.detail);
  }
  const errors = [...byDatabase].map(([db, error]) => `${db}: ${error}`);
  return errors.length
    ? { ...described, cause: cut(redact(`${described.cause} The task recorded: ${errors.join(' | ')}`), MAX_CAUSE) }
    : described;
}

export async function recordFailed(
  event: {
    input?: unknown;
    jobId?: string | undefined;
    since?: string | undefined;
    error: { Error?: string | undefined; Cause?: string | undefined };
  },
  deps: RecordJobDependencies,
): Promise<Failure> {
  let described = describeFailure(event.error);
  const candidate =
    event.jobId ??
    (event.input && typeof event.input === 'object' ? (event.input as { jobId?: unknown }).jobId : undefined);
  const jobId = typeof candidate === 'string' && jobIdSchema.safeParse(candidate).success ? candidate : undefined;
  if (!jobId) return { recorded: false, ...described };
  described = await withTaskErrors(jobId, described, deps.store, event.since);
  const store = (error: string) =>
    deps.store.transition(jobId, 'FAILED', {
      phase: 'Failed',
      error: cut(error, STORE_TEXT),
      cause: cut(described.error, STORE_TEXT),
    });
  try {
    try {
      await store(described.cause);
    } catch (error) {
      if ((error as Error).name !== 'SecretInRecordError') throw error;
      await store(
        'The failure message was not stored because it looked like it held a credential; see the failed state in the execution history.',
      );
    }
  } catch (error) {
    const name = (error as Error).name;
    // Nothing to record (never created, or finished already): the Fail state still shows the error.
    if (name === 'JobNotFoundError' || name === 'JobAlreadyFinishedError') {
      deps.logger?.warn(`the failure was not recorded: ${(error as Error).message}`, { jobId });
      return { jobId, recorded: false, ...described };
    }
    throw error;
  }
  deps.logger?.warn(`job failed: ${described.error}`, { jobId });
  return { jobId, recorded: true, ...described };
}

export async function recordCleaned(
  event: {
    jobId: string;
    databases: string[];
    startedAt: string;
    error?: { Error?: string | undefined; Cause?: string | undefined } | undefined;
  },
  deps: RecordJobDependencies,
): Promise<Failure> {
  const described = event.error ? describeFailure(event.error) : undefined;
  const detail = described
    ? described.cause
    : `Removed the subscription, publication and slot of ${event.databases.join(', ')}, and the verify schedule.`;
  await deps.store.putStep({
    jobId: event.jobId,
    step: 'Clean up',
    state: described ? 'FAILED' : 'SUCCEEDED',
    startedAt: new Date(event.startedAt).toISOString(),
    endedAt: (deps.now ?? (() => new Date()))().toISOString(),
    detail: cut(detail, STORE_TEXT),
  });
  if (!described) {
    await endCleanedJob(event.jobId, deps);
    // Nothing of the job runs any more: its record may expire now (never before: it names the slots).
    await deps.store.startRetention(event.jobId);
  }
  deps.logger?.info(`clean-up ${described ? 'failed' : 'done'}`, { jobId: event.jobId });
  return { jobId: event.jobId, recorded: true, error: described?.error ?? '', cause: described?.cause ?? '' };
}

/**
 * Nothing replicates after a clean-up, so a job still PENDING or RUNNING (cleaned up before its cut-over,
 * or while an execution ran) ends CANCELLED; a finished job keeps its state (SUCCEEDED stays SUCCEEDED).
 */
async function endCleanedJob(jobId: string, deps: RecordJobDependencies): Promise<void> {
  const job = await deps.store.getJob(jobId);
  if (job?.state !== 'PENDING' && job?.state !== 'RUNNING') return;
  try {
    await deps.store.transition(jobId, 'CANCELLED', { phase: CLEANED_PHASE });
    deps.logger?.info('job cancelled: cleaned up before its cut-over', { jobId });
  } catch (error) {
    // It finished meanwhile (a late record of its execution): it keeps that state.
    if ((error as Error).name !== 'JobAlreadyFinishedError') throw error;
  }
}

export async function recordJob(event: RecordJobEvent, deps: RecordJobDependencies): Promise<unknown> {
  switch (event.action) {
    case 'started':
      return recordStarted(event, deps);
    case 'succeeded':
      return recordSucceeded(event.jobId, deps, event.phase);
    case 'failed':
      return recordFailed(event, deps);
    case 'verified':
      return recordVerified(event, deps);
    case 'cleaned':
      return recordCleaned(event, deps);
    case 'drift':
      return recordDrift(event, deps.store);
  }
}

/** The function was deployed without a setting it needs. */
export class FunctionMisconfigured extends NamedError {
  constructor(message: string) {
    super('FunctionMisconfigured', message);
  }
}

let store: JobStore | undefined;
function jobStore(): JobStore {
  const tableName = process.env.JOB_TABLE;
  if (!tableName)
    throw new FunctionMisconfigured(
      'JOB_TABLE is not set: deploy the function with the job table name in its environment.',
    );
  store ??= new DynamoDbJobStore({
    client: DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient(awsClientConfig()))),
    tableName,
  });
  return store;
}

const defaultJobs = Number(process.env.TASK_JOBS) || undefined;

let sfn: SFNClient | undefined;
/** An execution that no longer exists (its history expired) runs no more. */
const executionRunning = async (executionArn: string): Promise<boolean> => {
  sfn ??= tracer.captureAWSv3Client(new SFNClient(awsClientConfig()));
  try {
    return (await sfn.send(new DescribeExecutionCommand({ executionArn }))).status === 'RUNNING';
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') return false;
    throw error;
  }
};

export const handler = lambdaHandler(logger, (event) =>
  recordJob(parseEvent(recordJobEvent, event), {
    store: jobStore(),
    logger,
    metric: addCountMetric,
    executionRunning,
    ...(defaultJobs ? { defaultJobs } : {}),
  }),
);
