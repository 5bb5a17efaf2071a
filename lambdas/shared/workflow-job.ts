import { z } from 'zod';
import { replicationObjectName, WORKFLOW_JOB_ID } from '../../src/jobs/naming.ts';
import { FILTER_KEYS, MAX_PLAN_CHARS, planSchema } from '../../src/inputs/task-plan.ts';
import { engineJobId } from '../../src/task/scope.ts';
import type { checkGrantsEvent } from '../check-grants.ts';
import type { checkRdsParameterGroupEvent } from '../check-rds-parameter-group.ts';
import type { checkReplicationEvent } from '../check-replication.ts';
import type { checkTargetReachesSourceEvent } from '../check-target-reaches-source.ts';
import type { estimateSizeEvent } from '../estimate-size.ts';
import type { monitorReplicationEvent } from '../monitor-replication.ts';
import { InvalidEvent, parseEvent } from './errors.ts';
import { DB_INSTANCE_ID, hostPortSchema, secretArnSchema } from '../../src/inputs/schemas.ts';
import { databasesSchema } from './events.ts';

// The replicate workflow's execution input, and the job built from it that every later state reads
// its payload from (statemachines/replicate.asl.json). Identifiers and secret ARNs only.

/** The Map of the replicate workflow shares one execution history (25,000 events) across its databases. */
export const MAX_DATABASES = 40;
const HISTORY_BUDGET = 18_000;
/** Events one round of the wait loop adds at most: Lambda task (5), Choice (2), Pass (2), Choice (2, when broken), Wait (2). */
export const EVENTS_PER_POLL = 13;
export const MAX_POLLS = 720;
/** ECS counts the overrides as JSON (8192 characters, formatting included). */
export const MAX_CONTAINER_OVERRIDE_CHARS = 8192;
/**
 * PLAN as the RunTask request carries it: a JSON string inside JSON, each quote escaped. A plan of
 * quoted identifiers (sales."Order Items") nearly doubles there; the rest of the override (names, ids,
 * two secret ARNs, two endpoints) stays under 2.5 KiB.
 */
export const MAX_PLAN_ESCAPED_CHARS = 5632;

export const workflowInputSchema = z
  .strictObject({
    // The store's and the functions' job ids, short enough for the schedule name verify-<jobId> (64).
    jobId: z
      .string()
      .regex(WORKFLOW_JOB_ID, 'must be 1 to 57 letters, digits, _ or -, starting with a letter or digit'),
    sourceSecretArn: secretArnSchema,
    targetSecretArn: secretArnSchema,
    source: z
      .strictObject({
        instanceIdentifier: z.string().regex(DB_INSTANCE_ID, 'must be a DB instance or cluster identifier').optional(),
        endpoint: hostPortSchema.optional(),
      })
      .refine(
        (s) => s.instanceIdentifier !== undefined || s.endpoint !== undefined,
        'give instanceIdentifier or endpoint, or leave source out for a source outside RDS',
      )
      .optional(),
    target: z.strictObject({ endpoint: hostPortSchema.optional() }).optional(),
    databases: databasesSchema
      .max(MAX_DATABASES, `at most ${MAX_DATABASES} databases per job: split bigger jobs`)
      .refine((d) => new Set(d).size === d.length, 'must not list a database twice'),
    // The target database of each source database, in the order of `databases` (the task's TARGET_DATABASE);
    // left out, each keeps its name. A list rather than a map: the verify, cleanup and cutover definitions
    // pick an item by the Map's index, and JSONPath cannot look a key up by a value.
    targetDatabases: databasesSchema
      .max(MAX_DATABASES)
      .refine((d) => new Set(d).size === d.length, 'must not name a target database twice')
      .optional(),
    // The task's own PLAN schema (containers/replicator/README.md), so a bad plan fails before any task starts.
    plan: planSchema
      .refine(
        (p) => JSON.stringify(p).length <= MAX_PLAN_CHARS,
        `must be at most ${MAX_PLAN_CHARS} characters as JSON (it is passed to the task as an environment variable)`,
      )
      .refine(
        (p) => JSON.stringify(JSON.stringify(p)).length <= MAX_PLAN_ESCAPED_CHARS,
        `must be at most ${MAX_PLAN_ESCAPED_CHARS} characters as the task's environment carries it (every double quote counts twice): ECS refuses bigger container overrides`,
      )
      .refine(
        (p) => !(p.filters && FILTER_KEYS.some((k) => p[k] !== undefined)),
        'has filters both under "filters" and at the top level: give them in one place',
      )
      .default({}),
    verifySchedule: z
      .string()
      .regex(
        /^(rate\(\d{1,4} (minute|minutes|hour|hours|day|days)\)|cron\([^()]{9,200}\))$/,
        'must be an EventBridge Scheduler expression such as rate(6 hours) or cron(0 3 * * ? *)',
      )
      .optional(),
    /** Opt-in: the monitor drops a slot of this job that retains more WAL than this many GiB (src/monitor/wal-guard.ts). */
    maxRetainedWalGb: z.number().positive().max(1_000_000).optional(),
  })
  .refine((i) => i.targetDatabases === undefined || i.targetDatabases.length === i.databases.length, {
    message: 'must name one target database for each database, in the same order',
    path: ['targetDatabases'],
  });
