// Execution names, the Step Functions adapter (paging the history newest first) and reading a history.
import { GetExecutionHistoryCommand, SFNClient, StartExecutionCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { consoleUrl, executionName, namedForJob, sfnExecutions } from '../../../src/remote/executions.ts';
import { currentState, executionFailure } from '../../../src/remote/history.ts';

const sfn = mockClient(SFNClient);
beforeEach(() => sfn.reset());

const at = new Date('2026-03-01T10:20:30.456Z');
const ev = (id: number, type: string, previousEventId?: number, extra: Partial<HistoryEvent> = {}): HistoryEvent => ({
  id,
  type: type as HistoryEvent['type'],
  previousEventId,
  timestamp: at,
  ...extra,
});
const entered = (id: number, type: string, name: string, previousEventId?: number) =>
  ev(id, type, previousEventId, { stateEnteredEventDetails: { name } });

describe('execution names', () => {
  it('are <jobId>-<command>-<UTC time>-<4 hex>, at most 80 valid characters even for the longest job id, and found again by job', () => {
    expect(executionName('shop', 'init', at, 'a1b2')).toBe('shop-init-20260301T102030Z-a1b2');
    const longest = 'j'.repeat(57);
    const name = executionName(longest, 'cleanup', at);
    expect(name.length).toBeLessThanOrEqual(80);
    expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(executionName('shop', 'init', at)).not.toBe(executionName('shop', 'init', at));
    expect(namedForJob('shop-init-20260301T102030Z-a1b2', 'shop')).toBe(true);
    expect(namedForJob('shop_2-init-20260301T102030Z-a1b2', 'shop')).toBe(false);
    expect(namedForJob('shop-2-init-20260301T102030Z-a1b2', 'shop')).toBe(false);
    expect(namedForJob('c4b7e2f0-0000-scheduler-run', 'c4b7e2f0')).toBe(false);
    expect(namedForJob(name, longest)).toBe(true);
    expect(namedForJob(name, 'j'.repeat(40))).toBe(false);
  });

  it('link to the execution in the console of its region', () => {
    const arn = 'arn:aws:states:ap-southeast-2:123456789012:execution:Replicate:shop-init-x';
    expect(consoleUrl(arn)).toBe(
      `https://ap-southeast-2.console.aws.amazon.com/states/home?region=ap-southeast-2#/v2/executions/details/${arn}`,
    );
  });
});

describe('sfnExecutions', () => {
  it('starts with name and input, and reads the history newest first across pages up to the limit', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:x', startDate: at });
    sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: [ev(3, 'TaskStateEntered'), ev(2, 'PassStateExited')], nextToken: 'p2' })
      .resolvesOnce({ events: [ev(1, 'ExecutionStarted')], nextToken: 'p3' });
    const executions = sfnExecutions(new SFNClient({ region: 'eu-west-1' }));
    expect(await executions.start({ stateMachineArn: 'arn:sm', name: 'n', input: '{}' })).toEqual({
      executionArn: 'arn:x',
      startDate: at,
    });
    expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input).toEqual({
      stateMachineArn: 'arn:sm',
      name: 'n',
      input: '{}',
    });
    const events = await executions.history('arn:x', { maxResults: 3 });
    expect(events.map((e) => e.id)).toEqual([3, 2, 1]);
    const calls = sfn.commandCalls(GetExecutionHistoryCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([
      { executionArn: 'arn:x', reverseOrder: true, includeExecutionData: true, maxResults: 3, nextToken: undefined },
      { executionArn: 'arn:x', reverseOrder: true, includeExecutionData: true, maxResults: 1, nextToken: 'p2' },
    ]);
  });

  it('turns a refused call into one sentence naming the action to grant', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    await expect(
      sfnExecutions(new SFNClient({ region: 'eu-west-1' })).start({
        stateMachineArn: 'arn:sm',
        name: 'n',
        input: '{}',
      }),
    ).rejects.toThrow('Your AWS identity may not start an execution of arn:sm; grant it states:StartExecution');
  });
});

describe('reading a history', () => {
  it('the current state is the one entered last', () => {
    expect(
      currentState([
        ev(9, 'TaskScheduled', 8),
        entered(8, 'TaskStateEntered', 'Copy snapshot'),
        entered(5, 'ChoiceStateEntered', 'Checks passed?'),
      ]),
    ).toBe('Copy snapshot');
    expect(currentState([ev(1, 'ExecutionStarted')])).toBeUndefined();
  });

  it('a failure is placed at the task whose failure was not retried, or at the first Fail state', () => {
    const lambda = [
      entered(2, 'TaskStateEntered', 'Record job started', 1),
      ev(3, 'TaskScheduled', 2),
      ev(4, 'TaskStarted', 3),
      ev(5, 'TaskFailed', 4, {
        taskFailedEventDetails: {
          resourceType: 'lambda',
          resource: 'invoke',
          error: 'InvalidEvent',
          cause: '{"errorMessage":"The execution input is not valid"}',
        },
      }),
      entered(6, 'TaskStateEntered', 'Record job failed', 5),
      entered(9, 'FailStateEntered', 'Job failed', 8),
      ev(10, 'ExecutionFailed', 9, {
        executionFailedEventDetails: { error: 'InvalidEvent', cause: 'The execution input is not valid: databases' },
      }),
    ];
    expect(executionFailure(lambda)).toEqual({
      state: 'Record job started',
      error: 'InvalidEvent',
      cause: 'The execution input is not valid: databases',
    });
    const choice = [
      entered(2, 'TaskStateEntered', 'Check replication', 1),
      ev(3, 'TaskScheduled', 2),
      ev(4, 'TaskFailed', 3, {
        taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke', error: 'ConnectionFailed' },
      }),
      ev(5, 'TaskScheduled', 4),
      ev(6, 'TaskSucceeded', 5),
      entered(8, 'PassStateEntered', 'Describe broken replication', 7),
      entered(10, 'FailStateEntered', 'Database failed', 9),
      entered(14, 'FailStateEntered', 'Job failed', 13),
      ev(15, 'ExecutionFailed', 14, {
        executionFailedEventDetails: {
          error: 'ReplicationBroken',
          cause: 'Database shop: the replication is broken: slot missing',
        },
      }),
    ];
    expect(executionFailure(choice)).toEqual({
      state: 'Database failed',
      error: 'ReplicationBroken',
      cause: 'Database shop: the replication is broken: slot missing',
    });
  });

  it('an aborted or timed-out execution says so, from the history or from DescribeExecution', () => {
    expect(
      executionFailure([entered(2, 'TaskStateEntered', 'Copy snapshot', 1), ev(3, 'ExecutionAborted', 2)]),
    ).toEqual({
      state: 'Copy snapshot',
      error: 'ExecutionAborted',
      cause: 'The execution was stopped (StopExecution) before it finished.',
    });
    expect(executionFailure([], { status: 'TIMED_OUT' })).toMatchObject({ error: 'States.Timeout' });
  });
});
