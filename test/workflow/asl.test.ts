import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { monitorScheduleName, workflowInputSchema } from '../../lambdas/shared/workflow-job.ts';

// The ASL files of statemachines/ on their own: valid States Language, JSONPath only, and every Task
// with the Retry and Catch the workflow design asks for. (Their execution is tested with
// aws-local-stepfunctions elsewhere; the CDK tests check the deployed copy equals these files.)

type Validator = (
  definition: unknown,
  options?: { checkPaths: boolean; checkArn: boolean },
) => { isValid: boolean; errorsText: (separator?: string) => string };
// asl-validator ships CommonJS without type declarations.
const aslValidator = createRequire(import.meta.url)('asl-validator') as Validator;

interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: string;
}
interface Catcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
}
interface State {
  Type: string;
  Resource?: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: { Next: string }[];
  Retry?: Retrier[];
  Catch?: Catcher[];
  Parameters?: Record<string, unknown>;
  Branches?: Machine[];
  ItemProcessor?: Machine & { ProcessorConfig?: { Mode: string } };
  MaxConcurrency?: number;
  Seconds?: number;
  Error?: string;
  ErrorPath?: string;
  Cause?: string;
  CausePath?: string;
  QueryLanguage?: string;
}
interface Machine {
  StartAt: string;
  States: Record<string, State>;
  QueryLanguage?: string;
}

const NAMES = ['replicate', 'verify', 'cleanup', 'cutover'] as const;
const readText = (name: string) =>
  readFileSync(new URL(`../../statemachines/${name}.asl.json`, import.meta.url), 'utf8');
const load = (name: string) => JSON.parse(readText(name)) as Machine;

/** Every state, in nested Parallel branches and Map processors too, with the machine it belongs to. */
function allStates(machine: Machine): [string, State, Machine][] {
  return Object.entries(machine.States).flatMap(([name, state]): [string, State, Machine][] => [
    [name, state, machine],
    ...(state.Branches ?? []).flatMap(allStates),
    ...(state.ItemProcessor ? allStates(state.ItemProcessor) : []),
  ]);
}
const tasks = (machine: Machine) => allStates(machine).filter(([, s]) => s.Type === 'Task');

/** Configuration errors of the functions: retrying cannot fix them. */
const NOT_RETRIED = [
  'SourceUnreachableFromTarget',
  'LogicalReplicationOff',
  'RebootPending',
  'ReadReplicaSource',
  'SourceNotFound',
  'MissingPermission',
  'ValidationFailed',
  'SecretNotFound',
  'SecretMalformed',
  'InvalidEvent',
  'FilterError',
  'JobAlreadyFinishedError',
  'States.ALL',
  'States.Runtime',
];
const LAMBDA_TRANSIENT = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];
/** The Step Functions resources, in the partition the stack is deployed to. */
const STATES = 'arn:${Partition}:states:::';
/** Only the snapshot copy, which resumes, runs again after a stopped task; verify's exit code is its verdict. */
const RETRIED_AFTER_STOPPED_TASK = ['Copy snapshot'];

