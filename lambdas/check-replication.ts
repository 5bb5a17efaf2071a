import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { readServerFacts } from '../src/catalog/server.ts';
import { openClient } from '../src/connection/client.ts';
import { resolveSecretConnection, type SecretCache } from '../src/connection/secrets.ts';
import type { ConnectionSpec } from '../src/connection/url.ts';
import { withClients } from '../src/replication/job.ts';
import { checkCertificateFiles } from '../src/task/rds-ca-bundle.ts';
import { createHash } from 'node:crypto';
import { detectDrift, explainWithDrift } from '../src/drift/detect.ts';
import { describeFinding, type DriftFinding } from '../src/drift/types.ts';
import {
  judge,
  readSlotStatus,
  readSubscriptionStatus,
  type SlotStatus,
  type SubscriptionStatus,
  type Verdict,
} from '../src/replication/status.ts';
import { createSecretsClient } from './shared/clients.ts';
import { lambdaHandler, parseEvent } from './shared/errors.ts';
import { endpointSchema, secretArnSchema } from '../src/inputs/schemas.ts';
import { jobIdSchema } from './shared/events.ts';
import { createLambdaLogger, type LambdaLog } from './shared/logger.ts';

// The replication health of one database: the slot on the source, the subscription on the target,
// and the verdict. It reports rather than throws for a broken replication (`verdict: 'broken'`),
// so the workflow's wait loop decides with a Choice on `inSync` and `verdict`. Errors (by name):
// ConnectionFailed, MissingPermission, SecretNotFound, SecretMalformed, InvalidEvent. Schema drift of the
// published tables (src/drift) comes as lines with their fix and a key that changes with them.

const logger = createLambdaLogger('check-replication');
const secrets = createSecretsClient();

const objectName = z
  .string()
  .regex(
    /^[a-z0-9_]{1,63}$/,
    'must be 1 to 63 lower-case letters, digits or _ (a replication slot or subscription name)',
  );

export const checkReplicationEvent = z.object({
  jobId: jobIdSchema,
  database: z.string().min(1).max(63),
  /** The target database when it differs from the source's. */
  targetDatabase: z.string().min(1).max(63).optional(),
  sourceSecretArn: secretArnSchema,
  targetSecretArn: secretArnSchema,
  /** Where to connect when a secret names no host (an RDS-managed master user secret). */
  sourceEndpoint: endpointSchema.optional(),
  targetEndpoint: endpointSchema.optional(),
  subscription: objectName,
  slot: objectName,
  /** False before sync created the subscription: a missing subscription then means "initializing", not "broken". */
  subscribed: z.boolean().optional(),
  allowSelfSignedCerts: z.boolean().optional(),
});
export type CheckReplicationEvent = z.infer<typeof checkReplicationEvent>;

export interface CheckReplicationResult {
  jobId: string;
  database: string;
  targetDatabase: string;
  slot: string;
  subscription: string;
  inSync: boolean;
  verdict: Verdict;
  reason: string;
  /** WAL the subscriber has not confirmed yet. */
  lagBytes: number;
  lagSeconds: number | null;
  /** WAL the slot keeps on the source's disk. */
  retainedBytes: number;
  diskRisk: boolean;
  slotExists: boolean;
  slotActive: boolean;
  subscriptionExists: boolean;
  subscriptionEnabled: boolean;
  workerRunning: boolean;
  tablesNotReady: number;
  applyErrors: number | null;
  syncErrors: number | null;
  /** Schema drift, one line per difference with the statements that fix it (at most MAX_DRIFT_LINES). */
  drift: string[];
  /** Changes whenever the drift does ('' without drift): the workflow records and tells a new drift once. */
  driftKey: string;
}

/** Lines of drift the result carries: the execution's state payload is limited to 256 KiB. */
export const MAX_DRIFT_LINES = 20;

export interface ReplicationSides {
  slot: SlotStatus;
  subscription: SubscriptionStatus;
  drift: readonly DriftFinding[];
}