export type WorkflowInput = z.output<typeof workflowInputSchema>;
type Plan = WorkflowInput['plan'];

type Payload<S extends z.ZodType> = z.input<S>;
export interface VerifyInput {
  jobId: string;
  databases: string[];
  targetDatabases?: string[];
  sourceSecretArn: string;
  targetSecretArn: string;
  sourceEndpoint?: string;
  targetEndpoint?: string;
  plan: Plan;
}
export interface WorkflowJob {
  jobId: string;
  sourceSecretArn: string;
  targetSecretArn: string;
  /** host[:port], or empty (the task reads an empty variable as unset). */
  sourceEndpoint: string;
  targetEndpoint: string;
  plan: Plan;
  /** Checks of the wait loop per database before it gives up (30 s apart). */
  maxPolls: number;
  rdsCheck?: Payload<typeof checkRdsParameterGroupEvent>;
  checks: Payload<typeof checkGrantsEvent>;
  /** The probe of the source from the target (the subscription's connection), before the copy. */
  reach: Payload<typeof checkTargetReachesSourceEvent>;
  estimate: Payload<typeof estimateSizeEvent>;
  /** targetDatabase: where the task copies and subscribes (the same name unless the input names another). */
  databases: {
    database: string;
    targetDatabase: string;
    objectName: string;
    check: Payload<typeof checkReplicationEvent>;
  }[];
  verifySchedule?: { name: string; expression: string; input: VerifyInput };
  /** The job's once-a-minute monitor (lambdas/monitor-replication.ts), from before the slot exists until cleanup. */
  monitorSchedule: { name: string; input: Payload<typeof monitorReplicationEvent> };
}

/** The monitor schedule of a job: `health-` fits the 64 characters of a schedule name with the longest job id, as `verify-` does. */
export function monitorScheduleName(jobId: string): string {
  return `health-${jobId}`;
}
/** The plan's filters as the task reads them: under `filters` or at the top level. */
function planFilters(plan: Plan) {
  const topLevel = Object.fromEntries(FILTER_KEYS.filter((k) => plan[k] !== undefined).map((k) => [k, plan[k]]));
  const filters = plan.filters ?? topLevel;
  return Object.keys(filters).length ? filters : undefined;
}

