// `status --remote --watch` on a terminal: the live view of the local status (src/cli/live-view.ts)
// drawn from the job record in the job table, which the Fargate task fills with init's copy progress
// and its tables in flight, from the running execution, and from the monitor's metrics in CloudWatch
// (lag in seconds and bytes, WAL retained, tables not ready; src/remote/metric-readings.ts), each
// value with its age, since the monitor publishes once a minute.
import { liveViewFrame, type LiveDatabase } from '../cli/live-view.ts';
import { redact } from '../connection/redact.ts';
import type { DatabaseProgress, JobRecord } from '../jobs/types.ts';
import type { FollowSnapshot } from './follow.ts';
import type { DatabaseMetrics, Datapoint, MetricReadings } from './metric-readings.ts';

const METRICS_NOTE = "lag in seconds and WAL retained: the monitor's CloudWatch metrics, published once a minute";

const secondsSince = (now: Date, at: Date) => Math.max(0, (now.getTime() - at.getTime()) / 1000);

/** The record's lag when it is at least as fresh as the monitor's datapoint, else the datapoint. */
function freshestLag(d: DatabaseProgress, m: DatabaseMetrics): Datapoint | undefined {
  const recorded = d.lagBytes !== undefined ? { value: d.lagBytes, at: new Date(d.updatedAt) } : undefined;
  if (!recorded || !m.lagBytes) return recorded ?? m.lagBytes;
  return recorded.at.getTime() >= m.lagBytes.at.getTime() ? recorded : m.lagBytes;
}

/** The record counts the tables init copied; the subscription's tables not yet synchronized lower that. */
function tablesReady(d: DatabaseProgress, m: DatabaseMetrics): number {
  const notReady = m.tablesNotReady?.value ?? 0;
  return notReady > 0 ? Math.min(d.tablesDone, Math.max(0, d.tablesTotal - notReady)) : d.tablesDone;
}

export function remoteLiveDatabases(
  job: JobRecord | undefined,
  metrics: MetricReadings['databases'] = {},
  now: Date = new Date(),
): LiveDatabase[] {
  return Object.entries(job?.databases ?? {}).map(([database, d]) => {
    const m = metrics[database] ?? {};
    const lag = freshestLag(d, m);
    return {
      database,
      verdict: `${d.state} - ${d.phase}`,
      ...(d.error ? { reason: `error: ${d.error}` } : {}),
      lagBytes: lag?.value ?? null,
      ...(lag ? { lagAgeSeconds: secondsSince(now, lag.at) } : {}),
      lagSeconds: m.lagSeconds?.value ?? null,
      walRetainedBytes: m.walRetained?.value ?? null,
      ...(m.walRetained ? { walRetainedAgeSeconds: secondsSince(now, m.walRetained.at) } : {}),
      tablesReady: tablesReady(d, m),
      tablesTotal: d.tablesTotal,
      progress: d,
    };
  });
}

/**
 * A printer for followExecution: one frame per poll, drawn over the previous one. `metrics` (from
 * monitorMetrics) is asked on every frame and calls CloudWatch only when its minute has passed.
 */
export function remoteLiveView(o: {
  jobId: string;
  write: (text: string) => void;
  now: () => Date;
  intervalSeconds: number;
  columns: number;
  metrics: (databases: readonly string[]) => Promise<MetricReadings>;
}): (s: FollowSnapshot) => Promise<void> {
  let first = true;
  return async (s) => {
    const readings = await o.metrics(Object.keys(s.job?.databases ?? {}));
    const now = o.now();
    const seconds = Math.max(0, Math.round((now.getTime() - s.description.startDate.getTime()) / 1000));
    const header = [
      ...(s.job
        ? [`Job ${s.job.jobId}: ${s.job.state} - ${s.job.phase || 'no phase yet'}`]
        : [`Job ${o.jobId} has no record in the job table yet.`]),
      `Execution ${s.description.name}: ${s.description.status}${s.state ? ` in state ${s.state}` : ''} (${seconds} s)`,
    ];
    const frame = liveViewFrame(
      {
        title: `database-replicator status --remote: job ${o.jobId}`,
        header,
        databases: remoteLiveDatabases(s.job, readings.databases, now),
        note: readings.note ?? METRICS_NOTE,
        now,
        intervalSeconds: o.intervalSeconds,
        columns: o.columns,
      },
      first,
    );
    first = false;
    o.write(redact(frame));
  };
}
