// Runs the state machine files of statemachines/ locally with aws-local-stepfunctions, every Task bound
// to the code it runs on AWS: the Lambda logic functions of lambdas/ (event parsed with the function's
// schema, errors made safe and reported as Step Functions reports a Lambda error), the Fargate task's
// subcommands (src/task, configured from the container override's environment, as in the deployed task
// definition), and stubs for EventBridge Scheduler. The job store is DynamoDbJobStore on dynalite;
// Secrets Manager and RDS are mocked at the SDK client (aws-sdk-client-mock).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DescribeDBInstancesCommand, DescribeDBParametersCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { mockClient } from 'aws-sdk-client-mock';
import type { z } from 'zod';
import type { Context } from 'aws-lambda';
import { checkGrants, checkGrantsEvent, handler as checkGrantsHandler } from '../../lambdas/check-grants.ts';
import {
  checkRdsParameterGroupEvent,
  checkRdsSource,
  handler as checkRdsHandler,
} from '../../lambdas/check-rds-parameter-group.ts';
import {
  checkReplication,
  checkReplicationEvent,
  handler as checkReplicationHandler,
} from '../../lambdas/check-replication.ts';
import {
  checkTargetReachesSource,
  checkTargetReachesSourceEvent,
  handler as checkTargetReachesSourceHandler,
} from '../../lambdas/check-target-reaches-source.ts';
import { estimateSize, estimateSizeEvent, handler as estimateSizeHandler } from '../../lambdas/estimate-size.ts';
import {
  monitorReplication,
  monitorReplicationEvent,
  type MonitorReplicationResult,
} from '../../lambdas/monitor-replication.ts';
import { handler as recordJobHandler, recordJob, recordJobEvent } from '../../lambdas/record-job.ts';
import { RecordedMetrics } from './metrics.ts';
import { parseEvent } from '../../lambdas/shared/errors.ts';
import { NamedError, toSafeError } from '../../src/errors/safe-error.ts';
import type { DynamoDbJobStore } from '../../src/jobs/index.ts';
import { parseTaskConfig, TaskConfigError } from '../../src/task/config.ts';
import { runTask } from '../../src/task/run.ts';
import { startJobTable, type JobTable } from './job-table.ts';

export type WorkflowName = 'replicate' | 'verify' | 'cleanup' | 'cutover';
type Json = Parameters<StateMachine['run']>[0];
export type TaskHandler = (input: Json) => Promise<Json>;
export type EventLog = { type: string; state?: { name: string }; Error?: string; Cause?: unknown; index?: number };

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
export const secretArn = (name: string) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-AbCdEf`;
const fn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:replicator-${name}`;

