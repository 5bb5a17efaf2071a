import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { Metrics as PowertoolsMetrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, monitorReplicationEvent, readFreeStorage } from '../../../lambdas/monitor-replication.ts';
import { InvalidEvent, parseEvent } from '../../../lambdas/shared/errors.ts';
import { METRIC, PUBLISHED_METRICS, publishReport } from '../../../src/monitor/metrics.ts';
import type { MonitorReport } from '../../../src/monitor/monitor.ts';
import { captureLogs, SOURCE_ARN, TARGET_ARN } from '../../support/lambda.ts';

const cloudwatch = mockClient(CloudWatchClient);
afterEach(() => cloudwatch.reset());

const reading = {
  database: 'shop',
  targetDatabase: 'shop',
  slot: 'dbr_j_shop_abc123',
  subscription: 'dbr_j_shop_abc123',
  at: '2026-01-01T00:00:00.000Z',
  slotExists: true,
  slotActive: false,
  walStatus: 'reserved',
  retainedBytes: 5_000_000,
  lagBytes: 4_000_000,
  lagSeconds: null,
  subscriptionExists: true,
  subscriptionEnabled: false,
  workerRunning: false,
  tablesTotal: 3,
  tablesReady: 3,
  tablesNotReady: 0,
  applyErrors: 2,
  syncErrors: 0,
};

interface Emf {
  _aws: {
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
  };
  [key: string]: unknown;
}

describe('monitor-replication', () => {
  it('takes identifiers and secret ARNs only: a URL in place of an ARN is refused without being echoed', () => {
    const good = {
      jobId: 'shop-1',
      databases: ['shop'],
      sourceSecretArn: SOURCE_ARN,
      targetSecretArn: TARGET_ARN,
      sourceInstanceIdentifier: 'shop-db',
      maxRetainedWalGb: 50,
    };
    expect(parseEvent(monitorReplicationEvent, good)).toEqual(good);
    const url = 'postgres://repl:s3cret@db.example.com/shop';
    let error: unknown;
    try {
      parseEvent(monitorReplicationEvent, { ...good, sourceSecretArn: url, maxRetainedWalGb: -1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidEvent);
    expect((error as Error).message).toMatch(/sourceSecretArn: must be a Secrets Manager secret ARN.*maxRetainedWalGb/);
    expect((error as Error).message).not.toContain('s3cret');
    expect(() => parseEvent(monitorReplicationEvent, { ...good, password: 'x' })).toThrow(/unknown keys password/);
  });

  it("reads the RDS source's latest FreeStorageSpace through CloudWatch, and nothing when there is no data", async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'free', Values: [7.5e9, 7.6e9] }] });
    const now = new Date('2026-01-01T12:00:00Z');
    expect(await readFreeStorage(new CloudWatchClient({ region: 'eu-west-1' }), 'shop-db', now)).toBe(7.5e9);
    const input = cloudwatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input;
    expect(input).toMatchObject({
      ScanBy: 'TimestampDescending',
      EndTime: now,
      StartTime: new Date('2026-01-01T11:45:00Z'),
    });
    expect(input.MetricDataQueries![0]!.MetricStat).toMatchObject({
      Metric: {
        Namespace: 'AWS/RDS',
        MetricName: 'FreeStorageSpace',
        Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'shop-db' }],
      },
      Period: 60,
    });
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'free', Values: [] }] });
    expect(await readFreeStorage(new CloudWatchClient({ region: 'eu-west-1' }), 'shop-db', now)).toBeUndefined();
  });

  it('publishes through Powertools Metrics one EMF document per database, under the namespace, with exactly the dimensions the emitter lists', () => {
    process.env.POWERTOOLS_METRICS_NAMESPACE = 'DatabaseReplicator/Test';
    const report: MonitorReport = {
      jobId: 'shop-1',
      at: reading.at,
      databases: [
        { database: 'shop', reading, unconsumedGrowthBytes: 1_000_000 },
        { database: 'crm', error: 'Could not connect to the source' },
      ],
    };
    const logs = captureLogs();
    try {
      publishReport(createMetrics(), report, { sourceFreeStorageBytes: 7.5e9 });
    } finally {
      logs.stop();
    }
    delete process.env.POWERTOOLS_METRICS_NAMESPACE;
    const docs = logs.lines().filter((l) => '_aws' in l) as unknown as Emf[];
    expect(docs).toHaveLength(2);
    const [db, job] = docs;
    expect(db!._aws.CloudWatchMetrics[0]!).toMatchObject({
      Namespace: 'DatabaseReplicator/Test',
      Dimensions: [['JobId', 'Database']],
    });
    expect(db).toMatchObject({
      JobId: 'shop-1',
      Database: 'shop',
      WalRetainedBytes: 5_000_000,
      ReplicationLagBytes: 4_000_000,
      UnconsumedWalGrowthBytes: 1_000_000,
      SlotConsumed: 0,
      SubscriptionEnabled: 0,
      TablesNotReady: 0,
      ApplyErrors: 2,
      SyncErrors: 0,
      SlotDropped: 0,
    });
    expect(db).not.toHaveProperty('ReplicationLagSeconds');
    expect(db).not.toHaveProperty('service');
    expect(job!._aws.CloudWatchMetrics[0]!).toMatchObject({
      Dimensions: [['JobId']],
      Metrics: [{ Name: 'SourceFreeStorageBytes', Unit: 'Bytes' }],
    });
    // Every metric in a document is in the emitter's list, with its unit and dimensions.
    for (const doc of docs) {
      const { Dimensions, Metrics } = doc._aws.CloudWatchMetrics[0]!;
      for (const m of Metrics)
        expect(PUBLISHED_METRICS).toContainEqual(
          expect.objectContaining({ name: m.Name, unit: m.Unit, dimensions: Dimensions[0] }),
        );
    }
  });

  it("lists record-job's VerifyDifferences as record-job publishes it", () => {
    // record-job adds it through Powertools Metrics with its service name as the default dimension.
    const metrics = new PowertoolsMetrics({
      namespace: 'DatabaseReplicator/Test',
      serviceName: 'database-replicator-record-job',
    });
    metrics.addMetric('VerifyDifferences', MetricUnit.Count, 3);
    const doc = metrics.serializeMetrics() as unknown as Emf;
    const { Dimensions, Metrics } = doc._aws.CloudWatchMetrics[0]!;
    expect({ name: Metrics[0]!.Name, unit: Metrics[0]!.Unit, dimensions: Dimensions[0] }).toEqual({
      name: METRIC.verifyDifferences.name,
      unit: METRIC.verifyDifferences.unit,
      dimensions: [...METRIC.verifyDifferences.dimensions],
    });
  });
});