/** Builds the job every later state reads: the payloads of the checks and of each database's loop. */
export function normalizeJob(input: WorkflowInput, defaultJobs?: number): WorkflowJob {
  const { jobId, sourceSecretArn, targetSecretArn, plan } = input;
  const filters = planFilters(plan);
  const jobs = plan.jobs ?? defaultJobs;
  const shared = {
    jobId,
    sourceSecretArn,
    targetSecretArn,
    ...(input.source?.endpoint ? { sourceEndpoint: input.source.endpoint } : {}),
    ...(input.target?.endpoint ? { targetEndpoint: input.target.endpoint } : {}),
    ...(plan.allowSelfSignedCerts !== undefined ? { allowSelfSignedCerts: plan.allowSelfSignedCerts } : {}),
  };
  const targetOf = (index: number) => input.targetDatabases?.[index] ?? input.databases[index]!;
  // With one database the checks connect to its target database (validate's same-database check needs it).
  const single =
    input.databases.length === 1 && targetOf(0) !== input.databases[0] ? { targetDatabase: targetOf(0) } : {};
  const checks = { ...shared, databases: input.databases, ...single, ...(filters ? { filters } : {}) };
  const databases = input.databases.map((database, index) => {
    // The names the task gives slot, publication and subscription (src/task/scope.ts).
    const objectName = replicationObjectName(engineJobId(jobId, database), database);
    const targetDatabase = targetOf(index);
    const renamed = targetDatabase !== database ? { targetDatabase } : {};
    return {
      database,
      targetDatabase,
      objectName,
      check: { ...shared, database, ...renamed, slot: objectName, subscription: objectName },
    };
  });
  const endpoints = { sourceEndpoint: input.source?.endpoint ?? '', targetEndpoint: input.target?.endpoint ?? '' };
  const job: WorkflowJob = {
    jobId,
    sourceSecretArn,
    targetSecretArn,
    ...endpoints,
    plan,
    maxPolls: Math.min(MAX_POLLS, Math.floor(HISTORY_BUDGET / (EVENTS_PER_POLL * databases.length))),
    checks,
    reach: {
      ...checks,
      ...(plan.subscriptionSslRootCert ? { subscriptionSslRootCert: plan.subscriptionSslRootCert } : {}),
    },
    estimate: {
      ...checks,
      ...(jobs !== undefined ? { jobs } : {}),
      ...(plan.calibrate !== undefined ? { calibrate: plan.calibrate } : {}),
    },
    databases,
    monitorSchedule: {
      name: monitorScheduleName(jobId),
      input: {
        ...shared,
        databases: input.databases,
        ...(input.targetDatabases ? { targetDatabases: input.targetDatabases } : {}),
        ...(input.source?.instanceIdentifier ? { sourceInstanceIdentifier: input.source.instanceIdentifier } : {}),
        ...(input.maxRetainedWalGb !== undefined ? { maxRetainedWalGb: input.maxRetainedWalGb } : {}),
      },
    },
  };
  if (input.source) job.rdsCheck = { jobId, source: input.source };
  if (input.verifySchedule) {
    const given = Object.fromEntries(Object.entries(endpoints).filter(([, v]) => v !== ''));
    job.verifySchedule = {
      name: `verify-${jobId}`,
      expression: input.verifySchedule,
      input: {
        jobId,
        databases: input.databases,
        ...(input.targetDatabases ? { targetDatabases: input.targetDatabases } : {}),
        sourceSecretArn,
        targetSecretArn,
        ...given,
        plan,
      },
    };
  }
  return job;
}

/** Validates the execution input; InvalidEvent names each wrong field, never its value. */
export function parseWorkflowInput(input: unknown): WorkflowInput {
  try {
    return parseEvent(workflowInputSchema, input);
  } catch (error) {
    if (!(error instanceof InvalidEvent)) throw error;
    throw new InvalidEvent(
      error.message
        .replace('The event is not valid:', 'The execution input is not valid:')
        .replace(
          "pass the fields the function's event schema lists.",
          'start the execution with the input statemachines/README.md describes.',
        ),
    );
  }
}
