import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { withConnection } from '../src/connection/client.ts';
import { ConnectionError } from '../src/connection/errors.ts';
import { withDatabase, type ConnectionSpec } from '../src/connection/url.ts';
import { probeSourceFromTarget } from '../src/replication/reachability.ts';
import { subscriptionConninfo } from '../src/replication/subscription.ts';
import { createSecretsClient } from './shared/clients.ts';
import { resolveEndpoints } from './shared/endpoints.ts';
import { lambdaHandler, parseEvent } from './shared/errors.ts';
import { endpointsEventSchema } from './shared/events.ts';
import { createLambdaLogger, type LambdaLog } from './shared/logger.ts';

// Before anything is copied: can the target server itself reach the source, as the subscription
// will after the copy? A disabled subscription without a slot is created on the target (it connects
// to the source once) and dropped, per database. Errors (by name): SourceUnreachableFromTarget,
// ConnectionFailed, MissingPermission, SecretNotFound, SecretMalformed, InvalidEvent.

const logger = createLambdaLogger('check-target-reaches-source');
const secrets = createSecretsClient();

export const checkTargetReachesSourceEvent = endpointsEventSchema.extend({
  /** A CA file on the target server, as the plan's subscriptionSslRootCert gives it to the subscription. */
  subscriptionSslRootCert: z.string().min(1).max(1024).optional(),
});
export type CheckTargetReachesSourceEvent = z.infer<typeof checkTargetReachesSourceEvent>;

export interface CheckTargetReachesSourceResult {
  jobId: string;
  /** The source databases the target reached. */
  databases: string[];
}

export interface CheckTargetReachesSourceDependencies {
  secrets: SecretsManagerClient;
  logger?: LambdaLog;
  probe?: typeof probeSourceFromTarget;
}

/** The target database may not exist before the copy: the probe then runs in the target's postgres database. */
async function withTarget<T>(
  target: ConnectionSpec,
  tls: { allowSelfSignedCerts: boolean },
  fn: (client: Parameters<typeof probeSourceFromTarget>[0]) => Promise<T>,
): Promise<T> {
  try {
    return await withConnection(target, { role: 'target', ...tls }, fn);
  } catch (error) {
    if (!(error instanceof ConnectionError && error.reason === 'database-missing') || target.database === 'postgres')
      throw error;
    return withConnection(withDatabase(target, 'postgres'), { role: 'target', ...tls }, fn);
  }
}

export async function checkTargetReachesSource(
  event: CheckTargetReachesSourceEvent,
  deps: CheckTargetReachesSourceDependencies,
): Promise<CheckTargetReachesSourceResult> {
  // Not narrowed to the databases: the probe runs in whichever target database the secret names.
  const { source, target } = await resolveEndpoints(deps.secrets, { ...event, databases: undefined });
  const tls = { allowSelfSignedCerts: event.allowSelfSignedCerts ?? false };
  const databases = event.databases ?? [source.database];
  const probe = deps.probe ?? probeSourceFromTarget;
  await withTarget(target, tls, async (client) => {
    for (const database of databases) {
      deps.logger?.info('probing the source from the target', { jobId: event.jobId, database });
      await probe(
        client,
        subscriptionConninfo(withDatabase(source, database), tls, { targetSslRootCert: event.subscriptionSslRootCert }),
        database,
      );
    }
  });
  deps.logger?.info('the target reaches the source', { jobId: event.jobId, databases: databases.length });
  return { jobId: event.jobId, databases };
}

export const handler = lambdaHandler(logger, (event) =>
  checkTargetReachesSource(parseEvent(checkTargetReachesSourceEvent, event), { secrets, logger }),
);
