// The Fargate task's configuration: environment variables only (the task definition and the
// workflow's container overrides set them), validated once at start. Every message names the
// variable and what it must be, never its value: a value may be a secret put there by mistake.
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { endpointSchema, secretArnRegion, secretArnSchema } from '../inputs/schemas.ts';
import { FILTER_KEYS, planSchema, type TaskPlan } from '../inputs/task-plan.ts';
import { findSecret } from '../jobs/secrets.ts';
import { jobIdSchema } from '../jobs/types.ts';
import { LOG_LEVELS, type LogLevel } from '../log/logger.ts';
import { FilterError } from '../plan/filters.ts';
import { parseFilters, type FilterOptions } from '../plan/plan.ts';

export const SUBCOMMANDS = ['snapshot', 'subscribe', 'verify', 'cutover', 'cleanup'] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

/** Bad configuration: the entry point prints the message and exits with 2. */
export class TaskConfigError extends Error {
  override name = 'TaskConfigError';
}

const databaseName = z.string().min(1).max(63, 'must be at most 63 bytes (a PostgreSQL database name)');

const JOBS_RANGE = 'must be a whole number from 1 to 64';

const envSchema = z.object({
  JOB_ID: jobIdSchema,
  DATABASE: databaseName,
  TARGET_DATABASE: databaseName.optional(),
  SOURCE_SECRET_ARN: secretArnSchema,
  TARGET_SECRET_ARN: secretArnSchema,
  SOURCE_ENDPOINT: endpointSchema.optional(),
  TARGET_ENDPOINT: endpointSchema.optional(),
  PLAN: z.string().optional(),
  JOB_TABLE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name (3 to 255 letters, digits, _ - .)')
    .optional(),
  STATE_DIR: z.string().optional(),
  TASK_TOKEN: z.string().max(2048, 'must be a Step Functions task token (at most 2048 characters)').optional(),
  AWS_REGION: z
    .string()
    .regex(/^[a-z0-9-]+$/, 'must be an AWS region such as eu-west-1')
    .optional(),
  AWS_DEFAULT_REGION: z
    .string()
    .regex(/^[a-z0-9-]+$/, 'must be an AWS region such as eu-west-1')
    .optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
  JOBS: z
    .string()
    .regex(/^\d+$/, JOBS_RANGE)
    .transform(Number)
    .pipe(z.number().int().min(1, JOBS_RANGE).max(64, JOBS_RANGE))
    .optional(),
});

/** What each variable is, for the "missing" message. */
const MEANING: Record<string, string> = {
  JOB_ID: 'the job id in the job store',
  DATABASE: 'the source database this task works on',
  SOURCE_SECRET_ARN: "the ARN of the source's Secrets Manager secret",
  TARGET_SECRET_ARN: "the ARN of the target's Secrets Manager secret",
};

export interface TaskConfig {
  subcommand: Subcommand;
  jobId: string;
  database: string;
  targetDatabase: string;
  sourceSecretArn: string;
  targetSecretArn: string;
  sourceEndpoint?: { host: string; port?: number };
  targetEndpoint?: { host: string; port?: number };
  plan: TaskPlan;
  /** The PLAN's filters as given (FilterOptions); the snapshot narrows them to DATABASE. */
  filters: FilterOptions;
  store: { kind: 'dynamodb'; tableName: string } | { kind: 'local'; dir: string };
  taskToken?: string;
  region: string;
  logLevel: LogLevel;
  jobs: number;
}

function parsePlan(text: string | undefined): TaskPlan {
  if (text === undefined) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error: never echo it.
    throw new TaskConfigError(
      'The environment variable PLAN is not valid JSON; set it to a JSON object such as {"includeTables": ["shop.orders"], "jobs": 4}.',
    );
  }
  const parsed = planSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : 'the top level';
    const what =
      issue.code === 'unrecognized_keys'
        ? `has the unknown key(s) ${issue.keys.join(', ')}`
        : `is not valid (${issue.message.replace(/^Invalid input: /, '')})`;
    throw new TaskConfigError(
      `The environment variable PLAN ${what} at ${where}; see containers/replicator/README.md for its keys.`,
    );
  }
  const secret = findSecret(parsed.data);
  if (secret)
    throw new TaskConfigError(
      `The environment variable PLAN ${secret[1]} at ${secret[0]}; credentials come only from SOURCE_SECRET_ARN and TARGET_SECRET_ARN.`,
    );
  return parsed.data;
}

