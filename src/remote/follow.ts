// Following an execution: poll its status and history (the state it is in) and the job record (each
// database's progress) until it ends, or until the user stops following (the execution goes on).
import type { JobStore } from '../jobs/store.ts';
import type { JobRecord } from '../jobs/types.ts';
import { currentState, executionFailure, type ExecutionFailure } from './history.ts';
import type { ExecutionDescription, Executions } from './executions.ts';

export interface FollowSnapshot {
  description: ExecutionDescription;
  /** The state most recently entered. */
  state?: string;
  /** The job record, when it could be read. */
  job?: JobRecord;
}

export interface FollowResult extends FollowSnapshot {
  /** The user stopped following before the execution ended. */
  detached: boolean;
  /** Set when the execution ended in FAILED, TIMED_OUT or ABORTED. */
  failure?: ExecutionFailure;
}

export interface FollowOptions {
  executions: Executions;
  store: JobStore;
  executionArn: string;
  jobId: string;
  pollMs: number;
  /** Aborted (Ctrl-C): stop following, leave the execution running. */
  signal: AbortSignal;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Awaited before the next poll (a live view may read the monitor's metrics first). */
  onUpdate: (snapshot: FollowSnapshot) => void | Promise<void>;
  /** onUpdate on every poll, changed or not (a live view redraws its clock and rates). */
  everyPoll?: boolean;
  /** The job table could not be read (told once; following goes on without progress). */
  onStoreError?: (error: Error) => void;
  /** Events read per poll; the failure analysis reads up to FAILURE_EVENTS. */
  historyEvents?: number;
}

const FAILURE_EVENTS = 2000;

/** Resolves after `ms`, or as soon as `signal` is aborted. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** What a snapshot shows, so an unchanged poll prints nothing. */
export function snapshotKey(s: FollowSnapshot): string {
  const databases = Object.entries(s.job?.databases ?? {}).map(
    ([name, d]) => `${name}:${d.state}:${d.phase}:${d.tablesDone}/${d.tablesTotal}:${d.rowsCopied}`,
  );
  return [s.description.status, s.state ?? '', s.job?.state ?? '', s.job?.phase ?? '', ...databases].join('|');
}

export async function followExecution(o: FollowOptions): Promise<FollowResult> {
  const sleep = o.sleep ?? abortableSleep;
  let storeFailed = false;
  let lastKey = '';
  const readJob = async (): Promise<JobRecord | undefined> => {
    try {
      return await o.store.getJob(o.jobId);
    } catch (error) {
      if (!storeFailed) o.onStoreError?.(error as Error);
      storeFailed = true;
      return undefined;
    }
  };
  for (;;) {
    const description = await o.executions.describe(o.executionArn);
    const events = await o.executions.history(o.executionArn, { maxResults: o.historyEvents ?? 25 });
    const job = await readJob();
    const snapshot: FollowSnapshot = {
      description,
      ...(currentState(events) ? { state: currentState(events)! } : {}),
      ...(job ? { job } : {}),
    };
    const key = snapshotKey(snapshot);
    if (key !== lastKey || o.everyPoll) await o.onUpdate(snapshot);
    lastKey = key;
    if (description.status !== 'RUNNING' && description.status !== 'PENDING_REDRIVE') {
      if (description.status === 'SUCCEEDED') return { ...snapshot, detached: false };
      const all = await o.executions.history(o.executionArn, { maxResults: FAILURE_EVENTS });
      return { ...snapshot, detached: false, failure: executionFailure(all, description) };
    }
    if (o.signal.aborted) return { ...snapshot, detached: true };
    await sleep(o.pollMs, o.signal);
    if (o.signal.aborted) return { ...snapshot, detached: true };
  }
}
