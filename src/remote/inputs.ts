// The execution inputs of the deployed workflows (statemachines/*.asl.json), built from what the
// user gave: identifiers, secret ARNs and the plan. Never a password.
import { createHash } from 'node:crypto';
import { parseConnectionUrl } from '../connection/url.ts';
import type { FilterOptions } from '../plan/plan.ts';
import { DB_INSTANCE_ID, HOST_PORT } from '../inputs/schemas.ts';
import { MAX_PLAN_CHARS, planSchema, type TaskPlan } from '../inputs/task-plan.ts';
import { WORKFLOW_JOB_ID } from '../jobs/naming.ts';
import { RemoteUsageError } from './errors.ts';

export const SCHEDULE_EXPRESSION = /^(rate\(\d{1,4} (minute|minutes|hour|hours|day|days)\)|cron\([^()]{9,200}\))$/;

export interface SideInput {
  url?: string | undefined;
  secretArn?: string | undefined;
}

/** `host:port/db` of a URL (as deriveJobId writes it), or the ARN itself. */
function sideKey(side: SideInput): string | undefined {
  if (side.secretArn) return side.secretArn;
  if (!side.url) return undefined;
  const spec = parseConnectionUrl(side.url);
  return `${spec.host}:${spec.port}/${spec.database}`;
}

/**
 * The job id: --job-id, else derived from source and target as local init derives it (the same id
 * for the same two URLs; ARNs stand for themselves), so running the same command again resumes.
 */
export function remoteJobId(given: string | undefined, source: SideInput, target: SideInput): string {
  if (given !== undefined) {
    if (!WORKFLOW_JOB_ID.test(given))
      throw new RemoteUsageError(
        `--job-id "${given}" cannot name a workflow job: use 1 to 57 letters, digits, "_" or "-", starting with a letter or digit.`,
      );
    return given;
  }
  const s = sideKey(source);
  const t = sideKey(target);
  if (!s || !t)
    throw new RemoteUsageError(
      'Name the job with --job-id, or give the source and target (secret ARNs or URLs) it was started with.',
    );
  return createHash('sha256').update(`${s}->${t}`).digest('hex').slice(0, 10);
}

/** The databases to replicate: --include-databases, else the one the source URL names. */
/**
 * One database copied into a database of another name, as the target URL names it: the rule of local
 * mode (src/plan/job-plan.ts). Undefined when the target keeps the source's names.
 */
export function plannedTargetDatabases(databases: string[], target: SideInput): string[] | undefined {
  if (databases.length !== 1 || !target.url) return undefined;
  const spec = parseConnectionUrl(target.url);
  return spec.databaseGiven && spec.database !== 'postgres' && spec.database !== databases[0]
    ? [spec.database]
    : undefined;
}

export function plannedDatabases(includeDatabases: string[] | undefined, source: SideInput): string[] {
  if (includeDatabases?.length) return [...new Set(includeDatabases)];
  if (source.url) {
    const spec = parseConnectionUrl(source.url);
    if (spec.databaseGiven && spec.database !== 'postgres') return [spec.database];
  }
  throw new RemoteUsageError(
    'Name the databases to replicate with --include-databases (the workflow does not list them for you), or give a source URL that names one database.',
  );
}

export function checkEndpoint(value: string | undefined, flag: string): string | undefined {
  if (value !== undefined && !HOST_PORT.test(value))
    throw new RemoteUsageError(
      `${flag} must be host or host:port (e.g. mydb.abc123.eu-west-1.rds.amazonaws.com:5432).`,
    );
  return value;
}

export function checkInstance(value: string | undefined): string | undefined {
  if (value !== undefined && !DB_INSTANCE_ID.test(value))
    throw new RemoteUsageError(
      '--source-instance must be an RDS DB instance or cluster identifier (a letter, then letters, digits and hyphens).',
    );
  return value;
}

export function checkScheduleExpression(expression: string): string {
  if (!SCHEDULE_EXPRESSION.test(expression))
    throw new RemoteUsageError(
      `--schedule "${expression}" is not an EventBridge Scheduler expression; write e.g. "rate(6 hours)" or "cron(0 3 * * ? *)".`,
    );
  return expression;
}

