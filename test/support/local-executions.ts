// The remote mode's Executions interface over aws-local-stepfunctions: each start runs a state
// machine definition (statemachines/*.asl.json) in this process with its Task states bound to local
// functions, and its event log becomes a Step Functions history (ids, previousEventId, details), so
// the CLI follows it exactly as it follows a real execution.
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { ExecutionDescription, Executions, ExecutionSummary } from '../../src/remote/executions.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type TaskHandlers = Record<string, (input: Json) => Promise<Json> | Json>;

export interface LocalMachine {
  definition: StateMachineDefinition;
  handlers: TaskHandlers;
  /** Wait states' durations in milliseconds, by state name. */
  waits?: Record<string, number>;
}

interface LibraryEvent {
  type: string;
  timestamp: number;
  state?: { name: string; type: string };
  index?: number;
  parentState?: { name: string };
  Error?: string;
  Cause?: unknown;
}

interface Run {
  description: ExecutionDescription;
  events: HistoryEvent[];
  done: Promise<void>;
}

const text = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

/** Turns the library's events into Step Functions history events, chaining each to its state's entry. */
function historyWriter(events: HistoryEvent[]) {
  const lastOf = new Map<string, number>();
  let id = 0;
  const push = (
    type: string,
    timestamp: number,
    previousEventId: number | undefined,
    extra: Partial<HistoryEvent> = {},
  ) => {
    events.push({
      id: ++id,
      type: type as HistoryEvent['type'],
      timestamp: new Date(timestamp),
      ...(previousEventId ? { previousEventId } : {}),
      ...extra,
    });
    return id;
  };
  return (e: LibraryEvent) => {
    const key = `${e.state?.name ?? ''}#${e.index ?? ''}`;
    const failure = { error: e.Error ?? 'Error', cause: text(e.Cause ?? '') };
    switch (e.type) {
      case 'ExecutionStarted':
        return void push('ExecutionStarted', e.timestamp, undefined);
      case 'ExecutionSucceeded':
        return void push('ExecutionSucceeded', e.timestamp, id);
      case 'ExecutionFailed':
        return void push('ExecutionFailed', e.timestamp, id, { executionFailedEventDetails: failure });
      case 'ExecutionAborted':
        return void push('ExecutionAborted', e.timestamp, id);
      case 'StateEntered':
        return void lastOf.set(
          key,
          push(`${e.state!.type}StateEntered`, e.timestamp, id, { stateEnteredEventDetails: { name: e.state!.name } }),
        );
      case 'StateExited':
        return void push(`${e.state!.type}StateExited`, e.timestamp, lastOf.get(key), {
          stateExitedEventDetails: { name: e.state!.name },
        });
      case 'StateFailed':
        if (e.state!.type === 'Task')
          lastOf.set(
            key,
            push('TaskFailed', e.timestamp, lastOf.get(key), {
              taskFailedEventDetails: { resourceType: 'local', resource: e.state!.name, ...failure },
            }),
          );
        else if (e.state!.type === 'Map' || e.state!.type === 'Parallel')
          push(`${e.state!.type}StateFailed`, e.timestamp, lastOf.get(key));
        return;
      case 'StateRetried':
        return void lastOf.set(key, push('TaskScheduled', e.timestamp, lastOf.get(key)));
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        const detail = { name: e.parentState?.name ?? '', index: e.index ?? 0 };
        const field = `mapIteration${e.type.slice('MapIteration'.length)}EventDetails`;
        return void push(e.type, e.timestamp, id, { [field]: detail });
      }
      default:
        return undefined;
    }
  };
}

export class LocalExecutions implements Executions {
  readonly runs = new Map<string, Run>();
  private readonly machines: Record<string, LocalMachine>;

  constructor(machines: Record<string, LocalMachine>) {
    this.machines = machines;
  }

  async start(request: {
    stateMachineArn: string;
    name: string;
    input: string;
  }): Promise<{ executionArn: string; startDate: Date }> {
    const machine = this.machines[request.stateMachineArn];
    if (!machine)
      throw Object.assign(new Error(`State Machine Does Not Exist: '${request.stateMachineArn}'`), {
        name: 'StateMachineDoesNotExist',
      });
    const executionArn = `${request.stateMachineArn.replace(':stateMachine:', ':execution:')}:${request.name}`;
    if (this.runs.has(executionArn))
      throw Object.assign(new Error(`Execution Already Exists: '${executionArn}'`), { name: 'ExecutionAlreadyExists' });
    const startDate = new Date();
    const execution = new StateMachine(machine.definition).run(JSON.parse(request.input) as Json, {
      overrides: {
        taskResourceLocalHandlers: machine.handlers,
        waitTimeOverrides: machine.waits ?? {},
        retryIntervalOverrides: {},
      },
      context: { Execution: { Id: executionArn, Name: request.name, StartTime: startDate.toISOString() } },
    });
    const events: HistoryEvent[] = [];
    const description: ExecutionDescription = {
      executionArn,
      stateMachineArn: request.stateMachineArn,
      name: request.name,
      status: 'RUNNING',
      startDate,
      input: request.input,
    };
    const write = historyWriter(events);
    const logged = (async () => {
      for await (const event of execution.eventLogs) write(event as LibraryEvent);
    })();
    const done = execution.result.then(
      async (output) => {
        await logged;
        Object.assign(description, { status: 'SUCCEEDED', stopDate: new Date(), output: JSON.stringify(output) });
      },
      async () => {
        await logged;
        const failed = events.find((e) => e.type === 'ExecutionFailed')?.executionFailedEventDetails;
        Object.assign(description, {
          status: 'FAILED',
          stopDate: new Date(),
          error: failed?.error,
          cause: failed?.cause,
        });
      },
    );
    this.runs.set(executionArn, { description, events, done });
    return { executionArn, startDate };
  }

  async describe(executionArn: string): Promise<ExecutionDescription> {
    const run = this.runs.get(executionArn);
    if (!run)
      throw Object.assign(new Error(`Execution Does Not Exist: '${executionArn}'`), { name: 'ExecutionDoesNotExist' });
    return { ...run.description };
  }

  async history(executionArn: string, options: { maxResults: number }): Promise<HistoryEvent[]> {
    return [...(this.runs.get(executionArn)?.events ?? [])].reverse().slice(0, options.maxResults);
  }

  async list(stateMachineArn: string, options: { maxResults: number }): Promise<ExecutionSummary[]> {
    return [...this.runs.values()]
      .filter((r) => r.description.stateMachineArn === stateMachineArn)
      .map(({ description: { input: _input, output: _output, error: _error, cause: _cause, ...summary } }) => summary)
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime())
      .slice(0, options.maxResults);
  }

  /** Every execution's input, as Step Functions would have received it. */
  inputs(): string[] {
    return [...this.runs.values()].map((r) => r.description.input ?? '');
  }

  async settled(): Promise<void> {
    await Promise.all([...this.runs.values()].map((r) => r.done));
  }
}
