import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConnectionSpec } from '../../../src/connection/url.ts';
import { LocalFileJobStore, type InitCheckpoint } from '../../../src/jobs/index.ts';
import { parseTaskConfig, type Subcommand } from '../../../src/task/config.ts';
import { runTask, type TaskDependencies } from '../../../src/task/run.ts';
import { TableSyncTimeout } from '../../../src/replication/subscription.ts';
import { CopyFailed } from '../../../src/snapshot/workers.ts';
import type { SubcommandHandler } from '../../../src/task/subcommands.ts';

const PASSWORD = 'Unit-Zebra-Pa55word-7731';
const SOURCE = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:source-AbCdEf';
const TARGET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:target-AbCdEf';
const sm = mockClient(SecretsManagerClient);
const sfn = mockClient(SFNClient);
const secrets = new SecretsManagerClient({ region: 'eu-west-1' });
const sfnClient = new SFNClient({ region: 'eu-west-1' });

let dir: string;
let out: string[];
let err: string[];

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function holdSecrets(port = 5432): void {
  const url = (db: string) => `postgresql://app:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/${db}`;
  sm.on(GetSecretValueCommand, { SecretId: SOURCE }).resolves({ SecretString: JSON.stringify({ url: url('shop') }) });
  sm.on(GetSecretValueCommand, { SecretId: TARGET }).resolves({
    SecretString: JSON.stringify({ url: url('postgres') }),
  });
}

function run(
  subcommand: Subcommand,
  handler?: SubcommandHandler,
  extra: Partial<TaskDependencies> = {},
  env: Record<string, string> = {},
) {
  const config = parseTaskConfig([subcommand], {
    JOB_ID: 'job-1',
    DATABASE: 'shop',
    SOURCE_SECRET_ARN: SOURCE,
    TARGET_SECRET_ARN: TARGET,
    STATE_DIR: dir,
    TASK_TOKEN: 'token-1',
    ...env,
  });
  const store = new LocalFileJobStore(dir);
  return {
    store,
    code: runTask(config, {
      secrets,
      sfn: sfnClient,
      store,
      stdout: (l) => out.push(l),
      stderr: (l) => err.push(l),
      heartbeatMs: 20,
      tmpDir: dir,
      ...(handler ? { handlers: { [subcommand]: handler } } : {}),
      ...extra,
    }),
  };
}

/** What a careless message would hold: the URL with the password in it. */
const urlWithPassword = (spec: ConnectionSpec) =>
  `postgresql://${spec.user}:${encodeURIComponent(spec.password!)}@${spec.host}:${spec.port}/${spec.database}`;

/** Every file the store wrote, and everything the task printed or sent to Step Functions. */
function everythingWritten(): string {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(readFileSync(path, 'utf8'));
    }
  };
  walk(dir);
  const sent = sfn.calls().map((c) => JSON.stringify(c.args[0].input));
  return [...files, ...out, ...err, ...sent].join('\n');
}