/** Filters with their empty lists dropped; undefined when nothing is left. */
export function compactFilters(filters: FilterOptions | undefined): FilterOptions | undefined {
  const kept = Object.fromEntries(Object.entries(filters ?? {}).filter(([, v]) => Array.isArray(v) && v.length > 0));
  return Object.keys(kept).length ? (kept as FilterOptions) : undefined;
}

/** Validates a plan as the task will (src/task/config.ts) before anything starts. */
export function checkedPlan(plan: Record<string, unknown>): TaskPlan {
  const parsed = planSchema.safeParse(plan);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RemoteUsageError(
      `The plan for the workflow is not valid at ${issue.path.join('.') || 'its top level'}: ${issue.message.replace(/^Invalid input: /, '')}.`,
    );
  }
  if (JSON.stringify(parsed.data).length > MAX_PLAN_CHARS)
    throw new RemoteUsageError(
      `The plan (filters and options) is longer than ${MAX_PLAN_CHARS} characters as JSON, the most a workflow task accepts; shorten the filters or split the job.`,
    );
  return parsed.data;
}

export interface ReplicateInput {
  jobId: string;
  sourceSecretArn: string;
  targetSecretArn: string;
  source?: { instanceIdentifier?: string; endpoint?: string };
  target?: { endpoint?: string };
  databases: string[];
  /** The target database of each database, where its name differs (the workflows default to the same names). */
  targetDatabases?: string[];
  plan: TaskPlan;
  /** The monitor's hard limit (lambdas/shared/workflow-job.ts): a slot retaining more WAL is dropped. */
  maxRetainedWalGb?: number;
}

/** The replicate workflow's input (statemachines/replicate.asl.json, "Record job started"). */
export function replicateInput(o: {
  jobId: string;
  sourceSecretArn: string;
  targetSecretArn: string;
  sourceInstance?: string | undefined;
  sourceEndpoint?: string | undefined;
  targetEndpoint?: string | undefined;
  databases: string[];
  targetDatabases?: string[] | undefined;
  plan: TaskPlan;
  maxRetainedWalGb?: number | undefined;
}): ReplicateInput {
  const source = {
    ...(o.sourceInstance ? { instanceIdentifier: o.sourceInstance } : {}),
    ...(o.sourceEndpoint ? { endpoint: o.sourceEndpoint } : {}),
  };
  return {
    jobId: o.jobId,
    sourceSecretArn: o.sourceSecretArn,
    targetSecretArn: o.targetSecretArn,
    ...(Object.keys(source).length ? { source } : {}),
    ...(o.targetEndpoint ? { target: { endpoint: o.targetEndpoint } } : {}),
    databases: o.databases,
    ...(o.targetDatabases ? { targetDatabases: o.targetDatabases } : {}),
    plan: o.plan,
    ...(o.maxRetainedWalGb !== undefined ? { maxRetainedWalGb: o.maxRetainedWalGb } : {}),
  };
}

export interface JobInput {
  jobId: string;
  databases: string[];
  targetDatabases?: string[];
  sourceSecretArn: string;
  targetSecretArn: string;
  sourceEndpoint?: string;
  targetEndpoint?: string;
  plan: TaskPlan;
}

/** The verify and clean-up workflows' input (and the verify schedule's): "Set defaults" fills what is left out. */
export function jobInput(o: {
  jobId: string;
  databases: string[];
  targetDatabases?: string[] | undefined;
  sourceSecretArn: string;
  targetSecretArn: string;
  sourceEndpoint?: string | undefined;
  targetEndpoint?: string | undefined;
  plan: TaskPlan;
}): JobInput {
  return {
    jobId: o.jobId,
    databases: o.databases,
    ...(o.targetDatabases ? { targetDatabases: o.targetDatabases } : {}),
    sourceSecretArn: o.sourceSecretArn,
    targetSecretArn: o.targetSecretArn,
    ...(o.sourceEndpoint ? { sourceEndpoint: o.sourceEndpoint } : {}),
    ...(o.targetEndpoint ? { targetEndpoint: o.targetEndpoint } : {}),
    plan: o.plan,
  };
}

/** An endpoint the replicate workflow recorded as the job's description (host[:port]), if it is one. */
export function endpointFromDescription(description: string | undefined): string | undefined {
  return description && HOST_PORT.test(description) ? description : undefined;
}
