// verify and cleanup in remote mode: the verify workflow, the job's EventBridge Scheduler schedule
// (create, update on conflict, delete), and the clean-up workflow that follows the schedule's removal.
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  cli,
  CLEANUP_ARN,
  deploymentEnv,
  executionArn,
  ROLE_ARN,
  SOURCE_SECRET,
  TARGET_SECRET,
  testIo,
  VERIFY_ARN,
  useJobTable,
} from '../../support/remote.ts';

const scheduler = mockClient(SchedulerClient);
const sfn = mockClient(SFNClient);
const table = useJobTable();
let env: Record<string, string>;
let n = 0;
let jobId: string;

beforeEach(async () => {
  scheduler.reset();
  sfn.reset();
  env = deploymentEnv(table.tableName);
  jobId = `sched${++n}`;
  // As the replicate workflow leaves it: secret ARNs, the endpoint it was given, one entry per database.
  await table.store.createJob({
    jobId,
    state: 'RUNNING',
    source: { description: 'shop-db.abc.eu-west-1.rds.amazonaws.com:5432', secretArn: SOURCE_SECRET },
    target: { description: 'secret t', secretArn: TARGET_SECRET },
  });
  for (const db of ['shop', 'crm'])
    await table.store.updateDatabaseProgress(jobId, db, {
      state: 'RUNNING',
      phase: 'Replicating',
      tablesDone: 3,
      tablesTotal: 3,
      rowsCopied: 10,
      bytesCopied: 100,
    });
  await table.store.transition(jobId, 'SUCCEEDED', { phase: 'Replicating: every database is in sync' });
  scheduler.on(CreateScheduleCommand).resolves({
    ScheduleArn: `arn:aws:scheduler:eu-west-1:123456789012:schedule/replicator-schedules/verify-${jobId}`,
  });
  scheduler.on(UpdateScheduleCommand).resolves({
    ScheduleArn: `arn:aws:scheduler:eu-west-1:123456789012:schedule/replicator-schedules/verify-${jobId}`,
  });
  scheduler.on(DeleteScheduleCommand).resolves({});
});

const expectedInput = () => ({
  jobId,
  databases: ['shop', 'crm'],
  sourceSecretArn: SOURCE_SECRET,
  targetSecretArn: TARGET_SECRET,
  sourceEndpoint: 'shop-db.abc.eu-west-1.rds.amazonaws.com:5432',
  plan: {},
});