describe.each(NAMES)('statemachines/%s.asl.json', (name) => {
  const machine = load(name);

  it('is valid Amazon States Language, paths and ARNs checked', () => {
    const result = aslValidator(JSON.parse(readText(name).replaceAll('${Partition}', 'aws')), {
      checkPaths: true,
      checkArn: true,
    });
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('names its service integrations in the partition of the deployment, never arn:aws', () => {
    for (const [stateName, state] of tasks(machine))
      expect(state.Resource, stateName).toMatch(/^arn:\$\{Partition\}:states:::/);
    expect(readText(name)).not.toContain('arn:aws:');
  });

  it('uses JSONPath only', () => {
    const text = readText(name);
    expect(text).not.toMatch(/JSONata|\{%|"Arguments"|"Output"|"Assign"/);
    expect(allStates(machine).filter(([, s]) => s.QueryLanguage !== undefined)).toEqual([]);
  });

  it('retries transient errors of every Task with backoff and full jitter, and never a configuration error', () => {
    expect(tasks(machine).length).toBeGreaterThan(0);
    for (const [stateName, state] of tasks(machine)) {
      expect(state.Retry?.length, stateName).toBeGreaterThan(0);
      for (const retrier of state.Retry!) {
        expect(retrier, stateName).toMatchObject({
          IntervalSeconds: expect.any(Number),
          MaxAttempts: expect.any(Number),
          BackoffRate: expect.any(Number),
          JitterStrategy: 'FULL',
        });
        expect(retrier.MaxAttempts!, stateName).toBeLessThanOrEqual(6);
        for (const error of NOT_RETRIED)
          expect(retrier.ErrorEquals, `${stateName} retries ${error}`).not.toContain(error);
      }
      const retried = state.Retry!.flatMap((r) => r.ErrorEquals);
      if (state.Resource === `${STATES}lambda:invoke`)
        expect(retried, stateName).toEqual(expect.arrayContaining([...LAMBDA_TRANSIENT, 'States.Timeout']));
      if (state.Resource === `${STATES}ecs:runTask.sync`)
        expect(retried, stateName).toContain('ECS.AmazonECSException');
      const afterStop = state.Retry!.filter((r) => r.ErrorEquals.includes('States.TaskFailed'));
      if (RETRIED_AFTER_STOPPED_TASK.includes(stateName))
        expect(afterStop, stateName).toEqual([
          expect.objectContaining({ ErrorEquals: ['States.TaskFailed'], MaxAttempts: 1 }),
        ]);
      else expect(afterStop, stateName).toEqual([]);
      if (state.Resource?.includes(':scheduler:'))
        expect(retried, stateName).toContain('Scheduler.ThrottlingException');
    }
  });

  it('catches every error of every Task, into a state of the same scope', () => {
    for (const [stateName, state, scope] of tasks(machine)) {
      const last = state.Catch?.at(-1);
      expect(last?.ErrorEquals, stateName).toEqual(['States.ALL']);
      for (const catcher of state.Catch!)
        expect(scope.States[catcher.Next], `${stateName} -> ${catcher.Next}`).toBeDefined();
    }
  });

  it('fails with a readable error and cause from plain paths (the local runner evaluates no intrinsic there)', () => {
    const fails = allStates(machine).filter(([, s]) => s.Type === 'Fail');
    expect(fails.length).toBeGreaterThan(0);
    for (const [stateName, state] of fails) {
      expect(state.Error ?? state.ErrorPath, stateName).toBeDefined();
      expect(state.Cause ?? state.CausePath, stateName).toBeDefined();
      for (const path of [state.ErrorPath, state.CausePath].filter(Boolean))
        expect(path, stateName).toMatch(/^\$(\.[A-Za-z]+)+$/);
    }
  });

  it('runs its Maps inline with a bounded concurrency, and passes the tasks identifiers and secret ARNs only', () => {
    for (const [stateName, state] of allStates(machine).filter(([, s]) => s.Type === 'Map')) {
      expect(state.ItemProcessor?.ProcessorConfig?.Mode, stateName).toBe('INLINE');
      expect(state.MaxConcurrency, stateName).toBeGreaterThan(0);
    }
    for (const [stateName, state] of tasks(machine).filter(([, s]) => s.Resource === `${STATES}ecs:runTask.sync`)) {
      const override = (
        state.Parameters!.Overrides as {
          ContainerOverrides: { Name: string; Command: string[]; Environment: { Name: string; 'Value.$': string }[] }[];
        }
      ).ContainerOverrides[0]!;
      expect(override.Name).toBe('${ContainerName}');
      expect(
        override.Environment.map((e) => e.Name),
        stateName,
      ).toEqual([
        'JOB_ID',
        'DATABASE',
        'TARGET_DATABASE',
        'SOURCE_SECRET_ARN',
        'TARGET_SECRET_ARN',
        'SOURCE_ENDPOINT',
        'TARGET_ENDPOINT',
        'PLAN',
      ]);
      expect(override.Environment.find((e) => e.Name === 'PLAN')!['Value.$']).toBe('States.JsonToString($.plan)');
      expect(state.Parameters).toMatchObject({
        LaunchType: 'FARGATE',
        Cluster: '${ClusterArn}',
        TaskDefinition: '${TaskDefinitionArn}',
      });
    }
  });
});

/** The states passed through from StartAt, following Next and the first (success) choice. */
function happyPath(machine: Machine, choose: Record<string, string> = {}): string[] {
  const path: string[] = [];
  for (let name: string | undefined = machine.StartAt; name && !path.includes(name);) {
    path.push(name);
    const state: State = machine.States[name]!;
    name = state.Type === 'Choice' ? (choose[name] ?? state.Default) : state.Next;
  }
  return path;
}

describe('the replicate workflow', () => {
  const machine = load('replicate');
  const map = machine.States['Replicate each database']!.ItemProcessor!;

  it('reads as a checklist in the console', () => {
    expect(happyPath(machine, { 'Verify schedule requested?': 'Create verify schedule' })).toEqual([
      'Record job started',
      'Run checks',
      'Checks passed?',
      'Estimate size',
      'Create monitor schedule',
      'Replicate each database',
      'Verify schedule requested?',
      'Create verify schedule',
      'Record job succeeded',
      'Job succeeded',
    ]);
    expect(
      machine.States['Run checks']!.Branches!.map((b) =>
        Object.keys(b.States).filter((n) => b.States[n]!.Type === 'Task'),
      ),
    ).toEqual([['Check RDS parameter group'], ['Check grants'], ['Check target reaches source']]);
    expect(happyPath(map)).toEqual([
      'Copy snapshot',
      'Create subscription',
      'Check replication',
      'Caught up?',
      'Count poll',
      'Wait for catch-up',
    ]);
  });

  it('runs snapshot, then subscribe, in the replicator task', () => {
    const command = (state: string) =>
      (map.States[state]!.Parameters!.Overrides as { ContainerOverrides: { Command: string[] }[] })
        .ContainerOverrides[0]!.Command;
    expect(command('Copy snapshot')).toEqual(['snapshot']);
    expect(command('Create subscription')).toEqual(['subscribe']);
  });

  it('waits for catch-up in a loop of 30 s rounds that stops after maxPolls checks, or after three broken checks in a row', () => {
    expect(machine.States['Replicate each database']).toMatchObject({
      ItemSelector: { poll: { count: 1, broken: 0, driftKey: 'unknown' }, 'maxPolls.$': '$.job.maxPolls' },
    });
    expect(map.States['Wait for catch-up']).toMatchObject({ Type: 'Wait', Seconds: 30, Next: 'Check replication' });
    expect(map.States['Caught up?']!.Choices).toEqual([
      // Drift that changed since the last check is recorded and told first, once (then "Remember drift" comes back here).
      { Not: { Variable: '$.replication.driftKey', StringEqualsPath: '$.poll.driftKey' }, Next: 'Record drift' },
      { Variable: '$.replication.inSync', BooleanEquals: true, Next: 'Database in sync' },
      { Variable: '$.poll.count', NumericGreaterThanEqualsPath: '$.maxPolls', Next: 'Describe catch-up timeout' },
      { Variable: '$.replication.verdict', StringEquals: 'broken', Next: 'Count broken check' },
    ]);
    expect(map.States['Count poll']!.Parameters).toEqual({
      'count.$': 'States.MathAdd($.poll.count, 1)',
      broken: 0,
      'driftKey.$': '$.poll.driftKey',
    });
    expect(map.States['Count broken check']!.Parameters).toEqual({
      'count.$': 'States.MathAdd($.poll.count, 1)',
      'broken.$': 'States.MathAdd($.poll.broken, 1)',
      'driftKey.$': '$.poll.driftKey',
    });
    expect(map.States['Remember drift']).toMatchObject({
      Parameters: { 'count.$': '$.poll.count', 'broken.$': '$.poll.broken', 'driftKey.$': '$.replication.driftKey' },
      Next: 'Caught up?',
    });
    expect(map.States['Notify drift']).toMatchObject({
      Resource: 'arn:${Partition}:states:::sns:publish',
      Parameters: { TopicArn: '${AlarmTopicArn}' },
      Next: 'Remember drift',
    });
    expect(map.States['Broken three times in a row?']).toMatchObject({
      Choices: [{ Variable: '$.poll.broken', NumericGreaterThanEquals: 3, Next: 'Describe broken replication' }],
      Default: 'Wait for catch-up',
    });
    for (const stop of ['Describe catch-up timeout', 'Describe broken replication'])
      expect(map.States[stop]!.Next).toBe('Database failed');
  });

  it('stops with the reason when a check did not pass', () => {
    expect(machine.States['Checks passed?']!.Choices!.map((c) => c.Next)).toEqual([
      'RDS source not ready',
      'Source or target not ready',
      'Target cannot reach source',
    ]);
    for (const stop of ['RDS source not ready', 'Source or target not ready', 'Target cannot reach source'])
      expect(machine.States[stop]!.Next).toBe('Record job failed');
    // The target's own connection to the source is probed among the checks, before Estimate size and any copy.
    const probe = machine.States['Run checks']!.Branches![2]!.States['Check target reaches source']!;
    expect(probe.Parameters).toEqual({
      FunctionName: '${CheckTargetReachesSourceFunctionArn}',
      'Payload.$': '$.job.reach',
    });
  });

  it('records every failure of a phase, then fails with its error and cause', () => {
    for (const [stateName, state] of Object.entries(machine.States).filter(
      ([n, s]) =>
        (s.Type === 'Task' || s.Type === 'Parallel' || s.Type === 'Map') &&
        n !== 'Record job failed' &&
        n !== 'Record job started',
    )) {
      // A monitor schedule made by an earlier execution is updated (tested below), not a failure.
      expect(
        state.Catch?.map((c) => c.Next).filter((n) => n !== 'Update monitor schedule'),
        stateName,
      ).toEqual(['Record job failed']);
    }
    // A second execution of a running job fails without recording anything on the job the first one runs.
    expect(machine.States['Record job started']!.Catch!.map((c) => [c.ErrorEquals, c.Next])).toEqual([
      [['JobAlreadyRunning'], 'Describe job already running'],
      [['States.ALL'], 'Record job failed'],
    ]);
    expect(machine.States['Describe job already running']!.Next).toBe('Job already running');
    expect(machine.States['Record job failed']).toMatchObject({
      Next: 'Job failed',
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Keep original error' }],
    });
    expect(machine.States['Job failed']).toEqual({
      Type: 'Fail',
      ErrorPath: '$.failure.error',
      CausePath: '$.failure.cause',
    });
  });

  it('creates the verify schedule with the SDK integration, only when asked', () => {
    expect(machine.States['Verify schedule requested?']!.Choices).toEqual([
      { Variable: '$.job.verifySchedule', IsPresent: true, Next: 'Create verify schedule' },
    ]);
    expect(machine.States['Create verify schedule']).toMatchObject({
      Resource: `${STATES}aws-sdk:scheduler:createSchedule`,
      Parameters: {
        GroupName: '${ScheduleGroupName}',
        Target: {
          Arn: '${VerifyStateMachineArn}',
          RoleArn: '${SchedulerRoleArn}',
          RetryPolicy: { MaximumRetryAttempts: 2 },
          DeadLetterConfig: { Arn: '${ScheduleDeadLetterQueueArn}' },
        },
      },
    });
  });
});

describe('the monitor schedule', () => {
  const machine = load('replicate');
  const cleanup = load('cleanup');

  it('is made before any slot exists: once a minute, the monitor function, the stack role and dead-letter queue, the job as input', () => {
    expect(machine.States['Estimate size']!.Next).toBe('Create monitor schedule');
    const create = machine.States['Create monitor schedule']!;
    expect(create).toMatchObject({
      Resource: `${STATES}aws-sdk:scheduler:createSchedule`,
      Next: 'Replicate each database',
      Parameters: {
        'Name.$': '$.job.monitorSchedule.name',
        GroupName: '${ScheduleGroupName}',
        ScheduleExpression: 'rate(1 minute)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: {
          Arn: '${MonitorFunctionArn}',
          RoleArn: '${SchedulerRoleArn}',
          'Input.$': 'States.JsonToString($.job.monitorSchedule.input)',
          DeadLetterConfig: { Arn: '${ScheduleDeadLetterQueueArn}' },
        },
      },
    });
    // A reading a minute old is worth nothing: never retried late.
    expect((create.Parameters!.Target as { RetryPolicy: unknown }).RetryPolicy).toEqual({
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
  });

  it('made already by an earlier execution of the job: updated with this input; any other error fails the job', () => {
    const create = machine.States['Create monitor schedule']!;
    expect(create.Catch!.map((c) => [c.ErrorEquals, c.Next])).toEqual([
      [['Scheduler.ConflictException'], 'Update monitor schedule'],
      [['States.ALL'], 'Record job failed'],
    ]);
    const update = machine.States['Update monitor schedule']!;
    expect(update.Resource).toBe(`${STATES}aws-sdk:scheduler:updateSchedule`);
    expect(update.Parameters).toEqual(create.Parameters);
    expect(update).toMatchObject({
      Next: 'Replicate each database',
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Record job failed' }],
    });
  });

  it('is deleted by cleanup after the verify schedule, by the name replicate gave it; a missing one is fine', () => {
    expect(cleanup.States['Delete verify schedule']!.Next).toBe('Delete monitor schedule');
    const del = cleanup.States['Delete monitor schedule']!;
    expect(del).toMatchObject({
      Resource: `${STATES}aws-sdk:scheduler:deleteSchedule`,
      Parameters: { 'Name.$': "States.Format('health-{}', $.jobId)", GroupName: '${ScheduleGroupName}' },
      Next: 'Record clean-up',
    });
    expect(del.Catch!.map((c) => [c.ErrorEquals, c.Next])).toEqual([
      [['Scheduler.ResourceNotFoundException'], 'Record clean-up'],
      [['States.ALL'], 'Record clean-up failed'],
    ]);
    expect(monitorScheduleName('shop-2026')).toBe('health-shop-2026');
    // The longest job id still makes a valid schedule name (at most 64 characters).
    expect(monitorScheduleName('j'.repeat(57)).length).toBeLessThanOrEqual(64);
  });
});

describe('the verify and cleanup workflows', () => {
  it('verify: run, record the result, fail on a difference (the verify alarm tells it, once), else succeed', () => {
    const machine = load('verify');
    expect(happyPath(machine)).toEqual([
      'Set defaults',
      'Apply defaults',
      'Verify each database',
      'Record verify result',
      'Difference found?',
      'Verify inconclusive',
    ]);
    expect(machine.States['Difference found?']!.Choices!.map((c) => c.Next)).toEqual([
      'Differences found',
      'Verified',
      'Verified',
    ]);
    expect(machine.States['Differences found']).toEqual({
      Type: 'Fail',
      Error: 'VerifyDifference',
      CausePath: '$.result.summary',
    });
    expect(tasks(machine).map(([n]) => n)).toEqual(['Run verify', 'Record verify result']);
  });

  it('verify: keeps only the error name of a failed task in its state, not the stopped task description', () => {
    const inner = load('verify').States['Verify each database']!.ItemProcessor!.States;
    expect(inner['Note verify task failure']!.Parameters).toEqual({
      'database.$': '$.database',
      failed: true,
      'error.$': '$.error.Error',
    });
  });

  it('cleanup: clean each database, delete the schedule (already gone is fine), record the result', () => {
    const machine = load('cleanup');
    expect(happyPath(machine)).toEqual([
      'Set defaults',
      'Apply defaults',
      'Clean up each database',
      'Delete verify schedule',
      'Delete monitor schedule',
      'Record clean-up',
      'Cleaned up',
    ]);
    expect(machine.States['Delete verify schedule']!.Catch![0]).toEqual({
      ErrorEquals: ['Scheduler.ResourceNotFoundException'],
      Comment: expect.any(String),
      ResultPath: '$.noSchedule',
      Next: 'Delete monitor schedule',
    });
    const run = machine.States['Clean up each database']!.ItemProcessor!.States['Run cleanup']!;
    expect(
      (run.Parameters!.Overrides as { ContainerOverrides: { Command: string[] }[] }).ContainerOverrides[0]!.Command,
    ).toEqual(['cleanup']);
  });
});

describe('the cutover workflow', () => {
  const machine = load('cutover');
  const map = machine.States['Cut over each database']!;

  it('reads as a checklist: defaults, the cutover task per database, the job recorded', () => {
    expect(happyPath(machine)).toEqual([
      'Set defaults',
      'Apply defaults',
      'Cut over each database',
      'Record job succeeded',
      'Cut over',
    ]);
    expect(happyPath(map.ItemProcessor!)).toEqual(['Run cutover']);
    expect(map).toMatchObject({
      ItemsPath: '$.databases',
      MaxConcurrency: 4,
      ItemSelector: { 'database.$': '$$.Map.Item.Value', 'plan.$': '$.plan' },
    });
    const run = map.ItemProcessor!.States['Run cutover']!;
    expect(run.Resource).toBe(`${STATES}ecs:runTask.sync`);
    expect(
      (run.Parameters!.Overrides as { ContainerOverrides: { Command: string[] }[] }).ContainerOverrides[0]!.Command,
    ).toEqual(['cutover']);
    expect(machine.States['Record job succeeded']!.Parameters).toMatchObject({
      FunctionName: '${RecordJobFunctionArn}',
      Payload: { action: 'succeeded', 'jobId.$': '$.jobId' },
    });
  });

  it('takes identifiers and secret ARNs only, and fills in the optional keys as verify and cleanup do', () => {
    expect(machine.States['Set defaults']).toEqual(load('cleanup').States['Set defaults']);
    expect(machine.States['Apply defaults']).toEqual({
      ...load('cleanup').States['Apply defaults'],
      Next: 'Cut over each database',
    });
    expect(readText('cutover')).not.toMatch(/password|"url"|postgres(ql)?:\/\//i);
  });

  it('records every failure, then fails with the recorded error and cause; a failed database is named in the cause', () => {
    for (const state of ['Cut over each database', 'Record job succeeded'])
      expect(
        machine.States[state]!.Catch!.map((c) => c.Next),
        state,
      ).toEqual(['Record job failed']);
    expect(machine.States['Record job failed']).toMatchObject({
      Parameters: {
        Payload: { action: 'failed', 'jobId.$': '$.jobId', 'since.$': '$$.Execution.StartTime', 'error.$': '$.error' },
      },
      Next: 'Cut-over failed',
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Keep original error' }],
    });
    expect(machine.States['Keep original error']!.Next).toBe('Cut-over failed');
    expect(machine.States['Cut-over failed']).toEqual({
      Type: 'Fail',
      ErrorPath: '$.failure.error',
      CausePath: '$.failure.cause',
    });
    const inner = map.ItemProcessor!.States;
    expect(inner['Run cutover']!.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Describe database failure' },
    ]);
    expect(inner['Describe database failure']!.Parameters).toEqual({
      'Error.$': '$.error.Error',
      'Cause.$': "States.Format('Database {}: {}', $.database, $.error.Cause)",
    });
  });
});

describe('statemachines/README.md', () => {
  it('documents an execution input the workflow accepts', () => {
    const readme = readFileSync(new URL('../../statemachines/README.md', import.meta.url), 'utf8');
    const example = /```json\n([\s\S]*?)\n```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    expect(workflowInputSchema.safeParse(JSON.parse(example!)).success).toBe(true);
  });

  it('lists every placeholder of the files', () => {
    const readme = readFileSync(new URL('../../statemachines/README.md', import.meta.url), 'utf8');
    const placeholders = new Set(
      NAMES.flatMap((n) => [...readText(n).matchAll(/\$\{([A-Za-z]+)\}/g)].map((m) => m[1]!)),
    );
    for (const p of placeholders) expect(readme, p).toContain(`\`\${${p}}\``);
  });
});
