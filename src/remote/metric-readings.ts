// The monitor's metrics for `status --remote --watch`: the latest datapoint of each database's lag
// and WAL retained, read from CloudWatch with one GetMetricData call per refresh. The monitor
// publishes once a minute, so the view asks no more often than that, however often it redraws;
// a failed call (no permission, throttling) becomes the view's note, never a crash of the watch.
import { GetMetricDataCommand, type CloudWatchClient, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { ACCESS_DENIED } from '../errors/aws-errors.ts';
import { METRIC, metricsNamespace, type PublishedMetric } from '../monitor/metrics.ts';
import { awsErrorName } from './errors.ts';

/** The monitor's metrics the live view has a place for, per job and database. */
export const VIEWED_METRICS = {
  lagBytes: METRIC.lagBytes,
  lagSeconds: METRIC.lagSeconds,
  walRetained: METRIC.walRetained,
  tablesNotReady: METRIC.tablesNotReady,
} as const satisfies Record<string, PublishedMetric>;
export type ViewedMetric = keyof typeof VIEWED_METRICS;
const VIEWED_KEYS = Object.keys(VIEWED_METRICS) as ViewedMetric[];

export interface Datapoint {
  value: number;
  /** The datapoint's timestamp (the start of its one-minute period). */
  at: Date;
}
export type DatabaseMetrics = Partial<Record<ViewedMetric, Datapoint>>;

export interface MetricReadings {
  /** Per database, the latest datapoint of each metric in the window; a database with none is absent. */
  databases: Record<string, DatabaseMetrics>;
  /** Why values are missing (no stack name, no permission, a failed call, no datapoint yet), for the note. */
  note?: string;
}

/** The monitor publishes once a minute: asking more often only finds the same datapoint. */
export const METRICS_REFRESH_MS = 60_000;
/** How far back a datapoint still counts as the latest (a few of the monitor's minutes). */
export const METRICS_WINDOW_MS = 5 * 60_000;
const PERIOD_SECONDS = 60;
/** GetMetricData takes at most 500 queries per request. */
const MAX_QUERIES = 500;

const queryId = (metric: number, database: number) => `m${metric}_${database}`;

/** The dimensions of `metric` in the order the emitter names them, with this job's and database's values. */
function dimensionsOf(metric: PublishedMetric, values: Record<string, string>) {
  return metric.dimensions.map((name) => {
    const value = values[name];
    if (value === undefined) throw new Error(`No value for the dimension ${name} of ${metric.name}.`);
    return { Name: name, Value: value };
  });
}

/** One query per viewed metric and database: the maximum of each one-minute period. */
export function metricQueries(namespace: string, jobId: string, databases: readonly string[]): MetricDataQuery[] {
  return databases.flatMap((database, d) =>
    VIEWED_KEYS.map((key, k) => {
      const metric = VIEWED_METRICS[key];
      return {
        Id: queryId(k, d),
        MetricStat: {
          Metric: {
            Namespace: namespace,
            MetricName: metric.name,
            Dimensions: dimensionsOf(metric, { JobId: jobId, Database: database }),
          },
          Period: PERIOD_SECONDS,
          Stat: 'Maximum',
        },
        ReturnData: true,
      };
    }),
  );
}

/** The newest datapoint of a result, whatever order CloudWatch returned them in. */
function latest(timestamps: Date[] = [], values: number[] = []): Datapoint | undefined {
  let best: Datapoint | undefined;
  timestamps.forEach((at, i) => {
    const value = values[i];
    if (value !== undefined && Number.isFinite(value) && (!best || at.getTime() > best.at.getTime()))
      best = { value, at };
  });
  return best;
}

/** Reads the latest datapoint of each viewed metric of each database: one request per 500 queries. */
export async function readMetricData(
  client: CloudWatchClient,
  o: { namespace: string; jobId: string; databases: readonly string[]; now: Date; signal?: AbortSignal },
): Promise<Record<string, DatabaseMetrics>> {
  const queries = metricQueries(o.namespace, o.jobId, o.databases);
  const found: Record<string, DatabaseMetrics> = {};
  const record = (id: string | undefined, point: Datapoint | undefined) => {
    const [k, d] = (id ?? '').slice(1).split('_').map(Number);
    const key = VIEWED_KEYS[k ?? -1];
    const database = o.databases[d ?? -1];
    if (point && key && database !== undefined) (found[database] ??= {})[key] = point;
  };
  for (let i = 0; i < queries.length; i += MAX_QUERIES) {
    let nextToken: string | undefined;
    do {
      const answer = await client.send(
        new GetMetricDataCommand({
          MetricDataQueries: queries.slice(i, i + MAX_QUERIES),
          StartTime: new Date(o.now.getTime() - METRICS_WINDOW_MS),
          EndTime: o.now,
          ScanBy: 'TimestampDescending',
          ...(nextToken ? { NextToken: nextToken } : {}),
        }),
        o.signal ? { abortSignal: o.signal } : {},
      );
      for (const r of answer.MetricDataResults ?? []) record(r.Id, latest(r.Timestamps, r.Values));
      nextToken = answer.NextToken;
    } while (nextToken);
  }
  return found;
}

const WHAT = 'lag in seconds and WAL retained';
const NO_STACK = `${WHAT} need the stack name (--stack-name or DATABASE_REPLICATOR_STACK_NAME)`;
const NONE_YET = `${WHAT}: no metric from the monitor in the last ${METRICS_WINDOW_MS / 60_000} min (it publishes once a minute per job with a slot)`;
const DENIED = `${WHAT}: your AWS identity may not read CloudWatch metrics; grant it cloudwatch:GetMetricData`;

/**
 * The view's source of metrics: the function returned asks CloudWatch at most once per `refreshMs`
 * and otherwise returns what the last call found. After an access denial it stops asking (the note says
 * which permission to grant); after another failure it keeps the last values and tries again later.
 */
export function monitorMetrics(o: {
  client: CloudWatchClient;
  stackName: string | undefined;
  jobId: string;
  now: () => Date;
  signal?: AbortSignal;
  refreshMs?: number;
}): (databases: readonly string[]) => Promise<MetricReadings> {
  const refreshMs = o.refreshMs ?? METRICS_REFRESH_MS;
  let last: MetricReadings = { databases: {} };
  let askedAt: number | undefined;
  let denied = false;
  return async (databases) => {
    if (!o.stackName) return { databases: {}, note: NO_STACK };
    const now = o.now();
    if (denied || !databases.length || (askedAt !== undefined && now.getTime() - askedAt < refreshMs)) return last;
    askedAt = now.getTime();
    const namespace = metricsNamespace(o.stackName);
    try {
      const found = await readMetricData(o.client, {
        namespace,
        jobId: o.jobId,
        databases,
        now,
        ...(o.signal ? { signal: o.signal } : {}),
      });
      last = Object.keys(found).length ? { databases: found } : { databases: found, note: NONE_YET };
    } catch (error) {
      if (o.signal?.aborted) return last;
      denied = ACCESS_DENIED.has(awsErrorName(error));
      const message = ((error as Error)?.message ?? String(error)).replace(/\s+/g, ' ').trim();
      const why = denied
        ? DENIED
        : `${WHAT} could not be read (trying again in a minute): ${awsErrorName(error) || 'error'}: ${message}`;
      last = { databases: last.databases, note: why };
    }
    return last;
  };
}
