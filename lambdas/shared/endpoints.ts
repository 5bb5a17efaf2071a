import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { resolveSecretConnection, type SecretCache } from '../../src/connection/secrets.ts';
import { withDatabase, type ConnectionSpec } from '../../src/connection/url.ts';
import { checkCertificateFiles } from '../../src/task/rds-ca-bundle.ts';

type Endpoint = { host: string; port?: number };

/**
 * Reads the source and target secrets of one invocation (each once), refusing one that names a
 * certificate file this function does not have. With one database to
 * replicate, the target database is `targetDatabase` when given, else (a target secret that names
 * none) that database, as init would name it.
 */
export async function resolveEndpoints(
  secrets: SecretsManagerClient,
  event: {
    sourceSecretArn: string;
    targetSecretArn: string;
    sourceEndpoint?: Endpoint | undefined;
    targetEndpoint?: Endpoint | undefined;
    databases?: string[] | undefined;
    targetDatabase?: string | undefined;
  },
  cache: SecretCache = new Map(),
): Promise<{ source: ConnectionSpec; target: ConnectionSpec }> {
  const [source, target] = await Promise.all([
    resolveSecretConnection(secrets, event.sourceSecretArn, {
      cache,
      ...(event.sourceEndpoint ? { endpoint: event.sourceEndpoint } : {}),
    }),
    resolveSecretConnection(secrets, event.targetSecretArn, {
      cache,
      ...(event.targetEndpoint ? { endpoint: event.targetEndpoint } : {}),
    }),
  ]);
  checkCertificateFiles(source, event.sourceSecretArn);
  checkCertificateFiles(target, event.targetSecretArn);
  const only = event.databases?.length === 1 ? event.databases[0]! : undefined;
  if (only !== undefined && event.targetDatabase) return { source, target: withDatabase(target, event.targetDatabase) };
  return { source, target: only !== undefined && !target.databaseGiven ? withDatabase(target, only) : target };
}
