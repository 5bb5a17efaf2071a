// Text and JSON of remote mode: the execution started, each change while following, the result.
// Every text goes through `redact` before it is printed (a cause may quote a driver's message).
import { redact } from '../connection/redact.ts';
import type { JobRecord } from '../jobs/types.ts';
import { formatBytes } from '../snapshot/estimate.ts';
import { consoleUrl, type ExecutionDescription } from './executions.ts';
import type { FollowResult, FollowSnapshot } from './follow.ts';

export type Workflow = 'replicate' | 'verify' | 'cleanup' | 'cutover';

/** How to follow the job again; `deploymentFlags` when the deployment came from --stack-name. */
export function resumeCommand(jobId: string, deploymentFlags?: string): string {
  return `database-replicator status --remote${deploymentFlags ? ` ${deploymentFlags}` : ''} --job-id ${jobId} --watch`;
}

function duration(from: Date, to: Date): string {
  const seconds = Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

export function databaseLines(job: JobRecord | undefined, indent = '  '): string[] {
  return Object.entries(job?.databases ?? {}).map(([name, d]) => {
    const tables = d.tablesTotal
      ? `; ${d.tablesDone}/${d.tablesTotal} tables, ${d.rowsCopied} rows, ${formatBytes(d.bytesCopied)}`
      : '';
    const lag = d.lagBytes !== undefined ? `; lag ${formatBytes(d.lagBytes)}` : '';
    return `${indent}${name}: ${d.state} - ${d.phase}${tables}${lag}${d.error ? `; error: ${d.error}` : ''}`;
  });
}

export function renderStarted(o: {
  workflow: Workflow;
  jobId: string;
  executionArn: string;
  name: string;
  reused?: boolean;
}): string {
  const verb = o.reused
    ? `An execution of the ${o.workflow} workflow for job ${o.jobId} is already running; following ${o.name}`
    : `Started ${o.name} (${o.workflow} workflow, job ${o.jobId})`;
  return redact(`${verb}.\n  console: ${consoleUrl(o.executionArn)}\n`);
}

/** One block per change: the time since the start, the state, then each database. */
export function renderUpdate(s: FollowSnapshot, now: Date): string {
  const head = `[${duration(s.description.startDate, now)}] ${s.description.status}${s.state ? `: ${s.state}` : ''}${s.job?.phase ? ` (job: ${s.job.phase})` : ''}`;
  return redact([head, ...databaseLines(s.job, '    ')].join('\n') + '\n');
}

export function renderExecution(d: ExecutionDescription, state: string | undefined, now: Date): string {
  const when = d.stopDate
    ? `ended ${d.stopDate.toISOString()} after ${duration(d.startDate, d.stopDate)}`
    : `running for ${duration(d.startDate, now)}`;
  return redact(
    `Execution ${d.name}: ${d.status}${state && d.status === 'RUNNING' ? ` in state ${state}` : ''} (${when})\n  console: ${consoleUrl(d.executionArn)}\n`,
  );
}

export function renderJob(job: JobRecord): string {
  const head = `Job ${job.jobId}: ${job.state} - ${job.phase || 'no phase yet'} (updated ${job.updatedAt})`;
  return redact([head, ...(job.error ? [`  error: ${job.error}`] : []), ...databaseLines(job)].join('\n') + '\n');
}

const NEXT: Record<Workflow, string> = {
  replicate:
    'Every database is in sync and streaming. Next: status to watch it, verify to compare, then cutover and cleanup.',
  verify: 'Verify passed.',
  cleanup:
    'Subscriptions, publications, slots and the verify schedule of the job are gone; the data on the target stays.',
  cutover: 'Cut over: point your applications at the target, then run cleanup.',
};

export function renderResult(
  workflow: Workflow,
  jobId: string,
  r: FollowResult,
  now: Date,
  resume = resumeCommand(jobId),
): string {
  const d = r.description;
  if (r.detached) {
    return redact(
      `Stopped following; ${d.name} keeps running in AWS.\n  follow it again: ${resume}\n  console: ${consoleUrl(d.executionArn)}\n`,
    );
  }
  if (!r.failure)
    return redact(`${d.name} succeeded after ${duration(d.startDate, d.stopDate ?? now)}. ${NEXT[workflow]}\n`);
  const where = r.failure.state ? ` in state "${r.failure.state}"` : '';
  return redact(
    `${d.name} ${d.status}${where}: ${r.failure.error}: ${r.failure.cause}\n  console: ${consoleUrl(d.executionArn)}\n`,
  );
}

/** The --json document of a followed execution. */
export function resultJson(
  command: string,
  workflow: Workflow,
  jobId: string,
  r: FollowResult,
  resume = resumeCommand(jobId),
): Record<string, unknown> {
  const d = r.description;
  return {
    command,
    mode: 'remote',
    ok: !r.detached && !r.failure,
    jobId,
    workflow,
    executionArn: d.executionArn,
    executionName: d.name,
    consoleUrl: consoleUrl(d.executionArn),
    status: d.status,
    detached: r.detached,
    startDate: d.startDate.toISOString(),
    ...(d.stopDate ? { stopDate: d.stopDate.toISOString() } : {}),
    state: r.state ?? null,
    ...(r.failure ? { failure: r.failure } : {}),
    ...(r.detached ? { resume } : {}),
    job: r.job ?? null,
  };
}
