// `status --remote --watch` on a terminal: the live view of the local status (src/cli/live-view.ts)
// drawn from the job record in the job table, which the Fargate task fills with init's copy progress
// and its tables in flight, and from the running execution. WAL retained and lag in seconds are the
// monitor's metrics, on the deployment's dashboard; the record carries the lag in bytes.
import { liveViewFrame, type LiveDatabase } from '../cli/live-view.ts';
import { redact } from '../connection/redact.ts';
import type { JobRecord } from '../jobs/types.ts';
import type { FollowSnapshot } from './follow.ts';

export function remoteLiveDatabases(job: JobRecord | undefined): LiveDatabase[] {
  return Object.entries(job?.databases ?? {}).map(([database, d]) => ({
    database,
    verdict: `${d.state} - ${d.phase}`,
    ...(d.error ? { reason: `error: ${d.error}` } : {}),
    lagBytes: d.lagBytes ?? null,
    lagSeconds: null,
    walRetainedBytes: null,
    tablesReady: d.tablesDone,
    tablesTotal: d.tablesTotal,
    progress: d,
  }));
}

/** A printer for followExecution: one frame per poll, drawn over the previous one. */
export function remoteLiveView(o: {
  jobId: string;
  write: (text: string) => void;
  now: () => Date;
  intervalSeconds: number;
  columns: number;
}): (s: FollowSnapshot) => void {
  let first = true;
  return (s) => {
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
        databases: remoteLiveDatabases(s.job),
        note: "WAL retained and lag in seconds: the deployment's CloudWatch dashboard",
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
