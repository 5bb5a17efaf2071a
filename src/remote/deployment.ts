// Where the deployed workflow is: from a CloudFormation stack's outputs (--stack-name), from
// environment variables, or from the profile `remote configure` saved. Identifiers only, no secrets.
import { readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { z } from 'zod';
import { writeJsonAtomic } from '../jobs/local-files.ts';
import { awsErrorName, describeAwsError, RemoteFailure, RemoteUsageError } from './errors.ts';

/** The secrets prefix the stack may read by default (infra/lib/app-settings.ts DEFAULT_SECRETS_PREFIX). */
export const DEFAULT_SECRETS_PREFIX = 'database-replicator/';

const arn = (service: string) =>
  z.string().regex(new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]*:\\d{12}:.+$`), `must be an ${service} ARN`);

// Region last: when an ARN is wrong, the region read from it is too, and the ARN is what to report.
export const deploymentSchema = z.strictObject({
  stackName: z.string().min(1).optional(),
  replicateStateMachineArn: arn('states'),
  verifyStateMachineArn: arn('states').optional(),
  cleanupStateMachineArn: arn('states').optional(),
  /** The cut-over workflow (stack output CutoverStateMachineArn); stacks deployed before it have none. */
  cutoverStateMachineArn: arn('states').optional(),
  jobTableName: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name'),
  secretsPrefix: z.string().regex(/^[A-Za-z0-9/_+=.@!-]*$/, 'must be the start of a secret name'),
  scheduleGroupName: z
    .string()
    .regex(/^[0-9A-Za-z_.-]{1,64}$/)
    .optional(),
  schedulerRoleArn: arn('iam').optional(),
  /** Where EventBridge Scheduler puts a verify run it could not start (stack output ScheduleDeadLetterQueueArn). */
  scheduleDeadLetterQueueArn: arn('sqs').optional(),
  region: z.string().regex(/^[a-z0-9-]+$/, 'must be an AWS region such as eu-west-1'),
});
export type Deployment = z.infer<typeof deploymentSchema>;
export type DeploymentOrigin = 'stack' | 'env' | 'profile';

/** The environment variables of remote mode; each optional one also overrides a stack's or profile's value. */
export const ENV = {
  stackName: 'DATABASE_REPLICATOR_STACK_NAME',
  replicateStateMachineArn: 'DATABASE_REPLICATOR_STATE_MACHINE_ARN',
  jobTableName: 'DATABASE_REPLICATOR_JOB_TABLE',
  verifyStateMachineArn: 'DATABASE_REPLICATOR_VERIFY_STATE_MACHINE_ARN',
  cleanupStateMachineArn: 'DATABASE_REPLICATOR_CLEANUP_STATE_MACHINE_ARN',
  cutoverStateMachineArn: 'DATABASE_REPLICATOR_CUTOVER_STATE_MACHINE_ARN',
  secretsPrefix: 'DATABASE_REPLICATOR_SECRETS_PREFIX',
  scheduleGroupName: 'DATABASE_REPLICATOR_SCHEDULE_GROUP',
  schedulerRoleArn: 'DATABASE_REPLICATOR_SCHEDULER_ROLE_ARN',
  scheduleDeadLetterQueueArn: 'DATABASE_REPLICATOR_SCHEDULE_DEAD_LETTER_QUEUE_ARN',
  configDir: 'DATABASE_REPLICATOR_CONFIG_DIR',
} as const;

const OPTIONAL_KEYS = [
  'verifyStateMachineArn',
  'cleanupStateMachineArn',
  'cutoverStateMachineArn',
  'secretsPrefix',
  'scheduleGroupName',
  'schedulerRoleArn',
  'scheduleDeadLetterQueueArn',
] as const;

/** Stack output -> deployment field (infra/lib/replicator-stack.ts). The optional ones are read when the stack has them. */
const OUTPUTS: Record<string, keyof Deployment> = {
  ReplicateStateMachineArn: 'replicateStateMachineArn',
  VerifyStateMachineArn: 'verifyStateMachineArn',
  CleanupStateMachineArn: 'cleanupStateMachineArn',
  CutoverStateMachineArn: 'cutoverStateMachineArn',
  JobTableName: 'jobTableName',
  ScheduleGroupName: 'scheduleGroupName',
  SchedulerRoleArn: 'schedulerRoleArn',
  ScheduleDeadLetterQueueArn: 'scheduleDeadLetterQueueArn',
  SecretsPrefix: 'secretsPrefix',
};

type Env = Record<string, string | undefined>;
const value = (env: Env, name: string) => (env[name]?.trim() ? env[name]!.trim() : undefined);

/** `~/.config/database-replicator` (or $XDG_CONFIG_HOME/..., or DATABASE_REPLICATOR_CONFIG_DIR). */
export function configDir(env: Env): string {
  return (
    value(env, ENV.configDir) ??
    join(value(env, 'XDG_CONFIG_HOME') ?? join(homedir(), '.config'), 'database-replicator')
  );
}

export function profilePath(env: Env): string {
  return join(configDir(env), 'remote.json');
}

/** The region in an ARN (arn:aws:states:<region>:...). */
export function regionOf(resourceArn: string): string | undefined {
  return resourceArn.split(':')[3] || undefined;
}

function validated(candidate: Record<string, unknown>, where: string): Deployment {
  const parsed = deploymentSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RemoteUsageError(
      `The deployment from ${where} is not usable: ${issue.path.join('.') || 'it'} ${issue.message.replace(/^Invalid input: /, '')}; fix it or run remote configure again.`,
    );
  }
  return parsed.data;
}

/** Optional values set in the environment, over what a stack or profile says. */
function envOverrides(env: Env): Partial<Deployment> {
  return Object.fromEntries(
    OPTIONAL_KEYS.flatMap((k) => (value(env, ENV[k]) !== undefined ? [[k, value(env, ENV[k])]] : [])),
  );
}

/** The deployment named by DATABASE_REPLICATOR_STATE_MACHINE_ARN and DATABASE_REPLICATOR_JOB_TABLE, if both are set. */
export function deploymentFromEnv(env: Env): Deployment | undefined {
  const machine = value(env, ENV.replicateStateMachineArn);
  const table = value(env, ENV.jobTableName);
  if (!machine && !table) return undefined;
  if (!machine || !table)
    throw new RemoteUsageError(
      `Set both ${ENV.replicateStateMachineArn} and ${ENV.jobTableName} (the stack outputs ReplicateStateMachineArn and JobTableName), or pass --stack-name instead.`,
    );
  const region = regionOf(machine) ?? value(env, 'AWS_REGION') ?? '';
  return validated(
    {
      region,
      replicateStateMachineArn: machine,
      jobTableName: table,
      secretsPrefix: DEFAULT_SECRETS_PREFIX,
      ...envOverrides(env),
    },
    'the environment variables',
  );
}

/** Reads a stack's outputs (DescribeStacks) into a deployment. */
export async function deploymentFromStack(
  cloudFormation: CloudFormationClient,
  stackName: string,
  env: Env = {},
): Promise<Deployment> {
  let stack;
  try {
    // The SDK loads when a stack is read: the CLI's local commands import this module and never do.
    const { DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
    stack = (await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
  } catch (error) {
    if (awsErrorName(error) === 'ValidationError' && /does not exist/i.test((error as Error).message)) {
      throw new RemoteFailure(
        `The stack ${stackName} does not exist in this account and region; check --stack-name and --region (or AWS_REGION).`,
      );
    }
    throw describeAwsError(error, 'cloudformation:DescribeStacks', `read the outputs of stack ${stackName}`);
  }
  if (!stack) throw new RemoteFailure(`The stack ${stackName} was not found; check --stack-name and --region.`);
  const found: Record<string, unknown> = { stackName, secretsPrefix: DEFAULT_SECRETS_PREFIX };
  for (const output of stack.Outputs ?? []) {
    const key = output.OutputKey ? OUTPUTS[output.OutputKey] : undefined;
    if (key && output.OutputValue) found[key] = output.OutputValue;
  }
  if (!found.replicateStateMachineArn || !found.jobTableName) {
    throw new RemoteFailure(
      `The stack ${stackName} has no ReplicateStateMachineArn or JobTableName output; is it a database-replicator stack, and has its deployment finished?`,
    );
  }
  found.region = regionOf(stack.StackId ?? '') ?? regionOf(String(found.replicateStateMachineArn));
  return validated({ ...found, ...envOverrides(env) }, `stack ${stackName}`);
}

const profileSchema = z.object({ version: z.literal(1), savedAt: z.string(), deployment: z.unknown() });

export function readProfile(path: string): Deployment | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RemoteUsageError(
      `The remote profile ${path} cannot be read (${(error as Error).message}); fix its permissions or delete it.`,
    );
  }
  let parsed;
  try {
    parsed = profileSchema.parse(JSON.parse(text));
  } catch {
    throw new RemoteUsageError(
      `The remote profile ${path} is not valid; run remote configure again or delete the file.`,
    );
  }
  return validated(parsed.deployment as Record<string, unknown>, path);
}

/** Writes the profile atomically (mode 0600, though it holds no secret). */
export function writeProfile(path: string, deployment: Deployment, now = new Date()): void {
  writeJsonAtomic(path, { version: 1, savedAt: now.toISOString(), deployment });
}

export function removeProfile(path: string): boolean {
  try {
    rmSync(path);
    return true;
  } catch {
    return false;
  }
}

/** What is configured, found without calling AWS: enough to choose the mode. */
export interface DeploymentHint {
  origin: DeploymentOrigin;
  /** For the mode line: "stack X", "DATABASE_REPLICATOR_STATE_MACHINE_ARN", "profile ~/.config/...". */
  label: string;
}

export function findDeploymentHint(options: { stackName?: string | undefined; env: Env }): DeploymentHint | undefined {
  const stackName = options.stackName ?? value(options.env, ENV.stackName);
  if (stackName) return { origin: 'stack', label: `stack ${stackName}` };
  if (value(options.env, ENV.replicateStateMachineArn) || value(options.env, ENV.jobTableName))
    return { origin: 'env', label: ENV.replicateStateMachineArn };
  const path = profilePath(options.env);
  const saved = readProfile(path);
  if (saved)
    return {
      origin: 'profile',
      label: `${saved.stackName ? `stack ${saved.stackName}` : 'deployment'} saved in ${path}`,
    };
  return undefined;
}

/** The deployment to use: --stack-name (or its variable), then the environment, then the saved profile. */
export async function resolveDeployment(options: {
  stackName?: string | undefined;
  env: Env;
  cloudFormation: () => Promise<CloudFormationClient>;
}): Promise<{ deployment: Deployment; origin: DeploymentOrigin } | undefined> {
  const stackName = options.stackName ?? value(options.env, ENV.stackName);
  if (stackName)
    return {
      deployment: await deploymentFromStack(await options.cloudFormation(), stackName, options.env),
      origin: 'stack',
    };
  const fromEnv = deploymentFromEnv(options.env);
  if (fromEnv) return { deployment: fromEnv, origin: 'env' };
  const saved = readProfile(profilePath(options.env));
  return saved
    ? { deployment: validated({ ...saved, ...envOverrides(options.env) }, profilePath(options.env)), origin: 'profile' }
    : undefined;
}
