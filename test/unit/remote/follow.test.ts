// Starting and following executions of the replicate workflow: Step Functions mocked at the SDK
// client, the job table on dynalite, the workflow's writes to it played by the test between polls.
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { stripVTControlCharacters } from 'node:util';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  cli,
  CLEANUP_ARN,
  deploymentEnv,
  executionArn,
  REPLICATE_ARN,
  SOURCE_SECRET,
  TARGET_SECRET,
  testIo,
  VERIFY_ARN,
  useJobTable,
  runningJob,
} from '../../support/remote.ts';

const sfn = mockClient(SFNClient);
const table = useJobTable();
let env: Record<string, string>;
let jobCount = 0;
let jobId: string;
let arn: string;

beforeEach(() => {
  sfn.reset();
  env = deploymentEnv(table.tableName);
  jobId = `shop${++jobCount}`;
  arn = executionArn('Replicate', `${jobId}-init-x`);
  sfn.on(StartExecutionCommand).resolves({ executionArn: arn, startDate: new Date() });
  sfn.on(ListExecutionsCommand).resolves({ executions: [] });
});

const t = new Date('2026-03-01T10:00:00Z');
const entered = (id: number, type: string, name: string, previousEventId?: number): HistoryEvent => ({
  id,
  previousEventId,
  type: type as HistoryEvent['type'],
  timestamp: t,
  stateEnteredEventDetails: { name },
});
const event = (id: number, type: string, previousEventId: number, extra: Partial<HistoryEvent> = {}): HistoryEvent => ({
  id,
  previousEventId,
  type: type as HistoryEvent['type'],
  timestamp: t,
  ...extra,
});
const described = (status: string, extra: object = {}) => ({
  executionArn: arn,
  stateMachineArn: REPLICATE_ARN,
  name: `${jobId}-init-x`,
  status: status as 'RUNNING',
  startDate: t,
  ...extra,
});
const initArgs = () => [
  'init',
  '--remote',
  '--yes',
  '--source-secret',
  SOURCE_SECRET,
  '--target-secret',
  TARGET_SECRET,
  '--include-databases',
  'shop',
  '--job-id',
  jobId,
];
const progress = (tablesDone: number, phase = 'Copy data') => ({
  state: 'RUNNING' as const,
  phase,
  tablesDone,
  tablesTotal: 5,
  rowsCopied: tablesDone * 1000,
  bytesCopied: tablesDone * 8192,
});

/** Plays the workflow: before each poll after the first, the next step runs. */
function steps(...run: (() => Promise<unknown>)[]) {
  let n = 0;
  return { sleep: async () => void (await run[n++]?.()) };
}

