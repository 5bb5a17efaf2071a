import { Metrics } from '@aws-lambda-powertools/metrics';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { openClient } from '../src/connection/client.ts';
import { resolveSecretConnection, type SecretCache } from '../src/connection/secrets.ts';
import { withDatabase } from '../src/connection/url.ts';
import { DynamoDbJobStore, type JobStore } from '../src/jobs/index.ts';
import { publishReport, type MetricSink } from '../src/monitor/metrics.ts';
import { monitorJob, type ReadingHistory } from '../src/monitor/monitor.ts';
import { guardCommands } from '../src/monitor/wal-guard.ts';
import { replicationObjectName } from '../src/jobs/naming.ts';
import { checkCertificateFiles } from '../src/task/rds-ca-bundle.ts';
import { engineJobId } from '../src/task/scope.ts';
import { awsClientConfig, createSecretsClient } from './shared/clients.ts';
import { lambdaHandler, parseEvent } from './shared/errors.ts';
import { endpointSchema, secretArnSchema } from '../src/inputs/schemas.ts';
import { databasesSchema, jobIdSchema } from './shared/events.ts';
import { createLambdaLogger, type LambdaLog } from './shared/logger.ts';

// Run once a minute per job by its EventBridge Scheduler schedule (health-<jobId>, created by the
// replicate workflow, deleted by cleanup): reads every database's slot and subscription, publishes
// the readings through Powertools Metrics (src/monitor/metrics.ts lists them), warns when a slot's WAL
// grows with nothing consuming it, and with maxRetainedWalGb drops a slot past that limit, recording
// why in the job record. An RDS source's FreeStorageSpace is read through CloudWatch and published
// beside them. Errors (by name): ConnectionFailed, SecretNotFound, SecretMalformed, InvalidEvent.

const logger = createLambdaLogger('monitor-replication');
const secrets = createSecretsClient();

export const monitorReplicationEvent = z.strictObject({
  jobId: jobIdSchema,
  databases: databasesSchema,
  /** The target database of each database, in order, when the input names others. */
  targetDatabases: databasesSchema.optional(),
  sourceSecretArn: secretArnSchema,
  targetSecretArn: secretArnSchema,
  sourceEndpoint: endpointSchema.optional(),
  targetEndpoint: endpointSchema.optional(),
  /** The RDS instance of the source, for its FreeStorageSpace. */
  sourceInstanceIdentifier: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]{0,62}$/, 'must be a DB instance identifier')
    .optional(),
  /** Opt-in hard limit: drop a slot that retains more WAL than this many GiB. */
  maxRetainedWalGb: z.number().positive().max(1_000_000).optional(),
  allowSelfSignedCerts: z.boolean().optional(),
});
export type MonitorReplicationEvent = z.infer<typeof monitorReplicationEvent>;

export interface MonitorReplicationResult {
  jobId: string;
  databases: {
    database: string;
    retainedBytes?: number;
    lagBytes?: number;
    warning?: string;
    slotDropped?: string;
    error?: string;
  }[];
  sourceFreeStorageBytes?: number;
}

export interface MonitorReplicationDependencies {
  secrets: SecretsManagerClient;
  metrics: MetricSink;
  cloudwatch?: CloudWatchClient;
  store?: JobStore;
  history?: ReadingHistory;
  logger?: LambdaLog;
  now?: () => Date;
}

/** The latest FreeStorageSpace of an RDS instance over the last 15 minutes (RDS publishes it every minute); undefined without data. */
export async function readFreeStorage(
  cloudwatch: CloudWatchClient,
  instanceIdentifier: string,
  now: Date,
): Promise<number | undefined> {
  const result = await cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(now.getTime() - 15 * 60_000),
      EndTime: now,
      ScanBy: 'TimestampDescending',
      MetricDataQueries: [
        {
          Id: 'free',
          MetricStat: {
            Metric: {
              Namespace: 'AWS/RDS',
              MetricName: 'FreeStorageSpace',
              Dimensions: [{ Name: 'DBInstanceIdentifier', Value: instanceIdentifier }],
            },
            Period: 60,
            Stat: 'Minimum',
          },
        },
      ],
    }),
  );
  return result.MetricDataResults?.[0]?.Values?.[0];
}

