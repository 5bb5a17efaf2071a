import { resolve } from 'node:path';
import { RemovalPolicy } from 'aws-cdk-lib';
import type { Node } from 'constructs';
import { DEFAULT_TASK_CPU, DEFAULT_TASK_MEMORY, fargateSizeProblem } from './fargate-sizes.ts';
import { readCaBundle } from './rds-ca-bundle.ts';
import { FULL_SECRET_ARN } from '../../src/inputs/schemas.ts';
import {
  ECR_REPOSITORY,
  EMAIL,
  IMAGE_TAG,
  KMS_KEY_ARN,
  SECRET_PREFIX,
  SECURITY_GROUP_ID,
  SUBNET_ID,
  VPC_ID,
} from './validation.ts';

/** An existing VPC to run in: the subnets (private, with a route to the AWS APIs) and the security group used by tasks and functions. */
export interface NetworkSettings {
  readonly vpcId: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupId: string;
}

/** Which secrets the functions and the task may read: every secret whose name starts with a prefix, or a fixed list. */
export type SecretAccessSettings = { readonly namePrefix: string } | { readonly secretArns: readonly string[] };

export type CpuArchitectureName = 'x86_64' | 'arm64';

export interface TaskSettings {
  /** CPU units (1024 = one vCPU) and memory in MiB: a combination Fargate accepts. */
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly architecture: CpuArchitectureName;
}

/** A prebuilt image in an ECR repository of the deployment account and region, instead of building containers/replicator. */
export interface ImageSettings {
  readonly repositoryName: string;
  readonly tag: string;
}

export interface AppSettings {
  readonly stackName: string;
  readonly removalPolicy: RemovalPolicy;
  /** Left out: the stack creates a VPC (2 AZs, one NAT gateway). */
  readonly network?: NetworkSettings;
  readonly secrets: SecretAccessSettings;
  /** Customer managed KMS keys of the secrets: the roles that read secrets get kms:Decrypt on them. */
  readonly secretsKmsKeyArns?: string[];
  readonly task: TaskSettings;
  readonly alarmEmail?: string;
  readonly image?: ImageSettings;
  /** The RDS global CA bundle file for the functions (see ReplicatorStackProps.rdsCaBundle). */
  readonly rdsCaBundle?: string;
}

export const DEFAULT_STACK_NAME = 'DatabaseReplicator';
export const DEFAULT_SECRETS_PREFIX = 'database-replicator/';

/** CloudFormation's own rule; checking it here fails at synth instead of halfway through a deploy. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

type Context = (key: string) => unknown;

function refuse(key: string, raw: unknown, what: string): never {
  throw new Error(`Context ${key} ${JSON.stringify(raw)} is not valid: ${what}`);
}

function text(ctx: Context, key: string, format: RegExp, what: string): string | undefined {
  const raw = ctx(key);
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !format.test(raw)) refuse(key, raw, what);
  return raw;
}

/** A list from the command line ("a,b" or '["a","b"]') or from cdk.json (a JSON array). */
function list(ctx: Context, key: string, format: RegExp, what: string): string[] | undefined {
  const raw = ctx(key);
  if (raw === undefined) return undefined;
  let items: unknown = raw;
  if (typeof raw === 'string') {
    try {
      items = raw.trim().startsWith('[') ? JSON.parse(raw) : raw.split(',').map((s) => s.trim());
    } catch {
      refuse(key, raw, what);
    }
  }
  if (
    !Array.isArray(items) ||
    items.length === 0 ||
    !items.every((i) => typeof i === 'string' && format.test(i)) ||
    new Set(items).size !== items.length
  )
    refuse(key, raw, what);
  return items as string[];
}

function integer(ctx: Context, key: string, fallback: number, what: string): number {
  const raw = ctx(key) ?? fallback;
  const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value)) refuse(key, raw, what);
  return value;
}

function readNetwork(ctx: Context): NetworkSettings | undefined {
  const vpcId = text(
    ctx,
    'vpcId',
    VPC_ID,
    'pass -c vpcId=vpc-0123456789abcdef0 (an existing VPC), or leave it out to create one.',
  );
  const subnetIds = list(
    ctx,
    'subnetIds',
    SUBNET_ID,
    'pass -c subnetIds=subnet-0123456789abcdef0,subnet-... (private subnets of the VPC, each once).',
  );
  const securityGroupId = text(
    ctx,
    'securityGroupId',
    SECURITY_GROUP_ID,
    'pass -c securityGroupId=sg-0123456789abcdef0 (the group the tasks and functions use).',
  );
  const given = [vpcId, subnetIds, securityGroupId].filter((v) => v !== undefined).length;
  if (given === 0) return undefined;
  if (given < 3) {
    throw new Error(
      'Context vpcId, subnetIds and securityGroupId go together: pass all three to use an existing VPC, or none to let the stack create one.',
    );
  }
  return { vpcId: vpcId!, subnetIds: subnetIds!, securityGroupId: securityGroupId! };
}