describe('init in remote mode', () => {
  it('starts the replicate workflow named after the job and follows it to success, with state and per-database progress', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce(described('RUNNING'))
      .resolvesOnce(described('RUNNING'))
      .resolves(described('SUCCEEDED', { stopDate: new Date(t.getTime() + 65_000) }));
    sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: [entered(3, 'ParallelStateEntered', 'Run checks')] })
      .resolves({
        events: [
          entered(9, 'TaskStateEntered', 'Copy snapshot'),
          entered(8, 'MapStateEntered', 'Replicate each database'),
        ],
      });
    const io = testIo(env, {
      table,
      runtime: steps(
        async () => {
          await table.store.createJob({
            jobId,
            state: 'RUNNING',
            phase: 'Copy snapshot',
            source: { description: 'secret rds!db-1234', secretArn: SOURCE_SECRET },
            target: { description: 'secret t', secretArn: TARGET_SECRET },
            executionArn: arn,
          });
          await table.store.updateDatabaseProgress(jobId, 'shop', progress(2));
        },
        () => table.store.transition(jobId, 'SUCCEEDED', { phase: 'Replicating: every database is in sync' }),
      ),
    });
    expect(await cli(initArgs(), io)).toBe(0);

    const start = sfn.commandCalls(StartExecutionCommand);
    expect(start).toHaveLength(1);
    const { name, stateMachineArn, input } = start[0]!.args[0].input;
    expect(stateMachineArn).toBe(REPLICATE_ARN);
    expect(name).toMatch(new RegExp(`^${jobId}-init-\\d{8}T\\d{6}Z-[0-9a-f]{4}$`));
    expect(JSON.parse(input!)).toEqual({
      jobId,
      sourceSecretArn: SOURCE_SECRET,
      targetSecretArn: TARGET_SECRET,
      databases: ['shop'],
      plan: { filters: { includeDatabases: ['shop'] }, copyRoles: true },
    });

    const out = io.out.join('');
    expect(out).toContain(`Started ${name} (replicate workflow, job ${jobId}).`);
    expect(out).toContain(
      `console: https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${arn}`,
    );
    expect(out).toMatch(/RUNNING: Run checks\n/);
    expect(out).toMatch(
      /RUNNING: Copy snapshot \(job: Copy snapshot\)\n {4}shop: RUNNING - Copy data; 2\/5 tables, 2000 rows, 16(\.0)? kB/,
    );
    expect(out).toMatch(/succeeded after 1 min 5 s\. Every database is in sync and streaming/);
    // History read newest first, as the brief's "last state entered" needs.
    expect(sfn.commandCalls(GetExecutionHistoryCommand)[0]!.args[0].input).toMatchObject({
      executionArn: arn,
      reverseOrder: true,
    });
  });

  it('prints the failing state and the cause from the history, and exits 1', async () => {
    const cause =
      'Database shop: The replicator task 0af3 stopped: Essential container in task exited; container replicator exited with code 1. Its log stream in CloudWatch Logs says why.';
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce(described('RUNNING'))
      .resolves(described('FAILED', { stopDate: t, error: 'States.TaskFailed', cause }));
    const history: HistoryEvent[] = [
      entered(3, 'TaskStateEntered', 'Check grants', 2),
      event(4, 'TaskScheduled', 3),
      event(5, 'TaskFailed', 4, {
        taskFailedEventDetails: {
          resourceType: 'lambda',
          resource: 'invoke',
          error: 'ConnectionFailed',
          cause: 'timeout',
        },
      }),
      event(6, 'TaskScheduled', 5),
      event(7, 'TaskSucceeded', 6),
      entered(10, 'TaskStateEntered', 'Copy snapshot', 9),
      event(11, 'TaskScheduled', 10),
      event(12, 'TaskStarted', 11),
      event(13, 'TaskFailed', 12, {
        taskFailedEventDetails: {
          resourceType: 'lambda',
          resource: 'invoke',
          error: 'States.TaskFailed',
          cause: '{"StoppedReason":"Essential container in task exited"}',
        },
      }),
      entered(14, 'PassStateEntered', 'Describe database failure', 13),
      entered(16, 'FailStateEntered', 'Database failed', 15),
      entered(20, 'TaskStateEntered', 'Record job failed', 19),
      entered(25, 'FailStateEntered', 'Job failed', 24),
      event(26, 'ExecutionFailed', 25, { executionFailedEventDetails: { error: 'States.TaskFailed', cause } }),
    ];
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [...history].reverse() });
    const io = testIo(env, { table });
    expect(await cli(initArgs(), io)).toBe(1);
    expect(io.out.join('')).toContain(`${jobId}-init-x FAILED in state "Copy snapshot": States.TaskFailed: ${cause}`);

    const json = testIo(env, { table });
    expect(await cli([...initArgs(), '--json'], json)).toBe(1);
    expect(JSON.parse(json.out.join(''))).toMatchObject({
      command: 'init',
      mode: 'remote',
      ok: false,
      status: 'FAILED',
      failure: { state: 'Copy snapshot', error: 'States.TaskFailed', cause },
    });
    // Progress goes to stderr, so stdout holds the JSON document alone.
    expect(json.err.join('')).toContain('Started ');
  });

  it('Ctrl-C stops following, not the execution, and says how to follow it again', async () => {
    sfn.on(DescribeExecutionCommand).resolves(described('RUNNING'));
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [entered(9, 'TaskStateEntered', 'Copy snapshot')] });
    const interrupt = new AbortController();
    const io = testIo(env, { table, runtime: { interrupt: interrupt.signal, sleep: async () => interrupt.abort() } });
    expect(await cli(initArgs(), io)).toBe(130);
    const out = io.out.join('');
    expect(out).toContain(`Stopped following; ${jobId}-init-x keeps running in AWS.`);
    expect(out).toContain(`follow it again: database-replicator status --remote --job-id ${jobId} --watch`);
    expect(sfn.commandCalls(StopExecutionCommand)).toHaveLength(0);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(1);
  });

  it("--max-retained-wal-gb reaches the replicate input (the monitor's hard limit); it is checked, and remote only", async () => {
    sfn.on(DescribeExecutionCommand).resolves(described('SUCCEEDED', { stopDate: t }));
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    expect(await cli([...initArgs(), '--max-retained-wal-gb', '50'], testIo(env, { table }))).toBe(0);
    expect(JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!)).toMatchObject({
      jobId,
      maxRetainedWalGb: 50,
    });
    const bad = testIo(env, { table });
    expect(await cli([...initArgs(), '--max-retained-wal-gb', '0'], bad)).toBe(2);
    expect(bad.err.join('')).toContain('--max-retained-wal-gb takes a number above 0 and at most 1000000, not "0".');
    const local = testIo({}, { table });
    expect(await cli(['init', '--local', '--yes', '--max-retained-wal-gb', '5'], local)).toBe(2);
    expect(local.err.join('')).toContain('--max-retained-wal-gb needs remote mode');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it("follows the job's running execution instead of starting a second one", async () => {
    await table.store.createJob(runningJob(jobId, { phase: 'Copy snapshot', executionArn: arn }));
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce(described('RUNNING'))
      .resolvesOnce(described('RUNNING'))
      .resolves(described('SUCCEEDED', { stopDate: t }));
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    const io = testIo(env, { table });
    expect(await cli(initArgs(), io)).toBe(0);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(io.out.join('')).toContain(
      `An execution of the replicate workflow for job ${jobId} is already running; following ${jobId}-init-x.`,
    );
  });

  it('starts nothing for a job that replicates already (SUCCEEDED), nor for one cleaned up (CANCELLED)', async () => {
    await table.store.createJob(runningJob(jobId));
    await table.store.transition(jobId, 'SUCCEEDED', { phase: 'Replicating: every database is in sync' });
    for (const command of [initArgs(), ['sync', '--remote', '--job-id', jobId]]) {
      const done = testIo(env, { table });
      expect(await cli(command, done)).toBe(0);
      expect(done.out.join('')).toContain(
        `Job ${jobId} is already replicating (Replicating: every database is in sync); nothing to start.`,
      );
    }
    const cancelled = `${jobId}c`;
    await table.store.createJob(runningJob(cancelled));
    await table.store.transition(cancelled, 'CANCELLED', { phase: 'Cleaned up before cut-over' });
    const io = testIo(env, { table });
    expect(await cli([...initArgs().slice(0, -1), cancelled], io)).toBe(1);
    expect(io.err.join('')).toContain(
      `Job ${cancelled} has ended as CANCELLED (Cleaned up before cut-over); the workflow does not run it again: start a new job with another --job-id.`,
    );
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('init on a FAILED job starts a new execution, which resumes it, and follows it to success', async () => {
    const failedArn = executionArn('Replicate', `${jobId}-init-old`);
    await table.store.createJob({
      jobId,
      state: 'RUNNING',
      source: { description: 's', secretArn: SOURCE_SECRET },
      target: { description: 't', secretArn: TARGET_SECRET },
      executionArn: failedArn,
    });
    await table.store.updateDatabaseProgress(jobId, 'shop', progress(3, 'Copy snapshot'));
    await table.store.transition(jobId, 'FAILED', { phase: 'Failed', error: 'Database shop: the task was stopped' });
    sfn
      .on(DescribeExecutionCommand, { executionArn: failedArn })
      .resolves({ ...described('FAILED', { stopDate: t }), executionArn: failedArn });
    sfn
      .on(DescribeExecutionCommand, { executionArn: arn })
      .resolvesOnce(described('RUNNING'))
      .resolvesOnce(described('RUNNING'))
      .resolves(described('SUCCEEDED', { stopDate: t }));
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [entered(9, 'TaskStateEntered', 'Copy snapshot')] });
    // What record-job "started" does for the new execution: the FAILED job reopens, its progress kept.
    const io = testIo(env, {
      table,
      runtime: steps(
        () => table.store.reopen(jobId, arn, 'Checks'),
        () => table.store.transition(jobId, 'SUCCEEDED', { phase: 'Replicating: every database is in sync' }),
      ),
    });
    expect(await cli(initArgs(), io)).toBe(0);
    const start = sfn.commandCalls(StartExecutionCommand);
    expect(start).toHaveLength(1);
    expect(start[0]!.args[0].input).toMatchObject({
      stateMachineArn: REPLICATE_ARN,
      name: expect.stringMatching(new RegExp(`^${jobId}-init-`)),
    });
    expect(JSON.parse(start[0]!.args[0].input.input!)).toMatchObject({
      jobId,
      sourceSecretArn: SOURCE_SECRET,
      targetSecretArn: TARGET_SECRET,
      databases: ['shop'],
    });
    expect(io.err.join('')).toContain(
      `Job ${jobId} failed (Database shop: the task was stopped); a new execution resumes it`,
    );
    expect(io.out.join('')).toMatch(/succeeded after 0 s\. Every database is in sync/);
    expect(await table.store.getJob(jobId)).toMatchObject({
      state: 'SUCCEEDED',
      executionArn: arn,
      databases: { shop: { tablesDone: 3 } },
    });
  });
});