export async function monitorReplication(
  event: MonitorReplicationEvent,
  deps: MonitorReplicationDependencies,
): Promise<MonitorReplicationResult> {
  const now = deps.now ?? (() => new Date());
  const cache: SecretCache = new Map();
  const [source, target] = await Promise.all([
    resolveSecretConnection(deps.secrets, event.sourceSecretArn, {
      cache,
      ...(event.sourceEndpoint ? { endpoint: event.sourceEndpoint } : {}),
    }),
    resolveSecretConnection(deps.secrets, event.targetSecretArn, {
      cache,
      ...(event.targetEndpoint ? { endpoint: event.targetEndpoint } : {}),
    }),
  ]);
  checkCertificateFiles(source, event.sourceSecretArn);
  checkCertificateFiles(target, event.targetSecretArn);
  const tls = { allowSelfSignedCerts: event.allowSelfSignedCerts ?? false };
  const report = await monitorJob(
    {
      jobId: event.jobId,
      // The names the task gives slot and subscription (src/task/scope.ts), as the replicate workflow computes them.
      databases: event.databases.map((database) => {
        const name = replicationObjectName(engineJobId(event.jobId, database), database);
        return { database, slot: name, subscription: name };
      }),
      ...(event.maxRetainedWalGb !== undefined ? { maxRetainedWalGb: event.maxRetainedWalGb } : {}),
      commands: guardCommands(event.jobId, 'remote'),
    },
    {
      openSource: (database) => openClient(withDatabase(source, database), { role: 'source', ...tls }),
      openTarget: (database) =>
        openClient(withDatabase(target, event.targetDatabases?.[event.databases.indexOf(database)] ?? database), {
          role: 'target',
          ...tls,
        }),
      ...(deps.store ? { store: deps.store } : {}),
      ...(deps.history ? { history: deps.history } : {}),
      now,
    },
  );
  let sourceFreeStorageBytes: number | undefined;
  if (event.sourceInstanceIdentifier && deps.cloudwatch) {
    try {
      sourceFreeStorageBytes = await readFreeStorage(deps.cloudwatch, event.sourceInstanceIdentifier, now());
    } catch (error) {
      // The readings matter more than the disk graph: publish them anyway.
      deps.logger?.warn(
        `could not read FreeStorageSpace of ${event.sourceInstanceIdentifier}: ${(error as Error).message}`,
        { jobId: event.jobId },
      );
    }
  }
  publishReport(deps.metrics, report, sourceFreeStorageBytes !== undefined ? { sourceFreeStorageBytes } : {});
  for (const db of report.databases) {
    const where = { jobId: event.jobId, database: db.database };
    if (db.slotDropped) deps.logger?.error(db.slotDropped, where);
    else if (db.warning) deps.logger?.warn(db.warning, where);
    if (db.error) deps.logger?.warn(`could not read ${db.database} on the source: ${db.error}`, where);
    if (db.targetError) deps.logger?.warn(`could not read ${db.database} on the target: ${db.targetError}`, where);
  }
  return {
    jobId: event.jobId,
    databases: report.databases.map((db) => ({
      database: db.database,
      ...(db.reading ? { retainedBytes: db.reading.retainedBytes, lagBytes: db.reading.lagBytes } : {}),
      ...(db.warning ? { warning: db.warning } : {}),
      ...(db.slotDropped ? { slotDropped: db.slotDropped } : {}),
      ...(db.error ? { error: db.error } : {}),
    })),
    ...(sourceFreeStorageBytes !== undefined ? { sourceFreeStorageBytes } : {}),
  };
}

/** Metrics under the stack's namespace with only the dimensions the emitter names (no `service`), so the dashboard's searches match. */
export function createMetrics(): Metrics {
  const metrics = new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'DatabaseReplicator',
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'database-replicator-monitor-replication',
  });
  metrics.clearDefaultDimensions();
  return metrics;
}

const metrics = createMetrics();
const cloudwatch = new CloudWatchClient(awsClientConfig());
// Kept while the execution environment lives: with a fire every minute, the previous reading of each slot.
const history: ReadingHistory = new Map();
let store: JobStore | undefined;
function jobStore(): JobStore | undefined {
  const tableName = process.env.JOB_TABLE;
  if (!tableName) return undefined;
  store ??= new DynamoDbJobStore({
    client: DynamoDBDocumentClient.from(new DynamoDBClient(awsClientConfig())),
    tableName,
  });
  return store;
}

export const handler = lambdaHandler(logger, (event) => {
  const job = jobStore();
  return monitorReplication(parseEvent(monitorReplicationEvent, event), {
    secrets,
    metrics,
    cloudwatch,
    history,
    logger,
    ...(job ? { store: job } : {}),
  });
});
