// The workflow reads credentials from Secrets Manager, so remote mode hands it secret ARNs only.
// An ARN given with --source-secret / --target-secret is used as it is (an RDS-managed master user
// secret too); a URL is stored as a secret `{"url": ...}` under the deployment's prefix, named after
// the job, and only its ARN goes on. Names, descriptions and tags never hold a password.
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SECRET_ARN } from '../inputs/schemas.ts';
import { parseConnectionUrl, type ConnectionSpec } from '../connection/url.ts';
import { certificateFiles, RDS_CA_BUNDLE } from '../task/rds-ca-bundle.ts';
import { awsErrorName, describeAwsError, RemoteFailure, RemoteUsageError } from './errors.ts';

export type Side = 'source' | 'target';

export const JOB_TAG = 'database-replicator:job';
export const ROLE_TAG = 'database-replicator:role';

/** What the user gave for one side: a secret ARN, or a URL (validated by the caller's parse). */
export interface SideCredentials {
  secretArn?: string | undefined;
  url?: string | undefined;
}

export interface StoredCredentials {
  secretArn: string;
  /** Set when a URL was stored: create or update. */
  stored?: 'created' | 'updated';
  /** The URL held no password: the workflow has no ~/.pgpass or PGPASSWORD to fall back on. */
  noPassword?: boolean;
}

export function secretName(prefix: string, jobId: string, side: Side): string {
  return `${prefix}${jobId}/${side}`;
}

export function checkSecretArn(arn: string, side: Side): string {
  if (!SECRET_ARN.test(arn))
    throw new RemoteUsageError(
      `--${side}-secret must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>), not a name or a URL.`,
    );
  return arn;
}

async function storeUrl(
  secrets: SecretsManagerClient,
  name: string,
  url: string,
  jobId: string,
  side: Side,
): Promise<StoredCredentials> {
  const SecretString = JSON.stringify({ url });
  try {
    const created = await secrets.send(
      new CreateSecretCommand({
        Name: name,
        SecretString,
        Description: `database-replicator: the ${side} connection of job ${jobId}, stored by the CLI for the remote workflow`,
        Tags: [
          { Key: JOB_TAG, Value: jobId },
          { Key: ROLE_TAG, Value: side },
        ],
      }),
    );
    return { secretArn: created.ARN!, stored: 'created' };
  } catch (error) {
    if (awsErrorName(error) !== 'ResourceExistsException') throw secretError(error, name);
  }
  try {
    const updated = await secrets.send(new PutSecretValueCommand({ SecretId: name, SecretString }));
    return { secretArn: updated.ARN!, stored: 'updated' };
  } catch (error) {
    throw secretError(error, name);
  }
}

function secretError(error: unknown, name: string): Error {
  const kind = awsErrorName(error);
  if (kind === 'InvalidRequestException')
    return new RemoteFailure(
      `The secret ${name} cannot be written (it may be scheduled for deletion); restore it (aws secretsmanager restore-secret) or pass another --job-id.`,
    );
  // The SDK's message never holds the value, but keep ours to the name and the action.
  return describeAwsError(
    error,
    'secretsmanager:CreateSecret, PutSecretValue and TagResource on the secrets prefix',
    `store the connection URL as secret ${name}`,
  );
}

/**
 * A URL stored for the workflow must not name a file on this machine (a CA bundle, a client
 * certificate): the functions and tasks that read the secret do not have it, and would fail on it.
 */
export function refuseLocalFiles(spec: ConnectionSpec, side: Side): void {
  const local = certificateFiles(spec).find((f) => f.path !== RDS_CA_BUNDLE);
  if (!local) return;
  throw new RemoteUsageError(
    `The ${side} URL names ${local.key}=${local.path}, a file on this machine that the workflow cannot read; for an RDS server use sslrootcert=${RDS_CA_BUNDLE} (the RDS CA bundle deployed with the workflow), sslrootcert=system for a public CA, or pass --${side}-secret with a secret of your own.`,
  );
}

/** The secret ARN for one side: the given ARN, or the URL stored under `<prefix><jobId>/<side>`. */
export async function secretArnFor(
  secrets: SecretsManagerClient,
  options: { side: Side; jobId: string; prefix: string; given: SideCredentials },
): Promise<StoredCredentials> {
  const { side, given } = options;
  if (given.secretArn) return { secretArn: checkSecretArn(given.secretArn, side) };
  if (!given.url) {
    throw new RemoteUsageError(
      `The ${side} is missing: pass --${side}-secret <secret ARN>, or a URL (--${side} or DATABASE_REPLICATOR_${side.toUpperCase()}_URL), which the CLI stores in Secrets Manager for the workflow.`,
    );
  }
  const spec: ConnectionSpec = parseConnectionUrl(given.url);
  refuseLocalFiles(spec, side);
  const result = await storeUrl(
    secrets,
    secretName(options.prefix, options.jobId, side),
    given.url.trim(),
    options.jobId,
    side,
  );
  return spec.password === undefined ? { ...result, noPassword: true } : result;
}

/** Days a deleted secret can still be restored (aws secretsmanager restore-secret); the shortest Secrets Manager allows. */
export const RECOVERY_DAYS = 7;

/** Of a job's secret ARNs, those the CLI stored for it (named `<prefix><jobId>/<side>`, plus the six characters Secrets Manager appends). */
export function storedSecretArns(arns: readonly string[], prefix: string, jobId: string): string[] {
  const names = new Set((['source', 'target'] as const).map((side) => secretName(prefix, jobId, side)));
  return [...new Set(arns)].filter((arn) =>
    names.has(arn.slice(arn.indexOf(':secret:') + ':secret:'.length).replace(/-[A-Za-z0-9]{6}$/, '')),
  );
}

/**
 * Deletes the secrets the CLI stored for a job once its clean-up is done (nothing reads them any
 * more, and each costs money every month), with the shortest recovery window. Returns the ARNs deleted.
 */
export async function deleteStoredSecrets(secrets: SecretsManagerClient, arns: readonly string[]): Promise<string[]> {
  const deleted: string[] = [];
  for (const arn of arns) {
    try {
      await secrets.send(new DeleteSecretCommand({ SecretId: arn, RecoveryWindowInDays: RECOVERY_DAYS }));
      deleted.push(arn);
    } catch (error) {
      if (awsErrorName(error) === 'ResourceNotFoundException') continue;
      throw describeAwsError(error, 'secretsmanager:DeleteSecret on the secrets prefix', `delete the secret ${arn}`);
    }
  }
  return deleted;
}