/** The PLAN's filters, from `filters` or the top level (not both), checked for syntax. */
function planFilters(plan: TaskPlan): FilterOptions {
  const topLevel = Object.fromEntries(
    FILTER_KEYS.filter((k) => plan[k] !== undefined).map((k) => [k, plan[k]]),
  ) as FilterOptions;
  if (plan.filters && Object.keys(topLevel).length) {
    throw new TaskConfigError(
      `The environment variable PLAN has filters both under "filters" and at the top level (${Object.keys(topLevel).join(', ')}); give them in one place.`,
    );
  }
  const filters = plan.filters ?? topLevel;
  try {
    parseFilters(filters);
  } catch (error) {
    if (error instanceof FilterError)
      throw new TaskConfigError(`The environment variable PLAN has a bad filter: ${error.message}`);
    throw error;
  }
  return filters;
}

/** Reads the subcommand (first argument) and the environment; throws TaskConfigError with one sentence. */
export function parseTaskConfig(args: string[], env: NodeJS.ProcessEnv): TaskConfig {
  const subcommand = args[0];
  if (!SUBCOMMANDS.includes(subcommand as Subcommand) || args.length > 1) {
    throw new TaskConfigError(
      `Run the task with exactly one subcommand, one of ${SUBCOMMANDS.join(', ')} (got ${args.length ? args.map((a) => `"${a.slice(0, 20)}"`).join(' ') : 'none'}); everything else is set through environment variables.`,
    );
  }
  // An empty variable counts as unset, as in a task definition that leaves it blank.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      if (present[name] === undefined) return `${name} is missing (${MEANING[name] ?? 'required'})`;
      return `${name} is not valid: ${issue.message.replace(/^Invalid input: /, '')}`;
    });
    throw new TaskConfigError(
      `Bad environment: ${[...new Set(problems)].join('; ')}; see containers/replicator/README.md.`,
    );
  }
  const e = parsed.data;
  if (e.JOB_TABLE !== undefined && e.STATE_DIR !== undefined) {
    throw new TaskConfigError(
      'Set only one of JOB_TABLE (the DynamoDB job table, on AWS) and STATE_DIR (a local folder for the job store, on a laptop), not both.',
    );
  }
  if (e.JOB_TABLE === undefined && e.STATE_DIR === undefined) {
    throw new TaskConfigError(
      'Set JOB_TABLE (the DynamoDB job table, on AWS) or STATE_DIR (a local folder for the job store, on a laptop); the task records its progress there.',
    );
  }
  const plan = parsePlan(e.PLAN);
  const filters = planFilters(plan);
  if (filters.excludeDatabases?.includes(e.DATABASE)) {
    throw new TaskConfigError(
      `DATABASE names a database that the PLAN's excludeDatabases excludes; remove it from one of them.`,
    );
  }
  return {
    subcommand: subcommand as Subcommand,
    jobId: e.JOB_ID,
    database: e.DATABASE,
    targetDatabase: e.TARGET_DATABASE ?? e.DATABASE,
    sourceSecretArn: e.SOURCE_SECRET_ARN,
    targetSecretArn: e.TARGET_SECRET_ARN,
    ...(e.SOURCE_ENDPOINT ? { sourceEndpoint: e.SOURCE_ENDPOINT } : {}),
    ...(e.TARGET_ENDPOINT ? { targetEndpoint: e.TARGET_ENDPOINT } : {}),
    plan,
    filters,
    store:
      e.JOB_TABLE !== undefined ? { kind: 'dynamodb', tableName: e.JOB_TABLE } : { kind: 'local', dir: e.STATE_DIR! },
    ...(e.TASK_TOKEN ? { taskToken: e.TASK_TOKEN } : {}),
    // The secret's own region when the environment names none (Fargate sets AWS_REGION).
    region: e.AWS_REGION ?? e.AWS_DEFAULT_REGION ?? secretArnRegion(e.SOURCE_SECRET_ARN)!,
    logLevel: e.LOG_LEVEL ?? 'info',
    jobs: e.JOBS ?? plan.jobs ?? Math.max(2, availableParallelism()),
  };
}
