// The verify workflow's verdict: the newest run each database recorded since the execution started,
// or why a database has none (its task failed, or it never ran).
import { redact } from '../../src/connection/redact.ts';
import type { JobStore, VerifyRunRecord } from '../../src/jobs/index.ts';
import { cut, MAX_CAUSE } from './failures.ts';
import type { LambdaLog } from './logger.ts';

export interface VerifySummary {
  jobId: string;
  outcome: 'equal' | 'different' | 'unconfirmed' | 'error' | 'missing';
  differences: number;
  runs: number;
  summary: string;
}

export interface VerifySummaryDependencies {
  store: JobStore;
  logger?: LambdaLog;
  metric?: (name: string, value: number) => void;
}

const OUTCOME_ORDER = ['different', 'error', 'missing', 'unconfirmed', 'equal'] as const;
type VerifyTask = { database: string; failed: boolean; error?: string | undefined };

/** Why a verify task failed before it recorded a run: the detail of its FAILED step since `since`, else its error name. */
async function verifyTaskFailure(
  jobId: string,
  database: string,
  errorName: string | undefined,
  since: number,
  store: JobStore,
): Promise<string> {
  const steps = (await store.listSteps(jobId)).reverse();
  const step = steps.find(
    (s) =>
      s.step === 'verify' &&
      s.database === database &&
      s.state === 'FAILED' &&
      s.detail &&
      Date.parse(s.startedAt) >= since,
  );
  return step?.detail ?? `${errorName ?? 'it stopped'}; its log stream in CloudWatch Logs says why`;
}

export async function recordVerified(
  event: { jobId: string; databases: string[]; since: string; tasks?: VerifyTask[] | undefined },
  deps: VerifySummaryDependencies,
): Promise<VerifySummary> {
  const since = Date.parse(event.since);
  const recent = await deps.store.listVerifyRuns(event.jobId, { limit: Math.max(20, event.databases.length * 4) });
  // The newest run per database since this execution started (a run that names no database stands for the job).
  const latest = new Map<string, VerifyRunRecord>();
  for (const run of recent)
    if (Date.parse(run.startedAt) >= since && !latest.has(run.database ?? '*')) latest.set(run.database ?? '*', run);
  const parts = [...latest.entries()].map(
    ([db, r]) =>
      `${db === '*' ? `run ${r.runId}` : db} ${r.outcome} (${r.tables.total} tables${r.differences ? `, ${r.differences} rows differ` : ''}${r.error ? `: ${r.error}` : ''})`,
  );
  const outcomes = new Set<VerifySummary['outcome']>([...latest.values()].map((r) => r.outcome));
  const unrecorded = latest.has('*') ? [] : event.databases.filter((d) => !latest.has(d));
  const missing: string[] = [];
  for (const db of unrecorded) {
    const failed = event.tasks?.find((t) => t.database === db && t.failed);
    if (failed)
      parts.push(
        `${db}: the verify task failed: ${await verifyTaskFailure(event.jobId, db, failed.error, since, deps.store)}`,
      );
    else missing.push(db);
    outcomes.add(failed ? 'error' : 'missing');
  }
  if (missing.length) parts.push(`no verify result was recorded for ${missing.join(', ')}`);
  if (latest.size === 0 && event.databases.length === 0) outcomes.add('missing');
  const outcome = OUTCOME_ORDER.find((o) => outcomes.has(o)) ?? 'missing';
  const differences = [...latest.values()].reduce((n, r) => n + r.differences, 0);
  const body = `Verify of job ${event.jobId}: ${parts.join('; ')}`;
  const summary = cut(redact(body.endsWith('.') ? body : `${body}.`), MAX_CAUSE);
  deps.metric?.('VerifyDifferences', differences);
  deps.logger?.info(summary, { jobId: event.jobId, outcome, differences });
  return { jobId: event.jobId, outcome, differences, runs: latest.size, summary };
}