describe('verify --schedule and --unschedule', () => {
  it("creates the job's schedule on the verify workflow with identifiers and secret ARNs only, two retries, no flexible window", async () => {
    const io = testIo(env, { table });
    expect(await cli(['verify', '--remote', '--job-id', jobId, '--schedule', 'rate(6 hours)'], io)).toBe(0);
    const calls = scheduler.commandCalls(CreateScheduleCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input).toMatchObject({
      Name: `verify-${jobId}`,
      GroupName: 'replicator-schedules',
      ScheduleExpression: 'rate(6 hours)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: {
        Arn: VERIFY_ARN,
        RoleArn: ROLE_ARN,
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
      },
    });
    expect(JSON.parse(input.Target!.Input!)).toEqual(expectedInput());
    expect(io.out.join('')).toContain(
      `Verify schedule verify-${jobId} created in group replicator-schedules: rate(6 hours) (UTC)`,
    );
    expect(sfn.calls()).toHaveLength(0);
  });

  it("sends a fire that cannot start verify to the stack's dead-letter queue when the deployment names it", async () => {
    const dlq = 'arn:aws:sqs:eu-west-1:123456789012:replicator-dead-letters';
    const io = testIo({ ...env, DATABASE_REPLICATOR_SCHEDULE_DEAD_LETTER_QUEUE_ARN: dlq }, { table });
    expect(await cli(['verify', '--remote', '--job-id', jobId, '--schedule', 'rate(6 hours)'], io)).toBe(0);
    expect(scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input.Target).toMatchObject({
      DeadLetterConfig: { Arn: dlq },
    });
  });

  it('updates the schedule when it exists (ConflictException), with the new expression', async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejects(new ConflictException({ message: 'exists', Message: 'exists', $metadata: {} }));
    const io = testIo(env, { table });
    expect(
      await cli(
        ['verify', '--remote', '--json', '--job-id', jobId, '--schedule', 'cron(0 3 * * ? *)', '--max-diffs', '50'],
        io,
      ),
    ).toBe(0);
    const update = scheduler.commandCalls(UpdateScheduleCommand)[0]!.args[0].input;
    expect(update).toMatchObject({
      Name: `verify-${jobId}`,
      ScheduleExpression: 'cron(0 3 * * ? *)',
      FlexibleTimeWindow: { Mode: 'OFF' },
    });
    expect(JSON.parse(update.Target!.Input!).plan).toEqual({ verify: { maxDiffs: 50 } });
    expect(JSON.parse(io.out.join(''))).toMatchObject({
      command: 'verify',
      mode: 'remote',
      ok: true,
      schedule: { action: 'updated', expression: 'cron(0 3 * * ? *)' },
    });
  });

  it('deletes the schedule with --unschedule, and one that does not exist is fine', async () => {
    const io = testIo(env, { table });
    expect(await cli(['verify', '--remote', '--job-id', jobId, '--unschedule'], io)).toBe(0);
    expect(scheduler.commandCalls(DeleteScheduleCommand)[0]!.args[0].input).toEqual({
      Name: `verify-${jobId}`,
      GroupName: 'replicator-schedules',
    });
    expect(io.out.join('')).toContain(`Verify schedule verify-${jobId} deleted`);
    scheduler
      .on(DeleteScheduleCommand)
      .rejects(new ResourceNotFoundException({ message: 'missing', Message: 'missing', $metadata: {} }));
    const again = testIo(env, { table });
    expect(await cli(['verify', '--remote', '--job-id', jobId, '--unschedule'], again)).toBe(0);
    expect(again.out.join('')).toContain(`Job ${jobId} has no verify schedule`);
  });

  it('refuses a bad expression, both flags at once, and a deployment without a scheduler role', async () => {
    const cases: [Record<string, string>, string[], RegExp][] = [
      [env, ['--schedule', 'every 6 hours'], /--schedule "every 6 hours" is not an EventBridge Scheduler expression/],
      [env, ['--schedule', 'rate(1 hour)', '--unschedule'], /--schedule and --unschedule exclude each other/],
      [
        { ...env, DATABASE_REPLICATOR_SCHEDULER_ROLE_ARN: '' },
        ['--schedule', 'rate(1 hour)'],
        /names no scheduler role; set DATABASE_REPLICATOR_SCHEDULER_ROLE_ARN/,
      ],
    ];
    for (const [e, args, message] of cases) {
      const io = testIo(e, { table });
      expect(await cli(['verify', '--remote', '--job-id', jobId, ...args], io)).toBe(2);
      expect(io.err.join('')).toMatch(message);
    }
    expect(scheduler.calls()).toHaveLength(0);
  });
});

describe('verify and cleanup workflows', () => {
  const succeed = (machine: string, name: string) => {
    const arn = executionArn(machine, name);
    sfn.on(StartExecutionCommand).resolves({ executionArn: arn, startDate: new Date() });
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: arn,
      stateMachineArn: machine,
      name,
      status: 'SUCCEEDED',
      startDate: new Date(),
      stopDate: new Date(),
    });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
  };

  it("verify starts the verify workflow with the job's recorded secrets, databases and endpoint", async () => {
    succeed(VERIFY_ARN, `${jobId}-verify-x`);
    const io = testIo(env, { table });
    expect(await cli(['verify', '--remote', '--job-id', jobId], io)).toBe(0);
    const start = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(start.stateMachineArn).toBe(VERIFY_ARN);
    expect(start.name).toMatch(new RegExp(`^${jobId}-verify-`));
    expect(JSON.parse(start.input!)).toEqual(expectedInput());
    expect(io.out.join('')).toContain('succeeded after 0 s. Verify passed.');
  });

  it('cleanup deletes the verify schedule first, then runs the clean-up workflow; a missing schedule is fine', async () => {
    succeed(CLEANUP_ARN, `${jobId}-cleanup-x`);
    scheduler
      .on(DeleteScheduleCommand)
      .rejects(new ResourceNotFoundException({ message: 'missing', Message: 'missing', $metadata: {} }));
    const io = testIo(env, { table });
    expect(await cli(['cleanup', '--remote', '--yes', '--job-id', jobId], io)).toBe(0);
    expect(scheduler.commandCalls(DeleteScheduleCommand)[0]!.args[0].input).toEqual({
      Name: `verify-${jobId}`,
      GroupName: 'replicator-schedules',
    });
    const start = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(start.stateMachineArn).toBe(CLEANUP_ARN);
    expect(JSON.parse(start.input!)).toEqual(expectedInput());
    expect(io.out.join('')).toContain('Subscriptions, publications, slots and the verify schedule of the job are gone');
  });

  it('cleanup asks first: without --yes and without a terminal it refuses, and nothing is deleted', async () => {
    const io = testIo(env, { table });
    expect(await cli(['cleanup', '--remote', '--job-id', jobId], io)).toBe(2);
    expect(io.err.join('')).toContain('cleanup asks for confirmation but there is no terminal to ask on; pass --yes');
    expect(scheduler.calls()).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });
});
