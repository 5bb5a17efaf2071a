// Reading an execution's history: the state it is in now, and where and why it failed.
import type { HistoryEvent } from './executions.ts';

export interface ExecutionFailure {
  /** The state that failed: the task whose failure was not retried, else the first Fail state entered. */
  state?: string;
  error: string;
  cause: string;
}

/** Task-level failures whose details carry error and cause. */
const FAILURE_DETAILS: Record<string, keyof HistoryEvent> = {
  TaskFailed: 'taskFailedEventDetails',
  TaskStartFailed: 'taskStartFailedEventDetails',
  TaskSubmitFailed: 'taskSubmitFailedEventDetails',
  TaskTimedOut: 'taskTimedOutEventDetails',
  LambdaFunctionFailed: 'lambdaFunctionFailedEventDetails',
  LambdaFunctionStartFailed: 'lambdaFunctionStartFailedEventDetails',
  LambdaFunctionScheduleFailed: 'lambdaFunctionScheduleFailedEventDetails',
  LambdaFunctionTimedOut: 'lambdaFunctionTimedOutEventDetails',
  ActivityFailed: 'activityFailedEventDetails',
  ActivityTimedOut: 'activityTimedOutEventDetails',
  EvaluationFailed: 'evaluationFailedEventDetails',
};
const RETRY_EVENTS = new Set(['TaskScheduled', 'LambdaFunctionScheduled', 'ActivityScheduled']);
const EXECUTION_END: Record<string, keyof HistoryEvent> = {
  ExecutionFailed: 'executionFailedEventDetails',
  ExecutionTimedOut: 'executionTimedOutEventDetails',
  ExecutionAborted: 'executionAbortedEventDetails',
};

const isEntered = (e: HistoryEvent) => typeof e.type === 'string' && e.type.endsWith('StateEntered');

/** The state most recently entered (events newest first, as GetExecutionHistory with reverseOrder). */
export function currentState(newestFirst: HistoryEvent[]): string | undefined {
  return newestFirst.find(isEntered)?.stateEnteredEventDetails?.name;
}

/** The name of the state an event belongs to, following previousEventId back to its *StateEntered. */
function stateOf(event: HistoryEvent, byId: Map<number, HistoryEvent>): string | undefined {
  let e: HistoryEvent | undefined = event;
  for (let hops = 0; e && hops < 50; hops++) {
    if (isEntered(e)) return e.stateEnteredEventDetails?.name;
    e = e.previousEventId !== undefined ? byId.get(e.previousEventId) : undefined;
  }
  return undefined;
}

function details(event: HistoryEvent, key: keyof HistoryEvent): { error?: string; cause?: string } {
  return (event[key] as { error?: string; cause?: string } | undefined) ?? {};
}

/**
 * Where and why an execution failed, from its history (any order) and, when the history holds no
 * end event, DescribeExecution's error and cause.
 */
export function executionFailure(
  events: HistoryEvent[],
  described: { error?: string | undefined; cause?: string | undefined; status?: string } = {},
): ExecutionFailure {
  const sorted = [...events].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  const byId = new Map(sorted.map((e) => [e.id ?? 0, e]));
  const retried = new Set(
    sorted
      .filter((e) => RETRY_EVENTS.has(e.type ?? '') && e.previousEventId !== undefined)
      .map((e) => e.previousEventId!),
  );
  const end = [...sorted].reverse().find((e) => EXECUTION_END[e.type ?? '']);
  const ended = end ? details(end, EXECUTION_END[end.type!]!) : {};
  const lastTaskFailure = [...sorted].reverse().find((e) => FAILURE_DETAILS[e.type ?? ''] && !retried.has(e.id ?? -1));
  const firstFail = sorted.find((e) => e.type === 'FailStateEntered');
  const task = lastTaskFailure ? details(lastTaskFailure, FAILURE_DETAILS[lastTaskFailure.type!]!) : {};
  const state = lastTaskFailure
    ? stateOf(lastTaskFailure, byId)
    : (firstFail?.stateEnteredEventDetails?.name ??
      [...sorted].reverse().find(isEntered)?.stateEnteredEventDetails?.name);
  const fallback =
    described.status === 'TIMED_OUT' ? 'States.Timeout' : described.status === 'ABORTED' ? 'ExecutionAborted' : 'Error';
  const error =
    ended.error ||
    described.error ||
    task.error ||
    (end?.type === 'ExecutionTimedOut'
      ? 'States.Timeout'
      : end?.type === 'ExecutionAborted'
        ? 'ExecutionAborted'
        : fallback);
  const cause =
    ended.cause ||
    described.cause ||
    task.cause ||
    (error === 'ExecutionAborted'
      ? 'The execution was stopped (StopExecution) before it finished.'
      : 'No cause was recorded; open the execution in the console for the failed state.');
  return { ...(state ? { state } : {}), error, cause };
}
