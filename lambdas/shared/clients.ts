import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { tracer } from './observability.ts';

/**
 * Settings shared by the SDK clients of every function. The region comes from the Lambda runtime
 * (AWS_REGION); retries use the SDK's standard mode, which backs off on throttling.
 */
export function awsClientConfig(): { region?: string; maxAttempts: number } {
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  return { ...(region ? { region } : {}), maxAttempts: 5 };
}

/** Create at module scope, once per execution environment, so connections are reused across invocations. */
export function createSecretsClient(): SecretsManagerClient {
  return tracer.captureAWSv3Client(new SecretsManagerClient(awsClientConfig()));
}

export function createRdsClient(): RDSClient {
  return tracer.captureAWSv3Client(new RDSClient(awsClientConfig()));
}
