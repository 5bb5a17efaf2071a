// The executions the CLI starts and follows, behind a small interface: the default talks to Step
// Functions; the end-to-end test runs the same ASL in-process (aws-local-stepfunctions) behind it.
import { randomBytes } from 'node:crypto';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  StartExecutionCommand,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { regionOf } from './deployment.ts';
import { describeAwsError } from './errors.ts';

export type { HistoryEvent };
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';

export interface ExecutionDescription {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  /** The execution input as JSON text (identifiers and secret ARNs only). */
  input?: string;
  output?: string;
  error?: string;
  cause?: string;
}

export type ExecutionSummary = Pick<
  ExecutionDescription,
  'executionArn' | 'stateMachineArn' | 'name' | 'status' | 'startDate' | 'stopDate'
>;

export interface Executions {
  start(request: {
    stateMachineArn: string;
    name: string;
    input: string;
  }): Promise<{ executionArn: string; startDate: Date }>;
  describe(executionArn: string): Promise<ExecutionDescription>;
  /** The newest `maxResults` events, newest first. */
  history(executionArn: string, options: { maxResults: number }): Promise<HistoryEvent[]>;
  /** The state machine's most recent executions, newest first. */
  list(stateMachineArn: string, options: { maxResults: number }): Promise<ExecutionSummary[]>;
}

/** Executions through the Step Functions API. */
export function sfnExecutions(sfn: SFNClient): Executions {
  const call = async <T>(action: string, what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw describeAwsError(error, `states:${action}`, what);
    }
  };
  return {
    start: ({ stateMachineArn, name, input }) =>
      call('StartExecution', `start an execution of ${stateMachineArn}`, async () => {
        const out = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input }));
        return { executionArn: out.executionArn!, startDate: out.startDate ?? new Date() };
      }),
    describe: (executionArn) =>
      call('DescribeExecution', `describe the execution ${executionArn}`, async () => {
        const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
        return {
          executionArn,
          stateMachineArn: d.stateMachineArn ?? '',
          name: d.name ?? executionArn.split(':').pop()!,
          status: (d.status ?? 'RUNNING') as ExecutionStatus,
          startDate: d.startDate ?? new Date(0),
          ...(d.stopDate ? { stopDate: d.stopDate } : {}),
          ...(d.input !== undefined ? { input: d.input } : {}),
          ...(d.output !== undefined ? { output: d.output } : {}),
          ...(d.error !== undefined ? { error: d.error } : {}),
          ...(d.cause !== undefined ? { cause: d.cause } : {}),
        };
      }),
    history: (executionArn, { maxResults }) =>
      call('GetExecutionHistory', `read the history of ${executionArn}`, async () => {
        const events: HistoryEvent[] = [];
        let nextToken: string | undefined;
        do {
          const page = await sfn.send(
            new GetExecutionHistoryCommand({
              executionArn,
              reverseOrder: true,
              includeExecutionData: true,
              maxResults: Math.min(1000, maxResults - events.length),
              nextToken,
            }),
          );
          events.push(...(page.events ?? []));
          nextToken = page.nextToken;
        } while (nextToken && events.length < maxResults);
        return events;
      }),
    list: (stateMachineArn, { maxResults }) =>
      call('ListExecutions', `list the executions of ${stateMachineArn}`, async () => {
        const out = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults }));
        return (out.executions ?? []).map((e) => ({
          executionArn: e.executionArn!,
          stateMachineArn: e.stateMachineArn ?? stateMachineArn,
          name: e.name ?? '',
          status: (e.status ?? 'RUNNING') as ExecutionStatus,
          startDate: e.startDate ?? new Date(0),
          ...(e.stopDate ? { stopDate: e.stopDate } : {}),
        }));
      }),
  };
}

/** The execution's page in the Step Functions console. */
export function consoleUrl(executionArn: string): string {
  const region = regionOf(executionArn) ?? 'us-east-1';
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

const MAX_NAME = 80;

/**
 * `<jobId>-<command>-<UTC time>-<4 hex>`: readable in the console's list, unique per attempt, and
 * found again by its prefix (status --job-id). Step Functions allows 80 characters of [A-Za-z0-9_-].
 */
export function executionName(
  jobId: string,
  command: string,
  now: Date,
  random = randomBytes(2).toString('hex'),
): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '');
  const suffix = `-${command}-${stamp}-${random}`;
  return `${jobId.slice(0, MAX_NAME - suffix.length)}${suffix}`;
}

const MADE_NAME = /^(.+)(-(?:init|sync|verify|cutover|cleanup)-\d{8}T\d{6}Z-[0-9a-f]{4})$/;

/** Whether an execution name was made by `executionName` for this job (a long job id is cut to fit). */
export function namedForJob(name: string, jobId: string): boolean {
  const m = MADE_NAME.exec(name);
  if (!m) return false;
  const [, prefix, suffix] = m as unknown as [string, string, string];
  return prefix === jobId || (prefix.length === MAX_NAME - suffix.length && jobId.startsWith(prefix));
}