const fakeState = (jobId: string): InitCheckpoint => ({
  version: 1,
  jobId,
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '',
  source: '127.0.0.1:5432',
  target: '127.0.0.1:5432',
  filters: { includeDatabases: ['shop'] },
  noSync: false,
  timeFilters: [],
  databases: {
    shop: {
      source: 'shop',
      target: 'shop',
      createdTargetDatabase: true,
      publication: 'dbr_p',
      slot: 'dbr_p',
      slotCreated: true,
      consistentPoint: '0/16B3748',
      steps: {},
      copied: { 'public.a': { rows: 5, bytes: 50, seconds: 0.1 } },
      done: false,
    },
  },
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dbr-task-unit-'));
  out = [];
  err = [];
  sm.reset();
  sfn.reset();
  sfn.on(SendTaskHeartbeatCommand).resolves({});
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  holdSecrets();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('runTask', () => {
  it('heartbeats while working, then sends SendTaskSuccess and records the step and progress; no password anywhere', async () => {
    const handler: SubcommandHandler = async (ctx) => {
      // A careless log line with the connection URL: the logger must mask it.
      ctx.logger.info(`connecting to ${urlWithPassword(ctx.source)} as ${ctx.source.password}`);
      ctx.recorder.set({ tablesDone: 1, tablesTotal: 2, rowsCopied: 5, bytesCopied: 50 });
      await new Promise((r) => setTimeout(r, 150));
      return { output: { slot: 'dbr_p', tables: 2 } };
    };
    const { code, store } = run('snapshot', handler);
    expect(await code).toBe(0);
    expect(sfn.commandCalls(SendTaskHeartbeatCommand).length).toBeGreaterThanOrEqual(2);
    expect(sfn.commandCalls(SendTaskHeartbeatCommand)[0]!.args[0].input).toEqual({ taskToken: 'token-1' });
    const success = sfn.commandCalls(SendTaskSuccessCommand);
    expect(success).toHaveLength(1);
    expect(JSON.parse(success[0]!.args[0].input.output!)).toMatchObject({
      ok: true,
      jobId: 'job-1',
      database: 'shop',
      subcommand: 'snapshot',
      slot: 'dbr_p',
      tables: 2,
    });
    expect(sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
    expect(JSON.parse(out.join(''))).toMatchObject({ ok: true, slot: 'dbr_p' });
    expect(err.join('\n')).toMatch(/connecting to postgresql:\/\/app:\*\*\*@127\.0\.0\.1:5432\/shop as \*\*\*/);

    const job = await store.getJob('job-1');
    expect(job).toMatchObject({
      state: 'RUNNING',
      phase: 'Copy snapshot',
      source: { secretArn: SOURCE, description: 'app@127.0.0.1:5432/shop' },
    });
    expect(job!.databases.shop).toMatchObject({
      state: 'RUNNING',
      phase: 'Snapshot copied',
      tablesDone: 1,
      tablesTotal: 2,
      rowsCopied: 5,
      bytesCopied: 50,
    });
    expect(await store.listSteps('job-1')).toEqual([
      expect.objectContaining({ step: 'snapshot', database: 'shop', state: 'SUCCEEDED', seconds: expect.any(Number) }),
    ]);
    expect(everythingWritten()).not.toContain(PASSWORD);
  });

  it('keeps the checkpoint init saved before a failure, and the next task finds it again', async () => {
    const failing: SubcommandHandler = async (ctx) => {
      await ctx.store.saveCheckpoint(ctx.config.jobId, fakeState('job_1'), ctx.config.database);
      throw new Error(`copy failed on ${urlWithPassword(ctx.target)}`);
    };
    const first = run('snapshot', failing);
    expect(await first.code).toBe(1);
    const failure = sfn.commandCalls(SendTaskFailureCommand);
    expect(failure).toHaveLength(1);
    expect(failure[0]!.args[0].input).toMatchObject({
      taskToken: 'token-1',
      error: 'Error',
      cause: expect.stringContaining('copy failed on postgresql://app:***@'),
    });
    expect(err.at(-1)).toMatch(/^error: Error: copy failed on postgresql:\/\/app:\*\*\*@127/);
    const job = await first.store.getJob('job-1');
    expect(job!.databases.shop).toMatchObject({ state: 'FAILED', error: expect.stringContaining('copy failed') });
    expect(await first.store.getCheckpoint('job-1', 'shop')).toMatchObject({
      databases: { shop: { slot: 'dbr_p', consistentPoint: '0/16B3748' } },
    });
    // The task wrote no state file of its own: its temporary folder is gone, and the job's folder holds the checkpoint.
    expect(readdirSync(dir).filter((name) => name.startsWith('dbr-task-'))).toEqual([]);
    expect((await first.store.listSteps('job-1'))[0]).toMatchObject({
      state: 'FAILED',
      detail: expect.stringContaining('copy failed'),
    });
    expect(everythingWritten()).not.toContain(PASSWORD);

    let seen: InitCheckpoint | undefined;
    const second = run('subscribe', async (ctx) => {
      seen = await ctx.store.getCheckpoint(ctx.config.jobId, ctx.config.database);
      return { output: {} };
    });
    expect(await second.code).toBe(0);
    expect(seen?.databases.shop).toMatchObject({
      slot: 'dbr_p',
      consistentPoint: '0/16B3748',
      copied: { 'public.a': { rows: 5 } },
    });
    expect((await second.store.getJob('job-1'))!.databases.shop).toMatchObject({
      state: 'RUNNING',
      phase: 'Replicating',
    });
    expect((await second.store.getJob('job-1'))!.databases.shop!.error).toBeUndefined();
  });

  it('fails the real snapshot with ConnectionFailed when the source is unreachable, without the password', async () => {
    holdSecrets(await closedPort());
    const { code, store } = run('snapshot');
    expect(await code).toBe(1);
    const failure = sfn.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
    expect(failure.error).toBe('ConnectionFailed');
    expect(failure.cause).toMatch(/source/);
    expect((await store.getJob('job-1'))!.databases.shop).toMatchObject({
      state: 'FAILED',
      error: expect.stringMatching(/^ConnectionFailed: /),
    });
    expect(err.filter((l) => l.startsWith('error: '))).toHaveLength(1);
    expect(everythingWritten()).not.toContain(PASSWORD);
  });

  it('reports a verdict failure (verify differences) with its output, and records nothing on the database entry', async () => {
    const { code, store } = run('verify', async () => ({
      output: { outcome: 'different' },
      failure: Object.assign(new Error('Verify found differences in database shop'), { name: 'VerifyDifferences' }),
    }));
    expect(await code).toBe(1);
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]!.args[0].input).toMatchObject({
      error: 'VerifyDifferences',
      cause: 'Verify found differences in database shop',
    });
    expect(JSON.parse(out[0]!)).toMatchObject({ ok: false, outcome: 'different', error: 'VerifyDifferences' });
    const job = await store.getJob('job-1');
    expect(job!.databases).toEqual({});
    expect(job!.phase).toBe('Verify');
  });

  it('fails subscribe before any snapshot as SnapshotMissing, the name Step Functions shows', async () => {
    const { code, store } = run('subscribe');
    expect(await code).toBe(1);
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]!.args[0].input).toMatchObject({
      error: 'SnapshotMissing',
      cause: expect.stringMatching(/^No snapshot of database shop is recorded for job job-1; run the snapshot task/),
    });
    expect((await store.listSteps('job-1'))[0]).toMatchObject({
      state: 'FAILED',
      detail: expect.stringMatching(/^SnapshotMissing: /),
    });
  });

  it.each([
    ['CopyFailed', () => new CopyFailed('Copying public.orders failed: connection lost')],
    [
      'TableSyncTimeout',
      () => new TableSyncTimeout('Table synchronization of subscription dbr_p did not finish within 60 s'),
    ],
  ])('reports an engine failure by its class name %s', async (name, failure) => {
    const { code } = run('snapshot', async () => {
      throw failure();
    });
    expect(await code).toBe(1);
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]!.args[0].input).toMatchObject({
      error: name,
      cause: failure().message,
    });
  });

  it('on SIGTERM records TaskStopped, keeps the checkpoint, and tells Step Functions', async () => {
    const stop = new AbortController();
    const { code, store } = run(
      'snapshot',
      async (ctx) => {
        await ctx.store.saveCheckpoint(ctx.config.jobId, fakeState('job_1'), ctx.config.database);
        setTimeout(() => stop.abort(), 30);
        return new Promise(() => undefined);
      },
      { signal: stop.signal },
    );
    expect(await code).toBe(1);
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]!.args[0].input.error).toBe('TaskStopped');
    const job = await store.getJob('job-1');
    expect(job!.databases.shop).toMatchObject({ state: 'FAILED' });
    expect((await store.getCheckpoint('job-1', 'shop'))!.databases.shop!.consistentPoint).toBe('0/16B3748');
    expect((await store.listSteps('job-1'))[0]).toMatchObject({
      state: 'FAILED',
      detail: expect.stringMatching(/^TaskStopped/),
    });
  });

  it('refuses to change a finished job, but still verifies it', async () => {
    const store = new LocalFileJobStore(dir);
    await store.createJob({
      jobId: 'job-1',
      source: { description: 's' },
      target: { description: 't' },
      state: 'RUNNING',
    });
    await store.transition('job-1', 'SUCCEEDED');
    const snap = run('snapshot', async () => ({ output: {} }));
    expect(await snap.code).toBe(1);
    expect(err.at(-1)).toMatch(/JobFinished: Job job-1 has already finished as SUCCEEDED/);
    const verify = run('verify', async () => ({ output: { outcome: 'equal' } }));
    expect(await verify.code).toBe(0);
  });

  it('cuts over a SUCCEEDED job (replicating in sync), recording its step but leaving the finished job as it is; refuses a FAILED one', async () => {
    const store = new LocalFileJobStore(dir);
    await store.createJob({
      jobId: 'job-1',
      source: { description: 's' },
      target: { description: 't' },
      state: 'RUNNING',
    });
    await store.transition('job-1', 'SUCCEEDED', { phase: 'Replicating: every database is in sync' });
    const cut = run('cutover', async () => ({ output: { sequences: 3 } }));
    expect(await cut.code).toBe(0);
    expect(await store.getJob('job-1')).toMatchObject({
      state: 'SUCCEEDED',
      phase: 'Replicating: every database is in sync',
      databases: {},
    });
    expect((await store.listSteps('job-1')).map((st) => `${st.step}:${st.state}`)).toEqual(['cutover:SUCCEEDED']);

    await store.createJob({
      jobId: 'job-2',
      source: { description: 's' },
      target: { description: 't' },
      state: 'RUNNING',
    });
    await store.transition('job-2', 'FAILED', { phase: 'Failed' });
    const refused = run('cutover', async () => ({ output: {} }), {}, { JOB_ID: 'job-2' });
    expect(await refused.code).toBe(1);
    expect(err.at(-1)).toMatch(/JobFinished: Job job-2 has already finished as FAILED/);
  });

  it('exits 1 when Step Functions does not take the result, and works without a task token', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    expect(await run('cleanup', async () => ({ output: {} })).code).toBe(1);
    expect(err.at(-1)).toMatch(/ResultNotReported/);

    sfn.reset();
    const { code } = run('cleanup', async () => ({ output: { dropped: [] } }), {}, { TASK_TOKEN: '' });
    expect(await code).toBe(0);
    expect(sfn.calls()).toHaveLength(0);
  });
});