function readSecrets(ctx: Context): SecretAccessSettings {
  const namePrefix = text(
    ctx,
    'secretsPrefix',
    SECRET_PREFIX,
    'pass -c secretsPrefix=<start of the secret names>, such as database-replicator/ (letters, digits and /_+=.@!-, no wildcard; rds! covers the RDS-managed secrets).',
  );
  const secretArns = list(
    ctx,
    'secretArns',
    FULL_SECRET_ARN,
    'pass -c secretArns=<full secret ARN>,<full secret ARN> (each with the six characters Secrets Manager appends to the name).',
  );
  if (namePrefix !== undefined && secretArns !== undefined) {
    throw new Error(
      'Context secretsPrefix and secretArns exclude each other: pass a name prefix or a list of secret ARNs, not both.',
    );
  }
  return secretArns ? { secretArns } : { namePrefix: namePrefix ?? DEFAULT_SECRETS_PREFIX };
}

function readTask(ctx: Context): TaskSettings {
  const cpu = integer(ctx, 'taskCpu', DEFAULT_TASK_CPU, 'pass -c taskCpu=<CPU units>, such as 1024 for one vCPU.');
  const memoryMiB = integer(ctx, 'taskMemory', DEFAULT_TASK_MEMORY, 'pass -c taskMemory=<MiB>, such as 2048.');
  const problem = fargateSizeProblem(cpu, memoryMiB);
  if (problem) throw new Error(`Context ${problem}`);
  const architecture =
    text(
      ctx,
      'taskArchitecture',
      /^(x86_64|arm64)$/,
      'pass -c taskArchitecture=x86_64 or -c taskArchitecture=arm64.',
    ) ?? 'x86_64';
  return { cpu, memoryMiB, architecture: architecture as CpuArchitectureName };
}

function readImage(ctx: Context): ImageSettings | undefined {
  const repositoryName = text(
    ctx,
    'imageRepository',
    ECR_REPOSITORY,
    'pass -c imageRepository=<ECR repository name in this account and region>, such as database-replicator.',
  );
  const tag = text(ctx, 'imageTag', IMAGE_TAG, 'pass -c imageTag=<tag> (letters, digits, _ . -) or sha256:<digest>.');
  if ((repositoryName === undefined) !== (tag === undefined)) {
    throw new Error(
      'Context imageRepository and imageTag go together: pass both to run a prebuilt image, or neither to build containers/replicator at deploy time.',
    );
  }
  return repositoryName && tag ? { repositoryName, tag } : undefined;
}

/** -c rdsCaBundle=<file>: the RDS global CA bundle the functions carry, checked now rather than at deploy. */
function readCaBundleFile(ctx: Context): string | undefined {
  const raw = ctx('rdsCaBundle');
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw.trim() === '')
    refuse('rdsCaBundle', raw, 'pass -c rdsCaBundle=<path to the RDS global-bundle.pem>, or leave it out.');
  const file = resolve(raw);
  try {
    readCaBundle(file);
  } catch (error) {
    throw new Error(`Context rdsCaBundle: ${(error as Error).message}`, { cause: error });
  }
  return file;
}

/**
 * Reads the app's `-c` context. Values arrive as strings from the command line but as JSON values
 * from cdk.json or cdk.context.json, so both spellings are accepted.
 */
export function readAppSettings(node: Node): AppSettings {
  const ctx: Context = (key) => node.tryGetContext(key);
  const rawName: unknown = ctx('stackName') ?? DEFAULT_STACK_NAME;
  if (typeof rawName !== 'string' || !STACK_NAME.test(rawName)) {
    throw new Error(
      `Context stackName ${JSON.stringify(rawName)} is not a valid CloudFormation stack name: ` +
        'pass -c stackName=<name> with a letter first, then letters, digits or hyphens, at most 128 characters.',
    );
  }
  const rawRetain: unknown = ctx('retainData') ?? true;
  const retain =
    rawRetain === true || rawRetain === 'true'
      ? true
      : rawRetain === false || rawRetain === 'false'
        ? false
        : undefined;
  if (retain === undefined) {
    throw new Error(
      `Context retainData ${JSON.stringify(rawRetain)} is not valid: pass -c retainData=true (keep the job table on stack deletion) or -c retainData=false.`,
    );
  }
  const network = readNetwork(ctx);
  const alarmEmail = text(
    ctx,
    'alarmEmail',
    EMAIL,
    'pass -c alarmEmail=<address> to get the alarms by e-mail, or leave it out.',
  );
  const image = readImage(ctx);
  const secretsKmsKeyArns = list(
    ctx,
    'secretsKmsKeyArn',
    KMS_KEY_ARN,
    'pass -c secretsKmsKeyArn=arn:aws:kms:<region>:<account>:key/<key id> (the key the secrets are encrypted with; several comma-separated, each once), or leave it out for the AWS managed key.',
  );
  const rdsCaBundle = readCaBundleFile(ctx);
  return {
    stackName: rawName,
    removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    ...(network ? { network } : {}),
    secrets: readSecrets(ctx),
    ...(secretsKmsKeyArns ? { secretsKmsKeyArns } : {}),
    task: readTask(ctx),
    ...(alarmEmail ? { alarmEmail } : {}),
    ...(image ? { image } : {}),
    ...(rdsCaBundle ? { rdsCaBundle } : {}),
  };
}
