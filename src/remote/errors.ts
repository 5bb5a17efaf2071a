// The remote mode's two kinds of failure, so the CLI can tell a usage problem (exit 2) from a
// workflow or AWS problem (exit 1). Messages are one sentence saying what to do; never a secret.
import { ACCESS_DENIED } from '../errors/aws-errors.ts';

/** The request cannot be served as given (a missing flag, a deployment that lacks a workflow): exit 2. */
export class RemoteUsageError extends Error {
  override name = 'RemoteUsageError';
}

/** AWS refused or the deployment is not as expected (missing stack, permissions): exit 1. */
export class RemoteFailure extends Error {
  override name = 'RemoteFailure';
}

/** The error's name as the AWS SDK sets it (ResourceExistsException, ConflictException, ...). */
export function awsErrorName(error: unknown): string {
  return (error as { name?: string } | undefined)?.name ?? '';
}

/**
 * An AWS error as one sentence: a permission problem names the action to grant, anything else keeps
 * the service's message (which names resources, never secret values).
 */
export function describeAwsError(error: unknown, action: string, what: string): RemoteFailure {
  const name = awsErrorName(error);
  if (ACCESS_DENIED.has(name))
    return new RemoteFailure(
      `Your AWS identity may not ${what}; grant it ${action} (see the README section "Remote mode" for the full list).`,
    );
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test((error as Error)?.message ?? '')) {
    return new RemoteFailure(
      `No AWS credentials were found to ${what}; sign in (aws sso login, AWS_PROFILE or AWS_ACCESS_KEY_ID) or run the command with --local.`,
    );
  }
  if (/Region is missing/i.test((error as Error)?.message ?? '')) {
    return new RemoteFailure(
      `No AWS region is set to ${what}; pass --region, set AWS_REGION, or run remote configure again.`,
    );
  }
  const message = (error as Error)?.message ?? String(error);
  return new RemoteFailure(`Could not ${what} (${name || 'error'}: ${message.replace(/\s+/g, ' ').trim()}).`);
}