/** Reads the slot on the source database and the subscription on the target database. */
export async function readReplicationSides(
  source: ConnectionSpec,
  target: ConnectionSpec,
  names: { slot: string; subscription: string },
  tls: { allowSelfSignedCerts: boolean },
): Promise<ReplicationSides> {
  return withClients(
    [openClient(source, { role: 'source', ...tls }), openClient(target, { role: 'target', ...tls })],
    async (sourceClient, targetClient) => {
      const { major } = await readServerFacts(targetClient!);
      const [slot, subscription] = await Promise.all([
        readSlotStatus(sourceClient!, names.slot),
        readSubscriptionStatus(targetClient!, names.subscription, major),
      ]);
      // Drift is read from the subscription's own publications: nothing to compare before sync made it.
      const drift = subscription.exists
        ? await detectDrift(sourceClient!, targetClient!, {
            database: source.database,
            subscription: names.subscription,
          })
        : [];
      return { slot, subscription, drift };
    },
  );
}

export interface CheckReplicationDependencies {
  secrets: SecretsManagerClient;
  logger?: LambdaLog;
  readSides?: typeof readReplicationSides;
}

export async function checkReplication(
  event: CheckReplicationEvent,
  deps: CheckReplicationDependencies,
): Promise<CheckReplicationResult> {
  const targetDatabase = event.targetDatabase ?? event.database;
  const cache: SecretCache = new Map();
  const [source, target] = await Promise.all([
    resolveSecretConnection(deps.secrets, event.sourceSecretArn, {
      database: event.database,
      cache,
      ...(event.sourceEndpoint ? { endpoint: event.sourceEndpoint } : {}),
    }),
    resolveSecretConnection(deps.secrets, event.targetSecretArn, {
      database: targetDatabase,
      cache,
      ...(event.targetEndpoint ? { endpoint: event.targetEndpoint } : {}),
    }),
  ]);
  checkCertificateFiles(source, event.sourceSecretArn);
  checkCertificateFiles(target, event.targetSecretArn);
  const sides = await (deps.readSides ?? readReplicationSides)(
    source,
    target,
    { slot: event.slot, subscription: event.subscription },
    { allowSelfSignedCerts: event.allowSelfSignedCerts ?? false },
  );
  const judged = judge(sides.slot, sides.subscription, event.subscribed ?? true);
  const { verdict, diskRisk } = judged;
  const reason = explainWithDrift(
    judged,
    sides.slot.exists && sides.slot.walStatus !== 'lost' && sides.subscription.exists,
    sides.drift,
  );
  const drift = sides.drift.map((f) => describeFinding(f).slice(0, 1000));
  const result: CheckReplicationResult = {
    jobId: event.jobId,
    database: event.database,
    targetDatabase,
    slot: event.slot,
    subscription: event.subscription,
    inSync: verdict === 'in sync',
    verdict,
    reason,
    lagBytes: sides.slot.lagBytes,
    lagSeconds: sides.subscription.lagSeconds,
    retainedBytes: sides.slot.retainedBytes,
    diskRisk,
    slotExists: sides.slot.exists,
    slotActive: sides.slot.active,
    subscriptionExists: sides.subscription.exists,
    subscriptionEnabled: sides.subscription.enabled,
    workerRunning: sides.subscription.workerRunning,
    tablesNotReady: Object.values(sides.subscription.tables).filter((s) => s !== 'ready').length,
    applyErrors: sides.subscription.applyErrors,
    syncErrors: sides.subscription.syncErrors,
    drift: drift.slice(0, MAX_DRIFT_LINES),
    driftKey: drift.length ? createHash('sha256').update(drift.join('\n')).digest('hex').slice(0, 16) : '',
  };
  const log = verdict === 'broken' ? deps.logger?.warn : deps.logger?.info;
  log?.call(deps.logger, `replication of ${event.database} is ${verdict}: ${reason}`, {
    jobId: event.jobId,
    database: event.database,
    lagBytes: result.lagBytes,
  });
  return result;
}

export const handler = lambdaHandler(logger, (event) =>
  checkReplication(parseEvent(checkReplicationEvent, event), { secrets, logger }),
);