/** What CloudFormation puts into the placeholders on deploy, spelled as plain values. */
export const SUBSTITUTIONS: Readonly<Record<string, string>> = {
  Partition: 'aws',
  RecordJobFunctionArn: fn('record-job'),
  CheckRdsParameterGroupFunctionArn: fn('check-rds-parameter-group'),
  CheckGrantsFunctionArn: fn('check-grants'),
  EstimateSizeFunctionArn: fn('estimate-size'),
  CheckReplicationFunctionArn: fn('check-replication'),
  CheckTargetReachesSourceFunctionArn: fn('check-target-reaches-source'),
  MonitorFunctionArn: fn('monitor-replication'),
  ClusterArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/replicator`,
  TaskDefinitionArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/replicator:1`,
  ContainerName: 'replicator',
  SubnetIds: 'subnet-0123456789abcdef0,subnet-0fedcba9876543210',
  SecurityGroupId: 'sg-0123456789abcdef0',
  ScheduleGroupName: 'database-replicator',
  SchedulerRoleArn: `arn:aws:iam::${ACCOUNT}:role/replicator-scheduler`,
  VerifyStateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:replicator-verify`,
  ScheduleDeadLetterQueueArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:replicator-schedule-dead-letters`,
  AlarmTopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:replicator-alarms`,
};

/** The file with its placeholders filled in; a placeholder without a value is an error, not a silent leftover. */
export function loadDefinition(name: WorkflowName): StateMachineDefinition {
  const text = readFileSync(new URL(`../../statemachines/${name}.asl.json`, import.meta.url), 'utf8');
  const filled = text.replace(/\$\{([A-Za-z][A-Za-z0-9_]*)\}/g, (_, key: string) => {
    const value = SUBSTITUTIONS[key];
    if (value === undefined)
      throw new Error(
        `statemachines/${name}.asl.json uses the placeholder \${${key}}, which the workflow runner has no value for.`,
      );
    return value;
  });
  return JSON.parse(filled) as StateMachineDefinition;
}

type AnyState = {
  Type: string;
  Retry?: unknown[];
  Branches?: StateMachineDefinition[];
  ItemProcessor?: StateMachineDefinition;
};
function stateEntries(machine: StateMachineDefinition): [string, AnyState][] {
  return Object.entries(machine.States as Record<string, AnyState>).flatMap(([n, s]): [string, AnyState][] => [
    [n, s],
    ...(s.Branches ?? []).flatMap(stateEntries),
    ...(s.ItemProcessor ? stateEntries(s.ItemProcessor) : []),
  ]);
}

/** A Step Functions error as the runner passes it on (Error = name, Cause = message). */
const stepError = (name: string, cause: string) => new NamedError(name, cause);

/** A wrapper that makes the bound handler throw `name` on its first call only (a transient service error). */
export function failOnce(name: string, cause: string): (next: TaskHandler) => TaskHandler {
  let failed = false;
  return (next) => async (input) => {
    if (failed) return next(input);
    failed = true;
    throw stepError(name, cause);
  };
}

export interface Execution {
  status: 'SUCCEEDED' | 'FAILED';
  output?: unknown;
  error?: string;
  cause?: string;
  events: EventLog[];
  /** Names of the states entered, nested ones included, in order. */
  entered: string[];
  /** Invocations of each Task state's binding, retries included. */
  calls: Record<string, number>;
}

export interface RunOptions {
  /** Replace or wrap the binding of a Task state. */
  wrap?: Record<string, (next: TaskHandler) => TaskHandler>;
  /** Milliseconds each round of the replication wait loop sleeps (30 s on AWS). */
  catchUpWaitMs?: number;
  /**
   * Bind the Lambda states to the handlers as deployed (middy, the Powertools logger with the Lambda
   * context, module-scope clients, the invoke response envelope) rather than their logic functions;
   * their log lines are kept in `handlerLogs`.
   */
  viaHandlers?: boolean;
}

type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/** What the Lambda runtime passes a handler. */
function lambdaContext(functionArn: string): Context {
  const name = functionArn.split(':').pop()!;
  return {
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: functionArn,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: '2026/01/01/[$LATEST]0',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export interface ScheduleStub {
  Name: string;
  GroupName: string;
  ScheduleExpression: string;
  Target: { Arn: string; RoleArn: string; Input: string; DeadLetterConfig?: { Arn: string } };
}

export class WorkflowHarness {
  readonly store: DynamoDbJobStore;
  readonly sm = mockClient(SecretsManagerClient);
  readonly rdsMock = mockClient(RDSClient);
  /** DescribeExecution answers from `running`, as record-job's handler asks it. */
  readonly sfnMock = mockClient(SFNClient);
  /** The JSON log lines the handlers wrote in runs `viaHandlers`. */
  readonly handlerLogs: Record<string, unknown>[] = [];
  /** Verify schedules created by "Create verify schedule" and not yet deleted, by name. */
  readonly schedules = new Map<string, ScheduleStub>();
  readonly metrics: { name: string; value: number }[] = [];
  /** What "Notify drift" published to the alarm topic (sns:publish), in order. */
  readonly published: { TopicArn: string; Subject: string; Message: string }[] = [];
  /** Execution ARNs of the runs not ended yet (what DescribeExecution would call RUNNING). */
  readonly running = new Set<string>();
  /** Every line the replicator tasks printed (stdout and stderr). */
  readonly taskOutput: string[] = [];
  readonly #table: JobTable;
  readonly #secrets = new SecretsManagerClient({ region: REGION });
  readonly #rds = new RDSClient({ region: REGION });

  private constructor(table: JobTable) {
    this.#table = table;
    this.store = table.store;
    this.sfnMock.on(DescribeExecutionCommand).callsFake((input: { executionArn: string }) => ({
      executionArn: input.executionArn,
      status: this.running.has(input.executionArn) ? 'RUNNING' : 'SUCCEEDED',
    }));
  }

  static readonly TABLE = 'replicator-jobs';

  static async start(): Promise<WorkflowHarness> {
    const table = await startJobTable(WorkflowHarness.TABLE);
    // record-job's handler builds its own client from the environment, as in Lambda.
    Object.assign(process.env, {
      JOB_TABLE: WorkflowHarness.TABLE,
      AWS_ENDPOINT_URL_DYNAMODB: table.endpoint,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'x',
    });
    return new WorkflowHarness(table);
  }

  async close(): Promise<void> {
    this.sm.restore();
    this.rdsMock.restore();
    this.sfnMock.restore();
    await this.#table.close();
  }

  /** A secret holding `{ "url": url }`; returns its ARN. */
  holdSecret(name: string, url: string): string {
    this.sm
      .on(GetSecretValueCommand, { SecretId: secretArn(name) })
      .resolves({ ARN: secretArn(name), Name: name, SecretString: JSON.stringify({ url }) });
    return secretArn(name);
  }

  /** The RDS API knows the instance `identifier`, its parameter group `group` with rds.logical_replication = `value`. */
  rdsInstance(identifier: string, group: string, value: '0' | '1'): void {
    this.rdsMock.reset();
    this.rdsMock.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: identifier }).resolves({
      DBInstances: [
        {
          DBInstanceIdentifier: identifier,
          Engine: 'postgres',
          EngineVersion: '16.4',
          DBInstanceStatus: 'available',
          MultiAZ: false,
          DBParameterGroups: [{ DBParameterGroupName: group, ParameterApplyStatus: 'in-sync' }],
        },
      ],
    });
    this.rdsMock.on(DescribeDBParametersCommand, { DBParameterGroupName: group }).resolves({
      Parameters: [{ ParameterName: 'rds.logical_replication', ParameterValue: value, ApplyType: 'static' }],
    });
  }

  /** A Lambda task: { FunctionName, Payload } in, { Payload } out; a thrown error arrives as Step Functions reports it. */
  #lambda<S extends z.ZodType>(
    functionArn: string,
    schema: S,
    logic: (event: z.output<S>) => Promise<unknown>,
  ): TaskHandler {
    return async (input) => {
      const { FunctionName, Payload } = input as { FunctionName: string; Payload: unknown };
      if (FunctionName !== functionArn)
        throw stepError('WiringError', `invoked ${FunctionName}, expected ${functionArn}`);
      try {
        return { Payload: JSON.parse(JSON.stringify(await logic(parseEvent(schema, Payload)))) as Json };
      } catch (error) {
        const safe = toSafeError(error);
        throw stepError(safe.name, JSON.stringify({ errorType: safe.name, errorMessage: safe.message, trace: [] }));
      }
    };
  }

  /** A Lambda task through the deployed handler: { FunctionName, Payload } in, the invoke response envelope out. */
  #handler(functionArn: string, handler: LambdaHandler): TaskHandler {
    return async (input) => {
      const { FunctionName, Payload } = input as { FunctionName: string; Payload: unknown };
      if (FunctionName !== functionArn)
        throw stepError('WiringError', `invoked ${FunctionName}, expected ${functionArn}`);
      try {
        const result = await handler(Payload, lambdaContext(functionArn));
        return {
          ExecutedVersion: '$LATEST',
          StatusCode: 200,
          Payload: JSON.parse(JSON.stringify(result ?? null)) as Json,
        } as Json;
      } catch (error) {
        // The handler's middleware made it safe and named; the runtime reports it so.
        const e = error as Error;
        throw stepError(e.name, JSON.stringify({ errorType: e.name, errorMessage: e.message, trace: [] }));
      }
    };
  }

  #handlerBindings(): Record<string, TaskHandler> {
    const record = this.#handler(SUBSTITUTIONS.RecordJobFunctionArn!, recordJobHandler);
    return {
      'Record job started': record,
      'Record job succeeded': record,
      'Record job failed': record,
      'Record verify result': record,
      'Record clean-up': record,
      'Record clean-up failed': record,
      'Record drift': record,
      'Check RDS parameter group': this.#handler(SUBSTITUTIONS.CheckRdsParameterGroupFunctionArn!, checkRdsHandler),
      'Check grants': this.#handler(SUBSTITUTIONS.CheckGrantsFunctionArn!, checkGrantsHandler),
      'Estimate size': this.#handler(SUBSTITUTIONS.EstimateSizeFunctionArn!, estimateSizeHandler),
      'Check replication': this.#handler(SUBSTITUTIONS.CheckReplicationFunctionArn!, checkReplicationHandler),
      'Check target reaches source': this.#handler(
        SUBSTITUTIONS.CheckTargetReachesSourceFunctionArn!,
        checkTargetReachesSourceHandler,
      ),
    };
  }

  /** Keeps the handlers' JSON log lines (Powertools writes them to stdout and stderr) while `fn` runs. */
  async #capturingLogs<T>(fn: () => Promise<T>): Promise<T> {
    const streams = [process.stdout, process.stderr];
    const originals = streams.map((stream) => stream.write.bind(stream));
    streams.forEach((stream, i) => {
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
        const lines = text.split('\n').filter((l) => l.trim());
        if (lines.length && lines.every((l) => l.startsWith('{'))) {
          for (const line of lines) this.handlerLogs.push(JSON.parse(line) as Record<string, unknown>);
          return true;
        }
        return (originals[i] as (...args: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof stream.write;
    });
    try {
      return await fn();
    } finally {
      streams.forEach((stream, i) => (stream.write = originals[i] as typeof stream.write));
    }
  }

  /** An ecs:runTask.sync task: the subcommand runs in-process; a non-zero exit fails as States.TaskFailed with the stopped task. */
  #ecsTask(): TaskHandler {
    return async (input) => {
      const p = input as {
        Cluster: string;
        TaskDefinition: string;
        NetworkConfiguration: { AwsvpcConfiguration: { Subnets: string[] } };
        Overrides: {
          ContainerOverrides: { Name: string; Command: string[]; Environment: { Name: string; Value: string }[] }[];
        };
      };
      const override = p.Overrides.ContainerOverrides[0];
      if (
        !override ||
        p.Cluster !== SUBSTITUTIONS.ClusterArn ||
        p.TaskDefinition !== SUBSTITUTIONS.TaskDefinitionArn ||
        override.Name !== SUBSTITUTIONS.ContainerName ||
        p.NetworkConfiguration.AwsvpcConfiguration.Subnets.join(',') !== SUBSTITUTIONS.SubnetIds
      ) {
        throw stepError('WiringError', `runTask with unexpected parameters: ${JSON.stringify(p)}`);
      }
      // The task definition's own environment (infra/lib/replicator-task.ts) under the override's, as ECS merges them.
      const env = {
        JOB_TABLE: WorkflowHarness.TABLE,
        LOG_LEVEL: 'info',
        AWS_REGION: REGION,
        ...Object.fromEntries(override.Environment.map((e) => [e.Name, e.Value])),
      };
      let exitCode: number;
      try {
        const config = parseTaskConfig(override.Command, env);
        exitCode = await runTask(config, {
          secrets: this.#secrets,
          store: this.store,
          stdout: (l) => this.taskOutput.push(l),
          stderr: (l) => this.taskOutput.push(l),
        });
      } catch (error) {
        if (!(error instanceof TaskConfigError)) throw error;
        this.taskOutput.push(`error: ${error.message}`);
        exitCode = 2;
      }
      const task = {
        TaskArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task/replicator/${randomUUID().replace(/-/g, '')}`,
        LastStatus: 'STOPPED',
        StopCode: 'EssentialContainerExited',
        StoppedReason: 'Essential container in task exited',
        Containers: [{ Name: override.Name, ExitCode: exitCode, LastStatus: 'STOPPED' }],
      };
      if (exitCode !== 0) throw stepError('States.TaskFailed', JSON.stringify(task));
      return task;
    };
  }

  #bindings(): Record<string, TaskHandler> {
    const secrets = this.#secrets;
    const record = this.#lambda(SUBSTITUTIONS.RecordJobFunctionArn!, recordJobEvent, (e) =>
      recordJob(e, {
        store: this.store,
        metric: (name, value) => this.metrics.push({ name, value }),
        executionRunning: async (arn) => this.running.has(arn),
      }),
    );
    const ecs = this.#ecsTask();
    const deleteSchedule: TaskHandler = async (input) => {
      const { Name } = input as { Name: string };
      if (!this.schedules.delete(Name))
        throw stepError('Scheduler.ResourceNotFoundException', `Schedule ${Name} does not exist.`);
      return {};
    };
    return {
      'Record job started': record,
      'Record job succeeded': record,
      'Record job failed': record,
      'Record verify result': record,
      'Record clean-up': record,
      'Record clean-up failed': record,
      'Record drift': record,
      'Check RDS parameter group': this.#lambda(
        SUBSTITUTIONS.CheckRdsParameterGroupFunctionArn!,
        checkRdsParameterGroupEvent,
        (e) => checkRdsSource(e, { rds: this.#rds }),
      ),
      'Check grants': this.#lambda(SUBSTITUTIONS.CheckGrantsFunctionArn!, checkGrantsEvent, (e) =>
        checkGrants(e, { secrets }),
      ),
      'Estimate size': this.#lambda(SUBSTITUTIONS.EstimateSizeFunctionArn!, estimateSizeEvent, (e) =>
        estimateSize(e, { secrets }),
      ),
      'Check replication': this.#lambda(SUBSTITUTIONS.CheckReplicationFunctionArn!, checkReplicationEvent, (e) =>
        checkReplication(e, { secrets }),
      ),
      'Check target reaches source': this.#lambda(
        SUBSTITUTIONS.CheckTargetReachesSourceFunctionArn!,
        checkTargetReachesSourceEvent,
        (e) => checkTargetReachesSource(e, { secrets }),
      ),
      'Copy snapshot': ecs,
      'Create subscription': ecs,
      'Run verify': ecs,
      'Run cleanup': ecs,
      'Run cutover': ecs,
      'Create verify schedule': async (input) => {
        const s = input as unknown as ScheduleStub;
        if (this.schedules.has(s.Name))
          throw stepError('Scheduler.ConflictException', `Schedule ${s.Name} already exists.`);
        this.schedules.set(s.Name, s);
        return { ScheduleArn: `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${s.GroupName}/${s.Name}` };
      },
      'Notify drift': async (input) => {
        const message = input as unknown as { TopicArn: string; Subject: string; Message: string };
        if (message.TopicArn !== SUBSTITUTIONS.AlarmTopicArn)
          throw stepError('WiringError', `published to ${message.TopicArn}, expected the alarm topic`);
        this.published.push(message);
        return { MessageId: randomUUID() };
      },
      'Delete verify schedule': deleteSchedule,
      'Create monitor schedule': async (input) => {
        const s = input as unknown as ScheduleStub;
        if (this.schedules.has(s.Name))
          throw stepError('Scheduler.ConflictException', `Schedule ${s.Name} already exists.`);
        this.schedules.set(s.Name, s);
        return { ScheduleArn: `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${s.GroupName}/${s.Name}` };
      },
      'Update monitor schedule': async (input) => {
        const s = input as unknown as ScheduleStub;
        if (!this.schedules.has(s.Name))
          throw stepError('Scheduler.ResourceNotFoundException', `Schedule ${s.Name} does not exist.`);
        this.schedules.set(s.Name, s);
        return { ScheduleArn: `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${s.GroupName}/${s.Name}` };
      },
      'Delete monitor schedule': deleteSchedule,
    };
  }

  /** Fires a monitor schedule as EventBridge Scheduler would: its input, as the event of the function it targets. */
  async fireMonitor(
    name: string,
    metrics = new RecordedMetrics(),
  ): Promise<{ result: MonitorReplicationResult; metrics: RecordedMetrics }> {
    const schedule = this.schedules.get(name);
    if (!schedule) throw new Error(`No schedule ${name} was created.`);
    if (schedule.Target.Arn !== SUBSTITUTIONS.MonitorFunctionArn)
      throw new Error(`Schedule ${name} targets ${schedule.Target.Arn}, not the monitor function.`);
    const result = await monitorReplication(parseEvent(monitorReplicationEvent, JSON.parse(schedule.Target.Input)), {
      secrets: this.#secrets,
      metrics,
      store: this.store,
    });
    return { result, metrics };
  }

  /** Runs one execution to its end; never throws for a failed execution (see `status`). */
  async run(name: WorkflowName, executionInput: object, options: RunOptions = {}): Promise<Execution> {
    const input = executionInput as Json;
    const definition = loadDefinition(name);
    const states = stateEntries(definition);
    const calls: Record<string, number> = {};
    const bound = { ...this.#bindings(), ...(options.viaHandlers ? this.#handlerBindings() : {}) };
    const handlers: Record<string, TaskHandler> = {};
    for (const [state] of states.filter(([, s]) => s.Type === 'Task')) {
      const binding = bound[state];
      if (!binding)
        throw new Error(`The workflow runner has no binding for the Task state "${state}" of ${name}.asl.json.`);
      const wrapped = options.wrap?.[state]?.(binding) ?? binding;
      handlers[state] = (i) => {
        calls[state] = (calls[state] ?? 0) + 1;
        return wrapped(i);
      };
    }
    for (const state of Object.keys(options.wrap ?? {}))
      if (!handlers[state]) throw new Error(`${name}.asl.json has no Task state "${state}" to wrap.`);
    const executionName = randomUUID();
    const executionArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:replicator-${name}:${executionName}`;
    this.running.add(executionArn);
    const execution = new StateMachine(definition).run(input, {
      overrides: {
        taskResourceLocalHandlers: handlers,
        waitTimeOverrides: name === 'replicate' ? { 'Wait for catch-up': options.catchUpWaitMs ?? 1000 } : {},
        // Retries happen as the definition says, without the seconds of backoff between them.
        retryIntervalOverrides: Object.fromEntries(states.filter(([, s]) => s.Retry).map(([state]) => [state, 0])),
      },
      context: {
        Execution: { Id: executionArn, Name: executionName, Input: input, StartTime: new Date().toISOString() },
      },
    });
    const events: EventLog[] = [];
    const logged = (async () => {
      for await (const event of execution.eventLogs) events.push(event as EventLog);
    })();
    let output: unknown;
    let thrown: unknown;
    try {
      output = await (options.viaHandlers ? this.#capturingLogs(() => execution.result) : execution.result);
    } catch (error) {
      thrown = error;
    }
    await logged;
    this.running.delete(executionArn);
    const failed = events.find((e) => e.type === 'ExecutionFailed');
    // Aborted or timed out: not an outcome of the workflow.
    if (thrown !== undefined && !failed) throw thrown;
    const entered = events.filter((e) => e.type === 'StateEntered').map((e) => e.state!.name);
    if (!failed) return { status: 'SUCCEEDED', output, events, entered, calls };
    return { status: 'FAILED', error: failed.Error, cause: String(failed.Cause), events, entered, calls };
  }
}
