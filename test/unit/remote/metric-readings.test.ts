// The monitor's metrics in `status --remote --watch`: CloudWatch mocked at the SDK client, the job
// table on dynalite, Step Functions mocked; the deployment is a saved profile that names its stack.
import {
  CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
  type GetMetricDataCommandOutput,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { stripVTControlCharacters } from 'node:util';
import { beforeEach, describe, expect, it } from 'vitest';
import { metricsNamespace as stackNamespace } from '../../../infra/lib/replicator-function.ts';
import { liveViewLines } from '../../../src/cli/live-view.ts';
import { JOB_DATABASE, METRIC, PUBLISHED_METRICS } from '../../../src/monitor/metrics.ts';
import { profilePath, writeProfile, type Deployment } from '../../../src/remote/deployment.ts';
import { remoteLiveDatabases } from '../../../src/remote/live.ts';
import {
  METRICS_REFRESH_MS,
  METRICS_WINDOW_MS,
  monitorMetrics,
  VIEWED_METRICS,
} from '../../../src/remote/metric-readings.ts';
import {
  cli,
  executionArn,
  REGION,
  REPLICATE_ARN,
  tempDir,
  testIo,
  useJobTable,
  type TestIo,
  runningJob,
} from '../../support/remote.ts';

const cloudWatch = mockClient(CloudWatchClient);
const sfn = mockClient(SFNClient);
const table = useJobTable();
const STACK = 'ReplicatorProd';
const client = () => new CloudWatchClient({ region: REGION, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const MB = 1024 * 1024;

let jobCount = 0;
let jobId: string;
beforeEach(() => {
  cloudWatch.reset();
  sfn.reset();
  jobId = `metrics${++jobCount}`;
});

/** The query of `metric` for `database` in a recorded request. */
function queryOf(input: GetMetricDataCommandInput, metric: string, database: string) {
  return input.MetricDataQueries!.find(
    (q) =>
      q.MetricStat?.Metric?.MetricName === metric &&
      q.MetricStat.Metric.Dimensions?.some((d) => d.Name === 'Database' && d.Value === database),
  );
}

/**
 * CloudWatch's answer to a request: `points[database][metric name]` lists [seconds before `now`, value]
 * pairs, returned newest first as ScanBy TimestampDescending asks.
 */
function answerFrom(now: Date, points: Record<string, Record<string, [number, number][]>>) {
  return (input: GetMetricDataCommandInput): GetMetricDataCommandOutput => {
    const results: MetricDataResult[] = (input.MetricDataQueries ?? []).map((q) => {
      const database = q.MetricStat!.Metric!.Dimensions!.find((d) => d.Name === 'Database')!.Value!;
      const pairs = [...(points[database]?.[q.MetricStat!.Metric!.MetricName!] ?? [])].sort((a, b) => a[0] - b[0]);
      return {
        Id: q.Id,
        StatusCode: 'Complete',
        Timestamps: pairs.map(([ago]) => new Date(now.getTime() - ago * 1000)),
        Values: pairs.map(([, v]) => v),
      };
    });
    return { MetricDataResults: results, $metadata: {} };
  };
}

describe("reading the monitor's metrics", () => {
  it('asks once for every viewed metric of every database, in the namespace and dimensions the emitter publishes', async () => {
    const now = new Date('2026-03-01T10:00:00Z');
    cloudWatch.on(GetMetricDataCommand).callsFake(answerFrom(now, {}));
    const read = monitorMetrics({ client: client(), stackName: STACK, jobId: 'j1', now: () => now });
    await read(['shop', 'crm']);

    const calls = cloudWatch.commandCalls(GetMetricDataCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input.StartTime).toEqual(new Date(now.getTime() - METRICS_WINDOW_MS));
    expect(input.EndTime).toEqual(now);
    expect(input.MetricDataQueries).toHaveLength(2 * Object.keys(VIEWED_METRICS).length);
    expect(new Set(input.MetricDataQueries!.map((q) => q.Id)).size).toBe(input.MetricDataQueries!.length);
    for (const metric of Object.values(VIEWED_METRICS)) {
      expect(PUBLISHED_METRICS).toContain(metric);
      expect(metric.dimensions).toEqual(JOB_DATABASE);
      for (const database of ['shop', 'crm']) {
        const q = queryOf(input, metric.name, database);
        expect(q?.MetricStat).toEqual({
          Metric: {
            Namespace: stackNamespace(STACK),
            MetricName: metric.name,
            Dimensions: metric.dimensions.map((name) => ({ Name: name, Value: name === 'JobId' ? 'j1' : database })),
          },
          Period: 60,
          Stat: 'Maximum',
        });
      }
    }
    expect(Object.values(VIEWED_METRICS).map((m) => m.name)).toEqual(
      expect.arrayContaining([METRIC.lagSeconds.name, METRIC.lagBytes.name, METRIC.walRetained.name]),
    );
  });

  it('maps each database\'s latest datapoint into the view with its age, and keeps "-" where there is none', async () => {
    const now = new Date('2026-03-01T10:00:00Z');
    cloudWatch.on(GetMetricDataCommand).callsFake(
      answerFrom(now, {
        shop: {
          [METRIC.walRetained.name]: [
            [100, 1 * MB],
            [40, 2.6 * MB],
          ],
          [METRIC.lagBytes.name]: [[40, 1.5 * MB]],
          [METRIC.lagSeconds.name]: [[40, 3.25]],
          [METRIC.tablesNotReady.name]: [[40, 2]],
        },
      }),
    );
    const read = monitorMetrics({ client: client(), stackName: STACK, jobId: 'j1', now: () => now });
    const readings = await read(['shop', 'crm']);
    expect(readings.note).toBeUndefined();
    expect(readings.databases.shop?.walRetained).toEqual({ value: 2.6 * MB, at: new Date(now.getTime() - 40_000) });
    expect(readings.databases.crm).toBeUndefined();

    const updatedAt = new Date(now.getTime() - 90_000).toISOString();
    const progress = { state: 'SUCCEEDED' as const, phase: 'Replicating', tablesDone: 5, tablesTotal: 5 };
    const job = {
      databases: {
        shop: { ...progress, rowsCopied: 1, bytesCopied: 1, updatedAt },
        crm: { ...progress, rowsCopied: 1, bytesCopied: 1, updatedAt },
      },
    } as unknown as Parameters<typeof remoteLiveDatabases>[0];
    const lines = liveViewLines({
      title: 't',
      header: [],
      databases: remoteLiveDatabases(job, readings.databases, now),
      now,
      intervalSeconds: 1,
      columns: 200,
    });
    expect(lines).toContain(
      'shop: SUCCEEDED - Replicating  |  lag 1.5 MB (3.3 s, 40 s ago)  |  WAL retained 2.6 MB (40 s ago)  |  tables 3/5 ready',
    );
    expect(lines).toContain('crm: SUCCEEDED - Replicating  |  lag -  |  WAL retained -  |  tables 5/5 ready');
  });

  it("takes the job record's lag in bytes when it is fresher than the monitor's, else the monitor's", () => {
    const now = new Date('2026-03-01T10:00:00Z');
    const metric = { lagBytes: { value: 4096, at: new Date(now.getTime() - 50_000) } };
    const recordAt = (secondsAgo: number) => ({
      databases: {
        shop: {
          state: 'RUNNING',
          phase: 'Catch up',
          tablesDone: 1,
          tablesTotal: 1,
          rowsCopied: 0,
          bytesCopied: 0,
          lagBytes: 100,
          updatedAt: new Date(now.getTime() - secondsAgo * 1000).toISOString(),
        },
      },
    });
    const fresher = remoteLiveDatabases(recordAt(10) as never, { shop: metric }, now)[0]!;
    expect([fresher.lagBytes, fresher.lagAgeSeconds]).toEqual([100, 10]);
    const older = remoteLiveDatabases(recordAt(80) as never, { shop: metric }, now)[0]!;
    expect([older.lagBytes, older.lagAgeSeconds]).toEqual([4096, 50]);
  });

  it('asks again only once the monitor has published again (a minute), however often the view redraws', async () => {
    let clock = new Date('2026-03-01T10:00:00Z').getTime();
    cloudWatch.on(GetMetricDataCommand).callsFake((input) => answerFrom(new Date(clock), {})(input));
    const read = monitorMetrics({ client: client(), stackName: STACK, jobId: 'j1', now: () => new Date(clock) });
    const start = clock;
    while (clock - start < METRICS_REFRESH_MS) {
      await read(['shop']);
      clock += 1000;
    }
    expect(cloudWatch.commandCalls(GetMetricDataCommand)).toHaveLength(1);
    const readings = await read(['shop']);
    expect(cloudWatch.commandCalls(GetMetricDataCommand)).toHaveLength(2);
    expect(readings.note).toMatch(/no metric from the monitor in the last 5 min/);
  });

  it('after a failed call keeps the last values, says why, and tries again a minute later; without the stack name it asks nothing', async () => {
    let clock = new Date('2026-03-01T10:00:00Z').getTime();
    const now = () => new Date(clock);
    cloudWatch
      .on(GetMetricDataCommand)
      .callsFakeOnce((input) => answerFrom(now(), { shop: { [METRIC.walRetained.name]: [[10, 2048]] } })(input))
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .callsFake((input) => answerFrom(now(), { shop: { [METRIC.walRetained.name]: [[5, 4096]] } })(input));
    const read = monitorMetrics({ client: client(), stackName: STACK, jobId: 'j1', now });
    expect((await read(['shop'])).databases.shop?.walRetained?.value).toBe(2048);
    clock += METRICS_REFRESH_MS;
    const failed = await read(['shop']);
    expect(failed.databases.shop?.walRetained?.value).toBe(2048);
    expect(failed.note).toBe(
      'lag in seconds and WAL retained could not be read (trying again in a minute): ThrottlingException: Rate exceeded',
    );
    clock += METRICS_REFRESH_MS;
    const again = await read(['shop']);
    expect(again.databases.shop?.walRetained?.value).toBe(4096);
    expect(again.note).toBeUndefined();
    expect(cloudWatch.commandCalls(GetMetricDataCommand)).toHaveLength(3);

    const noStack = monitorMetrics({ client: client(), stackName: undefined, jobId: 'j1', now });
    expect((await noStack(['shop'])).note).toMatch(
      /need the stack name \(--stack-name or DATABASE_REPLICATOR_STACK_NAME\)/,
    );
    expect(cloudWatch.commandCalls(GetMetricDataCommand)).toHaveLength(3);
  });
});

describe('status --remote --watch with the metrics', () => {
  const t = new Date('2026-03-01T10:00:00Z');
  const name = () => `${jobId}-init-x`;
  const arn = () => executionArn('Replicate', name());
  const described = (status: string) => ({
    executionArn: arn(),
    stateMachineArn: REPLICATE_ARN,
    name: name(),
    status: status as 'RUNNING',
    startDate: t,
    ...(status === 'RUNNING' ? {} : { stopDate: t }),
  });

  /** A deployment saved by `remote configure --stack-name`, a job replicating two databases, an execution polled `polls` times. */
  async function watch(polls: number): Promise<{ io: TestIo; frames: string[]; clock: () => number }> {
    const env = { DATABASE_REPLICATOR_CONFIG_DIR: tempDir() };
    const deployment: Deployment = {
      stackName: STACK,
      region: REGION,
      replicateStateMachineArn: REPLICATE_ARN,
      jobTableName: table.tableName,
      secretsPrefix: 'database-replicator/',
    };
    writeProfile(profilePath(env), deployment);
    await table.store.createJob(runningJob(jobId, { phase: 'Replicating', executionArn: arn() }));
    const done = { state: 'SUCCEEDED' as const, phase: 'Streaming', tablesDone: 4, tablesTotal: 4, rowsCopied: 10 };
    await table.store.updateDatabaseProgress(jobId, 'shop', { ...done, bytesCopied: 8192 });
    await table.store.updateDatabaseProgress(jobId, 'crm', { ...done, bytesCopied: 8192 });
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    sfn.on(ListExecutionsCommand, { stateMachineArn: REPLICATE_ARN }).resolves({
      executions: [
        { executionArn: arn(), stateMachineArn: REPLICATE_ARN, name: name(), status: 'RUNNING', startDate: t },
      ],
    });
    const describe = sfn.on(DescribeExecutionCommand);
    for (let i = 0; i < polls; i++) describe.resolvesOnce(described('RUNNING'));
    describe.resolves(described('SUCCEEDED'));
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    // The view's clock moves one second per poll, from the record's time on.
    let clock = Date.now();
    const base = testIo(env, {
      table,
      runtime: { now: () => new Date(clock), sleep: async () => void (clock += 1000) },
    });
    const io = { ...base, isTty: true, columns: 200 };
    expect(await cli(['status', '--remote', '--job-id', jobId, '--watch'], io)).toBe(0);
    const frames = io.out
      .join('')
      .split('\u001b[H')
      .slice(1)
      .map((f) => stripVTControlCharacters(f));
    return { io, frames, clock: () => clock };
  }

  it('shows lag, WAL retained and their age from one GetMetricData call for the whole minute, and "-" without datapoints', async () => {
    cloudWatch.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) =>
      answerFrom(input.EndTime!, {
        shop: {
          [METRIC.walRetained.name]: [[40, 2.6 * MB]],
          [METRIC.lagBytes.name]: [[40, 0]],
          [METRIC.lagSeconds.name]: [[40, 0]],
        },
      })(input),
    );
    const { frames } = await watch(4);
    expect(frames.length).toBeGreaterThanOrEqual(4);
    expect(frames[0]).toContain(
      "(lag in seconds and WAL retained: the monitor's CloudWatch metrics, published once a minute)",
    );
    expect(frames[0]).toContain(
      'shop: SUCCEEDED - Streaming  |  lag 0 B (40 s ago)  |  WAL retained 2.6 MB (40 s ago)',
    );
    expect(frames[0]).toContain('crm: SUCCEEDED - Streaming  |  lag -  |  WAL retained -  |  tables 4/4 ready');
    // Later frames reuse the minute's reading, its age growing with the clock.
    expect(frames[3]).toContain('WAL retained 2.6 MB (43 s ago)');
    const calls = cloudWatch.commandCalls(GetMetricDataCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(queryOf(input, METRIC.walRetained.name, 'crm')?.MetricStat?.Metric).toEqual({
      Namespace: stackNamespace(STACK),
      MetricName: METRIC.walRetained.name,
      Dimensions: [
        { Name: 'JobId', Value: jobId },
        { Name: 'Database', Value: 'crm' },
      ],
    });
  });

  it('without cloudwatch:GetMetricData the view still draws, says once why in its note, and asks no more', async () => {
    cloudWatch.on(GetMetricDataCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: cloudwatch:GetMetricData'), {
        name: 'AccessDenied',
      }),
    );
    const { frames, io } = await watch(70);
    expect(frames.length).toBeGreaterThanOrEqual(70);
    const note =
      '(lag in seconds and WAL retained: your AWS identity may not read CloudWatch metrics; grant it cloudwatch:GetMetricData)';
    for (const f of [frames[0]!, frames.at(-1)!]) {
      expect(f.split('\n').filter((l) => l === note)).toHaveLength(1);
      expect(f).toContain('shop: SUCCEEDED - Streaming  |  lag -  |  WAL retained -  |  tables 4/4 ready');
    }
    // 70 polls a second apart span more than a minute; a denial is not asked again.
    expect(cloudWatch.commandCalls(GetMetricDataCommand)).toHaveLength(1);
    expect(io.out.join('')).toContain(`${name()} succeeded after`);
  });
});