describe('sync and status in remote mode', () => {
  it.each(['RUNNING', 'FAILED'] as const)(
    "sync restarts the replicate workflow with the job's previous input (a %s job)",
    async (state) => {
      const previous = {
        jobId,
        sourceSecretArn: SOURCE_SECRET,
        targetSecretArn: TARGET_SECRET,
        databases: ['shop', 'crm'],
        plan: { jobs: 4 },
      };
      await table.store.createJob({
        jobId,
        state: 'RUNNING',
        source: { description: 's', secretArn: SOURCE_SECRET },
        target: { description: 't', secretArn: TARGET_SECRET },
        executionArn: arn,
      });
      if (state === 'FAILED')
        await table.store.transition(jobId, 'FAILED', { phase: 'Failed', error: 'Database crm: CatchUpTimedOut' });
      sfn
        .on(DescribeExecutionCommand, { executionArn: arn })
        .resolves(
          described(state === 'FAILED' ? 'FAILED' : 'ABORTED', { input: JSON.stringify(previous), stopDate: t }),
        );
      const next = executionArn('Replicate', `${jobId}-sync-y`);
      sfn.on(StartExecutionCommand).resolves({ executionArn: next, startDate: t });
      sfn
        .on(DescribeExecutionCommand, { executionArn: next })
        .resolves({ ...described('SUCCEEDED', { stopDate: t }), executionArn: next });
      sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
      const io = testIo(env, { table });
      expect(await cli(['sync', '--remote', '--job-id', jobId], io)).toBe(0);
      const call = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
      expect(call.name).toMatch(new RegExp(`^${jobId}-sync-`));
      expect(JSON.parse(call.input!)).toEqual(previous);
    },
  );

  it("status --job-id --watch finds the job's running execution by its name and follows it to the end", async () => {
    await table.store.createJob(runningJob(jobId, { phase: 'Verify' }));
    const verifyArn = executionArn('Verify', `${jobId}-verify-20260301T100000Z-abcd`);
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    sfn.on(ListExecutionsCommand, { stateMachineArn: VERIFY_ARN }).resolves({
      executions: [
        {
          executionArn: executionArn('Verify', 'scheduled-run'),
          stateMachineArn: VERIFY_ARN,
          name: 'scheduled-run',
          status: 'SUCCEEDED',
          startDate: new Date(t.getTime() + 1000),
        },
        {
          executionArn: verifyArn,
          stateMachineArn: VERIFY_ARN,
          name: `${jobId}-verify-20260301T100000Z-abcd`,
          status: 'RUNNING',
          startDate: t,
        },
        {
          executionArn: executionArn('Verify', `${jobId}x-verify-20260301T100000Z-abcd`),
          stateMachineArn: VERIFY_ARN,
          name: `${jobId}x-verify-20260301T100000Z-abcd`,
          status: 'RUNNING',
          startDate: new Date(t.getTime() + 5000),
        },
      ],
    });
    const verifying = {
      executionArn: verifyArn,
      stateMachineArn: VERIFY_ARN,
      name: `${jobId}-verify-20260301T100000Z-abcd`,
      startDate: t,
    };
    sfn
      .on(DescribeExecutionCommand, { executionArn: verifyArn })
      .resolvesOnce({ ...verifying, status: 'RUNNING' })
      .resolvesOnce({ ...verifying, status: 'RUNNING' })
      .resolves({ ...verifying, status: 'SUCCEEDED', stopDate: t });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [entered(4, 'TaskStateEntered', 'Run verify')] });
    const io = testIo(env, { table });
    expect(await cli(['status', '--remote', '--job-id', jobId, '--watch'], io)).toBe(0);
    const out = io.out.join('');
    expect(out).toContain(`Job ${jobId}: RUNNING - Verify`);
    expect(out).toContain('RUNNING: Run verify');
    expect(out).toContain(`${jobId}-verify-20260301T100000Z-abcd succeeded after 0 s. Verify passed.`);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(
      sfn
        .commandCalls(ListExecutionsCommand)
        .map((c) => c.args[0].input.stateMachineArn)
        .sort(),
    ).toEqual([CLEANUP_ARN, REPLICATE_ARN, VERIFY_ARN].sort());
  });

  it('status --watch on a terminal draws the live view from the job record: a bar per table the task copies, redrawn in place', async () => {
    await table.store.createJob(runningJob(jobId, { phase: 'Copy snapshot', executionArn: arn }));
    const startedAt = new Date(Date.now() - 10_000).toISOString();
    const copying = (rows: number, bytes: number) => [
      { table: 'public.orders', rows, bytesDone: bytes, bytesExpected: 100 * 1024 * 1024, startedAt },
      { table: 'public.items', rows: 10, bytesDone: 1024, bytesExpected: 4 * 1024 * 1024, startedAt },
      { table: 'public.users', rows: 500, bytesDone: 64 * 1024, bytesExpected: 64 * 1024, startedAt, seconds: 0.5 },
    ];
    await table.store.updateDatabaseProgress(jobId, 'shop', {
      ...progress(1),
      copying: copying(1000, 10 * 1024 * 1024),
    });
    sfn.on(ListExecutionsCommand, { stateMachineArn: REPLICATE_ARN }).resolves({
      executions: [
        {
          executionArn: arn,
          stateMachineArn: REPLICATE_ARN,
          name: `${jobId}-init-x`,
          status: 'RUNNING',
          startDate: t,
        },
      ],
    });
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce(described('RUNNING'))
      .resolvesOnce(described('RUNNING'))
      .resolvesOnce(described('RUNNING'))
      .resolves(described('SUCCEEDED', { stopDate: t }));
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [entered(9, 'TaskStateEntered', 'Copy snapshot')] });
    const base = testIo(env, {
      table,
      runtime: steps(() =>
        table.store.updateDatabaseProgress(jobId, 'shop', { ...progress(1), copying: copying(5000, 50 * 1024 * 1024) }),
      ),
    });
    const io = { ...base, isTty: true, columns: 160 };
    expect(await cli(['status', '--remote', '--job-id', jobId, '--watch'], io)).toBe(0);
    const out = io.out.join('');
    const frames = out.split('\u001b[H').slice(1);
    expect(out.startsWith('\u001b[2J\u001b[H')).toBe(true);
    expect(frames.length).toBeGreaterThanOrEqual(3);
    const text = frames.map((f) => stripVTControlCharacters(f));
    expect(text[0]).toContain(`database-replicator status --remote: job ${jobId}`);
    expect(text[0]).toContain(`Execution ${jobId}-init-x: RUNNING in state Copy snapshot`);
    expect(text[0]).toContain('shop: RUNNING - Copy data  |  lag -  |  WAL retained -  |  tables 1/5 ready');
    expect(text[0]).toMatch(
      / {4}public\.orders \[#{2}\.{22}\] 10% {2}1,000 rows, 10\.0 MB of ~100\.0 MB, [\d.]+ [kM]?B\/s, ETA \d+ (s|min)/,
    );
    expect(text[0]).toMatch(/ {4}public\.items {2}\[\.{24}\] {2}0% {2}10 rows, 1\.0 kB of ~4\.0 MB/);
    expect(text[0]).toContain('    public.users  [########################] done  500 rows, 64.0 kB in 0.5 s');
    expect(text.at(-1)).toMatch(/public\.orders \[#{12}\.{12}\] 50% {2}5,000 rows, 50\.0 MB of ~100\.0 MB/);
    expect(out).toContain(`${jobId}-init-x succeeded after 0 s.`);
  });
});
