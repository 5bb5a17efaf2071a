import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler, recordJob, recordJobEvent, type RecordJobEvent } from '../../../lambdas/record-job.ts';
import { describeFailure } from '../../../lambdas/shared/failures.ts';
import { assertNoSecrets } from '../../support/no-secrets.ts';
import { LocalFileJobStore, type VerifyRunRecord } from '../../../src/jobs/index.ts';
import { lambdaContext, SOURCE_ARN, TARGET_ARN, withLogs } from '../../support/lambda.ts';
import { startJobTable, type JobTable } from '../../support/job-table.ts';

const folders: string[] = [];
afterAll(() => folders.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const NOW = new Date('2026-02-01T12:00:00.000Z');
function deps() {
  const dir = mkdtempSync(join(tmpdir(), 'record-job-'));
  folders.push(dir);
  const metrics: [string, number][] = [];
  return {
    store: new LocalFileJobStore(dir, { now: () => NOW }),
    now: () => NOW,
    metric: (name: string, value: number) => void metrics.push([name, value]),
    metrics,
  };
}

const input = {
  jobId: 'shop_2026',
  sourceSecretArn: SOURCE_ARN,
  targetSecretArn: TARGET_ARN,
  source: { instanceIdentifier: 'shop-db' },
  databases: ['shop', 'Crm-Data'],
  plan: { jobs: 4, filters: { excludeTables: ['public.audit_log'] }, splitTablesLargerThanBytes: 1_000_000_000 },
  verifySchedule: 'rate(6 hours)',
};
const run = (o: Partial<VerifyRunRecord>): VerifyRunRecord => ({
  jobId: 'shop_2026',
  runId: 'r1',
  startedAt: '2026-02-01T12:05:00.000Z',
  outcome: 'equal',
  tables: { total: 3, equal: 3, different: 0, unconfirmed: 0, error: 0 },
  differences: 0,
  ...o,
});

describe('record-job started', () => {
  it('creates the job RUNNING with its execution and one PENDING entry per database', async () => {
    const d = deps();
    const job = await recordJob(
      { action: 'started', input, executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:Replicate:x' },
      d,
    );
    expect(job).toMatchObject({ jobId: 'shop_2026' });
    const stored = await d.store.getJob('shop_2026');
    expect(stored).toMatchObject({
      state: 'RUNNING',
      phase: 'Checks',
      executionArn: expect.stringContaining(':execution:'),
      source: { description: 'RDS shop-db', secretArn: SOURCE_ARN },
      target: { description: 'secret replicator/target-GhIjKl' },
    });
    expect(Object.keys(stored!.databases)).toEqual(['shop', 'Crm-Data']);
    expect(stored!.databases.shop).toMatchObject({ state: 'PENDING', tablesDone: 0 });
  });

  it('resumes a PENDING or RUNNING job and keeps the progress its tasks recorded', async () => {
    const d = deps();
    await d.store.createJob({ jobId: 'shop_2026', source: { description: 's' }, target: { description: 't' } });
    await d.store.updateDatabaseProgress('shop_2026', 'shop', {
      state: 'RUNNING',
      phase: 'Copy snapshot',
      tablesDone: 3,
      tablesTotal: 9,
      rowsCopied: 10,
      bytesCopied: 99,
    });
    await recordJob({ action: 'started', input }, d);
    await recordJob({ action: 'started', input }, d);
    const stored = await d.store.getJob('shop_2026');
    expect(stored).toMatchObject({
      state: 'RUNNING',
      databases: { shop: { phase: 'Copy snapshot', tablesDone: 3 }, 'Crm-Data': { state: 'PENDING' } },
    });
  });

  it('refuses a finished job with the store error', async () => {
    const d = deps();
    await recordJob({ action: 'started', input }, d);
    await recordJob({ action: 'succeeded', jobId: 'shop_2026' }, d);
    await expect(recordJob({ action: 'started', input }, d)).rejects.toMatchObject({ name: 'JobAlreadyFinishedError' });
  });

  it('refuses a second execution while the one the job records still runs, and lets it take over once that one ended', async () => {
    const d = deps();
    const first = 'arn:aws:states:eu-west-1:123456789012:execution:Replicate:first';
    const second = 'arn:aws:states:eu-west-1:123456789012:execution:Replicate:second';
    await recordJob({ action: 'started', input, executionArn: first }, d);
    const running = new Set([first]);
    const withExecutions = { ...d, executionRunning: async (arn: string) => running.has(arn) };
    await expect(recordJob({ action: 'started', input, executionArn: second }, withExecutions)).rejects.toMatchObject({
      name: 'JobAlreadyRunning',
      message: expect.stringContaining(`is being replicated by the execution ${first}, which is still running`),
    });
    expect(await d.store.getJob('shop_2026')).toMatchObject({ state: 'RUNNING', executionArn: first });
    // A retry of the first execution's own start is fine.
    await expect(recordJob({ action: 'started', input, executionArn: first }, withExecutions)).resolves.toMatchObject({
      jobId: 'shop_2026',
    });
    running.delete(first);
    await recordJob({ action: 'started', input, executionArn: second }, withExecutions);
    expect(await d.store.getJob('shop_2026')).toMatchObject({ state: 'RUNNING', executionArn: second });
  });

  it('resumes a FAILED job from a new execution, keeping what its tasks recorded, but not from the failed one', async () => {
    const d = deps();
    const first = 'arn:aws:states:eu-west-1:123456789012:execution:replicate:shop-1';
    await recordJob({ action: 'started', input, executionArn: first }, d);
    await d.store.updateDatabaseProgress('shop_2026', 'shop', {
      state: 'FAILED',
      phase: 'Copy snapshot',
      tablesDone: 3,
      tablesTotal: 5,
      rowsCopied: 10,
      bytesCopied: 100,
      error: 'TaskStopped: the task was stopped.',
    });
    await recordJob(
      { action: 'failed', jobId: 'shop_2026', error: { Error: 'States.TaskFailed', Cause: 'stopped' } },
      d,
    );
    await expect(recordJob({ action: 'started', input, executionArn: first }, d)).rejects.toMatchObject({
      name: 'JobAlreadyFinishedError',
    });
    await recordJob(
      { action: 'started', input, executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:replicate:shop-2' },
      d,
    );
    expect(await d.store.getJob('shop_2026')).toMatchObject({
      state: 'RUNNING',
      phase: 'Checks',
      databases: { shop: { tablesDone: 3, tablesTotal: 5 } },
    });
  });

  it('refuses a bad execution input by field, without echoing a value or storing anything', async () => {
    const d = deps();
    const bad = { ...input, sourceSecretArn: 'postgres://admin:Top-Secret-1@db/shop', databases: [], extra: 1 };
    const error = await recordJob({ action: 'started', input: bad }, d).catch((e: Error) => e);
    expect(error).toMatchObject({
      name: 'InvalidEvent',
      message: expect.stringMatching(
        /^The execution input is not valid: .*sourceSecretArn: must be a Secrets Manager secret ARN.*databases.*has unknown keys extra.*statemachines\/README\.md describes\.$/,
      ),
    });
    expect((error as Error).message).not.toContain('Top-Secret-1');
    expect(await d.store.listJobs()).toEqual([]);
  });

  it.each([
    ['a job id with a dot', { jobId: 'shop.1' }, 'jobId: must be 1 to 57 letters, digits, _ or -'],
    ['a job id too long for the schedule name', { jobId: 'j'.repeat(58) }, 'jobId: must be 1 to 57'],
    ['a plan key the task does not know', { plan: { note: 'x' } }, 'plan has unknown keys note'],
    [
      'filters in two places',
      { plan: { filters: { includeTables: ['a.b'] }, excludeTables: ['a.c'] } },
      'has filters both under "filters" and at the top level',
    ],
    ['a database twice', { databases: ['a', 'a'] }, 'must not list a database twice'],
    ['41 databases', { databases: Array.from({ length: 41 }, (_, i) => `d${i}`) }, 'at most 40 databases per job'],
    [
      'a plan over 4 KiB',
      { plan: { includeTables: Array.from({ length: 400 }, (_, i) => `shop.table_${i}`) } },
      'at most 4096 characters as JSON',
    ],
    ['a schedule that is no expression', { verifySchedule: 'every 6 hours' }, 'rate(6 hours)'],
    ['an empty source', { source: {} }, 'give instanceIdentifier or endpoint'],
  ])('refuses %s', async (_label, change, message) => {
    await expect(recordJob({ action: 'started', input: { ...input, ...change } }, deps())).rejects.toMatchObject({
      name: 'InvalidEvent',
      message: expect.stringContaining(message),
    });
  });
});

describe('record-job succeeded and failed', () => {
  it('marks the job SUCCEEDED, and a retried call is harmless', async () => {
    const d = deps();
    await recordJob({ action: 'started', input }, d);
    await expect(recordJob({ action: 'succeeded', jobId: 'shop_2026' }, d)).resolves.toEqual({
      jobId: 'shop_2026',
      state: 'SUCCEEDED',
    });
    await expect(recordJob({ action: 'succeeded', jobId: 'shop_2026' }, d)).resolves.toEqual({
      jobId: 'shop_2026',
      state: 'SUCCEEDED',
    });
    expect(await d.store.getJob('shop_2026')).toMatchObject({ state: 'SUCCEEDED', endedAt: NOW.toISOString() });
  });

  it('marks the job FAILED with the Lambda error message as one readable sentence', async () => {
    const d = deps();
    await recordJob({ action: 'started', input }, d);
    const cause = JSON.stringify({
      errorType: 'LogicalReplicationOff',
      errorMessage: 'Set rds.logical_replication = 1 in shop-pg15 and reboot shop-db.',
      trace: ['at x'],
    });
    const result = await recordJob(
      { action: 'failed', input, error: { Error: 'LogicalReplicationOff', Cause: cause } },
      d,
    );
    expect(result).toEqual({
      jobId: 'shop_2026',
      recorded: true,
      error: 'LogicalReplicationOff',
      cause: 'Set rds.logical_replication = 1 in shop-pg15 and reboot shop-db.',
    });
    expect(await d.store.getJob('shop_2026')).toMatchObject({
      state: 'FAILED',
      error: 'Set rds.logical_replication = 1 in shop-pg15 and reboot shop-db.',
      cause: 'LogicalReplicationOff',
    });
  });

  it('still returns the error when there is nothing to record: bad input, unknown or finished job', async () => {
    const d = deps();
    const error = {
      Error: 'InvalidEvent',
      Cause: JSON.stringify({ errorMessage: 'The execution input is not valid: jobId is missing.' }),
    };
    await expect(recordJob({ action: 'failed', input: { databases: [] }, error }, d)).resolves.toEqual({
      recorded: false,
      error: 'InvalidEvent',
      cause: 'The execution input is not valid: jobId is missing.',
    });
    await expect(recordJob({ action: 'failed', input, error }, d)).resolves.toMatchObject({
      jobId: 'shop_2026',
      recorded: false,
    });
    await recordJob({ action: 'started', input }, d);
    await recordJob({ action: 'succeeded', jobId: 'shop_2026' }, d);
    await expect(recordJob({ action: 'failed', input, error }, d)).resolves.toMatchObject({
      recorded: false,
      error: 'InvalidEvent',
    });
    expect(await d.store.getJob('shop_2026')).toMatchObject({ state: 'SUCCEEDED' });
  });

  it('adds the error a failed task recorded on its database, which runTask.sync does not carry', async () => {
    const d = deps();
    await recordJob({ action: 'started', input }, d);
    await d.store.updateDatabaseProgress('shop_2026', 'shop', {
      state: 'FAILED',
      phase: 'Copy snapshot',
      tablesDone: 0,
      tablesTotal: 3,
      rowsCopied: 0,
      bytesCopied: 0,
      error: 'ConnectionFailed: the target refused the connection; allow the task security group in.',
    });
    const task = {
      TaskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/c/abc',
      StoppedReason: 'Essential container in task exited',
      Containers: [{ Name: 'replicator', ExitCode: 1 }],
    };
    const result = await recordJob(
      {
        action: 'failed',
        input,
        error: { Error: 'States.TaskFailed', Cause: `Database shop: ${JSON.stringify(task)}` },
      },
      d,
    );
    expect(result).toMatchObject({
      cause: expect.stringMatching(
        /^Database shop: The replicator task abc stopped: .* The task recorded: shop: ConnectionFailed: the target refused the connection; allow the task security group in\.$/,
      ),
    });
  });

  it('ends an unfinished job with the phase given (the cut-over workflow), and leaves a SUCCEEDED one as it is', async () => {
    const d = deps();
    await recordJob({ action: 'started', input }, d);
    await recordJob(
      { action: 'succeeded', jobId: 'shop_2026', phase: 'Cut over: the target is ready for the applications' },
      d,
    );
    expect(await d.store.getJob('shop_2026')).toMatchObject({
      state: 'SUCCEEDED',
      phase: 'Cut over: the target is ready for the applications',
    });
    const other = { ...input, jobId: 'crm_2026' };
    await recordJob({ action: 'started', input: other }, d);
    await recordJob({ action: 'succeeded', jobId: 'crm_2026' }, d);
    await recordJob(
      { action: 'succeeded', jobId: 'crm_2026', phase: 'Cut over: the target is ready for the applications' },
      d,
    );
    expect(await d.store.getJob('crm_2026')).toMatchObject({
      state: 'SUCCEEDED',
      phase: 'Replicating: every database is in sync',
    });
  });

  it("adds what a failed task recorded in its step since the execution started, when the job's entries cannot change", async () => {
    const d = deps();
    await recordJob({ action: 'started', input }, d);
    await recordJob({ action: 'succeeded', jobId: 'shop_2026' }, d);
    const step = { jobId: 'shop_2026', step: 'cutover', database: 'shop', state: 'FAILED' as const };
    await d.store.putStep({
      ...step,
      startedAt: '2026-02-01T11:00:00.000Z',
      detail: 'CutoverError: an older run, before this execution.',
    });
    await d.store.putStep({
      ...step,
      startedAt: '2026-02-01T12:01:00.000Z',
      detail: 'CutoverError: the lag stayed above 1 MB for 600 s; stop the writes or raise cutover.maxLagBytes.',
    });
    await d.store.putStep({ ...step, database: 'crm', state: 'SUCCEEDED', startedAt: '2026-02-01T12:01:00.000Z' });
    const task = {
      TaskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/c/abc',
      StoppedReason: 'Essential container in task exited',
      Containers: [{ Name: 'replicator', ExitCode: 1 }],
    };
    const error = { Error: 'States.TaskFailed', Cause: `Database shop: ${JSON.stringify(task)}` };
    const result = await recordJob(
      { action: 'failed', jobId: 'shop_2026', since: '2026-02-01T12:00:00.000Z', error },
      d,
    );
    expect(result).toEqual({
      jobId: 'shop_2026',
      recorded: false,
      error: 'States.TaskFailed',
      cause:
        'Database shop: The replicator task abc stopped: Essential container in task exited; container replicator exited with code 1. Its log stream in CloudWatch Logs says why. The task recorded: shop: CutoverError: the lag stayed above 1 MB for 600 s; stop the writes or raise cutover.maxLagBytes.',
    });
    expect(await d.store.getJob('shop_2026')).toMatchObject({ state: 'SUCCEEDED' });
    // Without `since` (the replicate workflow), steps are not read.
    await expect(recordJob({ action: 'failed', jobId: 'shop_2026', error }, d)).resolves.toMatchObject({
      cause: expect.not.stringContaining('The task recorded'),
    });
  });

  it('masks a password in the cause before it is stored or shown', async () => {
    const d = deps();
    await recordJob({ action: 'started', input }, d);
    const result = await recordJob(
      {
        action: 'failed',
        input,
        error: { Error: 'States.TaskFailed', Cause: 'connect to postgres://admin:Pw-Leaked-77@db/shop failed' },
      },
      d,
    );
    expect(JSON.stringify(result)).not.toContain('Pw-Leaked-77');
    expect(JSON.stringify(await d.store.getJob('shop_2026'))).not.toContain('Pw-Leaked-77');
  });
});

describe('describeFailure', () => {
  it('reads a stopped ECS task, keeping the database prefix of the Map', () => {
    const task = {
      TaskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/cluster/abc123',
      StopCode: 'EssentialContainerExited',
      StoppedReason: 'Essential container in task exited',
      Containers: [{ Name: 'replicator', ExitCode: 1 }],
      Overrides: {},
    };
    expect(describeFailure({ Error: 'States.TaskFailed', Cause: `Database shop: ${JSON.stringify(task)}` })).toEqual({
      error: 'States.TaskFailed',
      cause:
        'Database shop: The replicator task abc123 stopped: Essential container in task exited; container replicator exited with code 1. Its log stream in CloudWatch Logs says why.',
    });
  });

  it('keeps a plain cause, and says so when there is none', () => {
    expect(describeFailure({ Error: 'CatchUpTimedOut', Cause: 'Database shop: not in sync {yet}' }).cause).toBe(
      'Database shop: not in sync {yet}',
    );
    expect(describeFailure({ Error: 'States.Timeout' })).toEqual({
      error: 'States.Timeout',
      cause: 'States.Timeout, without a cause; see the execution history for the failed state.',
    });
    expect(describeFailure({ Cause: 'x'.repeat(40_000) }).cause).toHaveLength(30_000);
  });
});

describe('record-job verified and cleaned', () => {
  const since = '2026-02-01T12:00:00.000Z';

  it('sums up the newest run per database since the execution started, and publishes the differences', async () => {
    const d = deps();
    await d.store.putVerifyRun(
      run({
        runId: 'old',
        database: 'shop',
        startedAt: '2026-01-31T12:00:00.000Z',
        outcome: 'different',
        differences: 9,
      }),
    );
    await d.store.putVerifyRun(run({ runId: 'r1', database: 'shop' }));
    await d.store.putVerifyRun(
      run({
        runId: 'r2',
        database: 'crm',
        outcome: 'different',
        differences: 4,
        tables: { total: 5, equal: 4, different: 1, unconfirmed: 0, error: 0 },
      }),
    );
    const result = await recordJob({ action: 'verified', jobId: 'shop_2026', databases: ['shop', 'crm'], since }, d);
    expect(result).toEqual({
      jobId: 'shop_2026',
      outcome: 'different',
      differences: 4,
      runs: 2,
      summary: 'Verify of job shop_2026: crm different (5 tables, 4 rows differ); shop equal (3 tables).',
    });
    expect(d.metrics).toEqual([['VerifyDifferences', 4]]);
  });

  it('is equal only when every database has an equal run, and says which has none', async () => {
    const d = deps();
    await d.store.putVerifyRun(run({ database: 'shop' }));
    await expect(
      recordJob({ action: 'verified', jobId: 'shop_2026', databases: ['shop'], since }, d),
    ).resolves.toMatchObject({ outcome: 'equal', differences: 0 });
    await expect(
      recordJob({ action: 'verified', jobId: 'shop_2026', databases: ['shop', 'crm'], since }, d),
    ).resolves.toMatchObject({
      outcome: 'missing',
      summary: expect.stringContaining('no verify result was recorded for crm'),
    });
    await expect(
      recordJob({ action: 'verified', jobId: 'other', databases: ['shop'], since }, d),
    ).resolves.toMatchObject({ outcome: 'missing', runs: 0 });
  });

  it('reports a verify task that failed without recording a run, with the reason its step recorded, from its error name alone', async () => {
    const d = deps();
    await d.store.putVerifyRun(run({ database: 'shop' }));
    // The verify Map passes the error name only (a stopped task's whole description would crowd the state).
    const tasks = [
      { database: 'shop', failed: false },
      { database: 'crm', failed: true, error: 'States.TaskFailed' },
      { database: 'hr', failed: true, error: 'States.TaskFailed' },
    ];
    await d.store.putStep({
      jobId: 'shop_2026',
      step: 'verify',
      database: 'crm',
      state: 'FAILED',
      startedAt: '2026-02-01T12:01:00.000Z',
      endedAt: '2026-02-01T12:02:00.000Z',
      detail: 'SecretNotFound: The secret ... does not exist.',
    });
    // An older failure of hr, before this execution: not its reason now.
    await d.store.putStep({
      jobId: 'shop_2026',
      step: 'verify',
      database: 'hr',
      state: 'FAILED',
      startedAt: '2026-01-01T12:01:00.000Z',
      endedAt: '2026-01-01T12:02:00.000Z',
      detail: 'old failure',
    });
    const result = await recordJob(
      { action: 'verified', jobId: 'shop_2026', databases: ['shop', 'crm', 'hr'], since, tasks },
      d,
    );
    expect(result).toMatchObject({
      outcome: 'error',
      summary:
        'Verify of job shop_2026: shop equal (3 tables); crm: the verify task failed: SecretNotFound: The secret ... does not exist.; hr: the verify task failed: States.TaskFailed; its log stream in CloudWatch Logs says why.',
    });
    expect(
      recordJobEvent.safeParse({
        action: 'verified',
        jobId: 'shop_2026',
        databases: ['crm'],
        since,
        tasks: [{ database: 'crm', failed: true, error: { Error: 'States.TaskFailed', Cause: '{}' } }],
      }).success,
    ).toBe(false);
  });

  it('starts the retention of the job record after a successful clean-up only (never while it may replicate)', async () => {
    const d = deps();
    const started = vi.spyOn(d.store, 'startRetention');
    const event: RecordJobEvent = {
      action: 'cleaned',
      jobId: 'shop_2026',
      databases: ['shop'],
      startedAt: '2026-02-01T11:59:00.000Z',
    };
    await recordJob({ ...event, error: { Error: 'ConnectionFailed', Cause: 'no route' } }, d);
    expect(started).not.toHaveBeenCalled();
    await recordJob(event, d);
    expect(started).toHaveBeenCalledWith('shop_2026');
  });

  it('records the clean-up as a step, failed with the readable reason when an error is given', async () => {
    const d = deps();
    const event: RecordJobEvent = {
      action: 'cleaned',
      jobId: 'shop_2026',
      databases: ['shop'],
      startedAt: '2026-02-01T11:59:00.000Z',
    };
    await expect(recordJob(event, d)).resolves.toEqual({ jobId: 'shop_2026', recorded: true, error: '', cause: '' });
    const failed = await recordJob(
      {
        ...event,
        startedAt: '2026-02-01T11:59:30.000Z',
        error: {
          Error: 'ConnectionFailed',
          Cause: JSON.stringify({ errorMessage: 'The source refused the connection.' }),
        },
      },
      d,
    );
    expect(failed).toMatchObject({ error: 'ConnectionFailed', cause: 'The source refused the connection.' });
    expect(await d.store.listSteps('shop_2026')).toMatchObject([
      { step: 'Clean up', state: 'SUCCEEDED', seconds: 60, detail: expect.stringContaining('shop') },
      { step: 'Clean up', state: 'FAILED', seconds: 30, detail: 'The source refused the connection.' },
    ]);
    expect(await d.store.getJob('shop_2026')).toBeUndefined();
  });

  it('ends a RUNNING or PENDING job cleaned up before its cut-over as CANCELLED', async () => {
    const d = deps();
    await recordJob({ action: 'started', input }, d);
    await d.store.createJob({ jobId: 'pending_1', source: { description: 's' }, target: { description: 't' } });
    for (const jobId of ['shop_2026', 'pending_1']) {
      await recordJob({ action: 'cleaned', jobId, databases: ['shop'], startedAt: '2026-02-01T11:59:00.000Z' }, d);
      expect(await d.store.getJob(jobId), jobId).toMatchObject({
        state: 'CANCELLED',
        phase: 'Cleaned up before cut-over',
        endedAt: NOW.toISOString(),
      });
    }
    // A retried invocation finds the job ended already and still succeeds.
    await expect(
      recordJob(
        { action: 'cleaned', jobId: 'shop_2026', databases: ['shop'], startedAt: '2026-02-01T11:59:00.000Z' },
        d,
      ),
    ).resolves.toMatchObject({ recorded: true });
    expect(await d.store.getJob('shop_2026')).toMatchObject({ state: 'CANCELLED' });
  });

  it('leaves a SUCCEEDED or FAILED job as it is, and a RUNNING one whose clean-up failed', async () => {
    const d = deps();
    const event = (jobId: string): Extract<RecordJobEvent, { action: 'cleaned' }> => ({
      action: 'cleaned',
      jobId,
      databases: ['shop'],
      startedAt: '2026-02-01T11:59:00.000Z',
    });
    await recordJob({ action: 'started', input }, d);
    await recordJob({ action: 'succeeded', jobId: 'shop_2026' }, d);
    await recordJob(event('shop_2026'), d);
    expect(await d.store.getJob('shop_2026')).toMatchObject({
      state: 'SUCCEEDED',
      phase: 'Replicating: every database is in sync',
    });
    await recordJob({ action: 'started', input: { ...input, jobId: 'failed_1' } }, d);
    await recordJob(
      { action: 'failed', jobId: 'failed_1', error: { Error: 'CatchUpTimedOut', Cause: 'Database shop: not in sync' } },
      d,
    );
    await recordJob(event('failed_1'), d);
    expect(await d.store.getJob('failed_1')).toMatchObject({ state: 'FAILED', error: 'Database shop: not in sync' });
    await recordJob({ action: 'started', input: { ...input, jobId: 'running_1' } }, d);
    await recordJob(
      { ...event('running_1'), error: { Error: 'CleanupIncomplete', Cause: 'The slot is still active.' } },
      d,
    );
    expect(await d.store.getJob('running_1')).toMatchObject({ state: 'RUNNING', phase: 'Checks' });
  });
});

describe('record-job handler', () => {
  let table: JobTable;
  const saved = { ...process.env };

  beforeAll(async () => {
    table = await startJobTable('jobs');
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_DYNAMODB: table.endpoint,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'x',
      JOB_TABLE: 'jobs',
      POWERTOOLS_METRICS_NAMESPACE: 'DatabaseReplicator/Test',
      POWERTOOLS_SERVICE_NAME: 'database-replicator-record-job',
    });
  });

  afterAll(async () => {
    process.env = saved;
    await table.close();
  });

  it('records a job in DynamoDB through the store, and Powertools Metrics writes the differences metric as EMF when the invocation ends', async () => {
    const started = await withLogs(() =>
      handler(
        { action: 'started', input, executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:R:1' },
        lambdaContext('record-job'),
      ),
    );
    expect(started.error).toBeUndefined();
    expect(started.result).toMatchObject({
      jobId: 'shop_2026',
      databases: [{ database: 'shop' }, { database: 'Crm-Data' }],
    });
    const verified = await withLogs(() =>
      handler(
        { action: 'verified', jobId: 'shop_2026', databases: ['shop'], since: '2026-01-01T00:00:00Z' },
        lambdaContext('record-job'),
      ),
    );
    expect(verified.result).toMatchObject({ outcome: 'missing' });
    const emf = verified.lines.filter((l) => '_aws' in l);
    expect(emf).toEqual([
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [
            {
              Namespace: 'DatabaseReplicator/Test',
              Dimensions: [['service']],
              Metrics: [{ Name: 'VerifyDifferences', Unit: 'Count' }],
            },
          ],
        },
        service: 'database-replicator-record-job',
        VerifyDifferences: 0,
      },
    ]);
    // An invocation that adds no metric writes no EMF line (and no warning about it).
    expect(started.lines.filter((l) => '_aws' in l)).toEqual([]);
    expect(started.logs).not.toMatch(/No application metrics/);
    assertNoSecrets(started.logs + verified.logs);
  });

  it('reports a function deployed without JOB_TABLE as FunctionMisconfigured, the name Step Functions shows', async () => {
    delete process.env.JOB_TABLE;
    try {
      const { error, lines } = await withLogs(() =>
        handler({ action: 'succeeded', jobId: 'shop_2026' }, lambdaContext('record-job')),
      );
      expect(error).toMatchObject({
        name: 'FunctionMisconfigured',
        message: expect.stringMatching(/^JOB_TABLE is not set/),
      });
      expect(lines.at(-1)).toMatchObject({ level: 'ERROR', errorName: 'FunctionMisconfigured' });
    } finally {
      process.env.JOB_TABLE = 'jobs';
    }
  });

  it('refuses an unknown action as InvalidEvent', async () => {
    const { error } = await withLogs(() => handler({ action: 'deleted', jobId: 'x' }, lambdaContext()));
    expect(error).toMatchObject({ name: 'InvalidEvent', message: expect.stringContaining('action') });
  });
});
