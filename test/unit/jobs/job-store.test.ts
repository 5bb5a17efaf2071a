// One behaviour suite run against both JobStore implementations: DynamoDbJobStore on dynalite
// (in-process) and LocalFileJobStore on a temporary folder. Then what only DynamoDB has (TTL, keys).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DynamoDbJobStore,
  InvalidJobRecordError,
  InvalidTransitionError,
  JobAlreadyFinishedError,
  JobExistsError,
  JobNotFoundError,
  LocalFileJobStore,
  SecretInRecordError,
  type DatabaseProgressInput,
  type JobStore,
  type NewJob,
  type StepRecord,
  type VerifyRunRecord,
} from '../../../src/jobs/index.ts';
import { startDynalite, type Dynalite } from '../../support/job-table.ts';

const T0 = Date.parse('2025-03-01T10:00:00.000Z');
let clockMs = T0;
const now = () => new Date(clockMs);
const advance = (seconds: number) => {
  clockMs += seconds * 1000;
};
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

const newJob = (jobId: string, extra: Partial<NewJob> = {}): NewJob => ({
  jobId,
  source: {
    description: 'source.example.com:5432/app',
    secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:source-AbCdEf',
  },
  target: { description: 'target.example.com:5432/app' },
  ...extra,
});
const progress = (o: Partial<DatabaseProgressInput> = {}): DatabaseProgressInput => ({
  state: 'RUNNING',
  phase: 'Copy snapshot',
  tablesDone: 1,
  tablesTotal: 4,
  rowsCopied: 100,
  bytesCopied: 4096,
  ...o,
});
const step = (o: Partial<StepRecord> = {}): StepRecord => ({
  jobId: 'j1',
  step: 'schema',
  state: 'RUNNING',
  startedAt: at(0),
  ...o,
});
const counts = { total: 3, equal: 3, different: 0, unconfirmed: 0, error: 0 };
const run = (runId: string, startedAt: string): VerifyRunRecord => ({
  jobId: 'j1',
  runId,
  startedAt,
  endedAt: startedAt,
  outcome: 'equal',
  tables: counts,
  differences: 0,
});

let dynamo: Dynalite;
let doc: DynamoDBDocumentClient;
let tableCount = 0;
const folders: string[] = [];

/** A new, empty table named after the test's store. */
const newTable = () => dynamo.createJobTable(`jobs-${++tableCount}`);

beforeAll(async () => {
  dynamo = await startDynalite();
  doc = dynamo.doc;
});

afterAll(async () => {
  await dynamo.close();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  clockMs = T0;
});

const implementations: [string, () => Promise<JobStore>][] = [
  ['DynamoDbJobStore', async () => new DynamoDbJobStore({ client: doc, tableName: await newTable(), now })],
  [
    'LocalFileJobStore',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'job-store-'));
      folders.push(dir);
      return new LocalFileJobStore(dir, { now });
    },
  ],
];

describe.each(implementations)('%s', (_name, create) => {
  let store: JobStore;
  beforeEach(async () => {
    store = await create();
  });

  it('creates a PENDING job with no databases and reads it back', async () => {
    const created = await store.createJob(newJob('j1', { phase: 'Validate' }));
    expect(created).toEqual({
      ...newJob('j1'),
      state: 'PENDING',
      phase: 'Validate',
      createdAt: at(0),
      updatedAt: at(0),
      databases: {},
    });
    expect(await store.getJob('j1')).toEqual(created);
    expect(await store.getJob('other')).toBeUndefined();
  });

  it('refuses to create a job twice and keeps the first', async () => {
    const first = await store.createJob(newJob('j1'));
    advance(5);
    await expect(store.createJob(newJob('j1', { phase: 'second' }))).rejects.toThrow(JobExistsError);
    await expect(store.createJob(newJob('j1'))).rejects.toThrow(
      'Job j1 already exists in the job store; pick a new job id, or update the existing job instead of creating it again.',
    );
    expect(await store.getJob('j1')).toEqual(first);
  });

  it('refuses every write to a job that does not exist', async () => {
    await expect(store.updateJob('missing', { phase: 'x' })).rejects.toThrow(JobNotFoundError);
    await expect(store.transition('missing', 'RUNNING')).rejects.toThrow(
      'Job missing does not exist in the job store; check the job id, or create the job before updating it.',
    );
    await expect(store.updateDatabaseProgress('missing', 'app', progress())).rejects.toThrow(JobNotFoundError);
    expect(await store.getJob('missing')).toBeUndefined();
  });

  it('updates phase and execution without touching the state', async () => {
    await store.createJob(newJob('j1'));
    advance(3);
    const updated = await store.updateJob('j1', {
      phase: 'Copy snapshot',
      executionArn: 'arn:aws:states:us-east-1:123456789012:execution:sm:e1',
    });
    expect(updated).toMatchObject({
      state: 'PENDING',
      phase: 'Copy snapshot',
      executionArn: 'arn:aws:states:us-east-1:123456789012:execution:sm:e1',
      updatedAt: at(3),
      createdAt: at(0),
    });
    expect(await store.getJob('j1')).toEqual(updated);
  });

  it('runs PENDING -> RUNNING -> SUCCEEDED, stamping startedAt once and endedAt', async () => {
    await store.createJob(newJob('j1'));
    advance(10);
    expect(await store.transition('j1', 'RUNNING', { phase: 'Copy snapshot' })).toMatchObject({
      state: 'RUNNING',
      phase: 'Copy snapshot',
      startedAt: at(10),
      updatedAt: at(10),
    });
    advance(10);
    expect(await store.transition('j1', 'RUNNING', { phase: 'Stream' })).toMatchObject({
      state: 'RUNNING',
      phase: 'Stream',
      startedAt: at(10),
      updatedAt: at(20),
    });
    advance(10);
    const done = await store.transition('j1', 'SUCCEEDED', { phase: 'Done' });
    expect(done).toMatchObject({ state: 'SUCCEEDED', phase: 'Done', startedAt: at(10), endedAt: at(30) });
    expect(await store.getJob('j1')).toEqual(done);
  });

  it('records error and cause on FAILED', async () => {
    await store.createJob(newJob('j1', { state: 'RUNNING' }));
    const failed = await store.transition('j1', 'FAILED', {
      error: 'The target ran out of disk; free space and start again.',
      cause: 'could not extend file',
    });
    expect(failed).toMatchObject({
      state: 'FAILED',
      startedAt: at(0),
      endedAt: at(0),
      error: 'The target ran out of disk; free space and start again.',
      cause: 'could not extend file',
    });
  });

  it.each(['SUCCEEDED', 'FAILED', 'CANCELLED'] as const)('never changes a job that finished as %s', async (final) => {
    await store.createJob(newJob('j1'));
    await store.updateDatabaseProgress('j1', 'app', progress());
    await store.transition('j1', 'RUNNING');
    const finished = await store.transition('j1', final);
    advance(60);
    const refused = await store.transition('j1', 'RUNNING').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(JobAlreadyFinishedError);
    expect(refused).toMatchObject({
      jobId: 'j1',
      state: final,
      message: `Job j1 has already finished as ${final} and can no longer change; start a new job to run it again.`,
    });
    await expect(store.transition('j1', 'PENDING')).rejects.toThrow(JobAlreadyFinishedError);
    await expect(store.transition('j1', final)).rejects.toThrow(JobAlreadyFinishedError);
    await expect(store.updateJob('j1', { phase: 'late retry' })).rejects.toThrow(JobAlreadyFinishedError);
    await expect(store.updateDatabaseProgress('j1', 'app', progress({ tablesDone: 2 }))).rejects.toThrow(
      JobAlreadyFinishedError,
    );
    expect(await store.getJob('j1')).toEqual(finished);
  });

  it('lets a new execution reopen a FAILED job, but not the execution that failed it, nor a job that succeeded', async () => {
    const first = 'arn:aws:states:eu-west-1:123456789012:execution:replicate:shop-1';
    const second = 'arn:aws:states:eu-west-1:123456789012:execution:replicate:shop-2';
    await store.createJob(newJob('j1', { state: 'RUNNING', executionArn: first }));
    await store.updateDatabaseProgress('j1', 'app', progress({ tablesDone: 2, tablesTotal: 5 }));
    await store.transition('j1', 'FAILED', { error: 'The task stopped.', cause: 'SIGTERM' });
    const late = await store.reopen('j1', first, 'Checks').catch((e: unknown) => e);
    expect(late).toBeInstanceOf(JobAlreadyFinishedError);
    advance(30);
    const reopened = await store.reopen('j1', second, 'Checks');
    expect(reopened).toMatchObject({
      state: 'RUNNING',
      phase: 'Checks',
      executionArn: second,
      startedAt: at(0),
      updatedAt: at(30),
      databases: { app: expect.objectContaining({ tablesDone: 2, tablesTotal: 5 }) },
    });
    expect(reopened.error).toBeUndefined();
    expect(reopened.cause).toBeUndefined();
    expect(reopened.endedAt).toBeUndefined();
    await expect(
      store.reopen('j1', 'arn:aws:states:eu-west-1:123456789012:execution:replicate:shop-3', 'Checks'),
    ).rejects.toThrow(InvalidTransitionError);
    const done = await store.transition('j1', 'SUCCEEDED');
    await expect(
      store.reopen('j1', 'arn:aws:states:eu-west-1:123456789012:execution:replicate:shop-4', 'Checks'),
    ).rejects.toThrow(JobAlreadyFinishedError);
    expect(await store.getJob('j1')).toEqual(done);
    await expect(store.reopen('missing', second, 'Checks')).rejects.toThrow(JobNotFoundError);
  });

  it('does not move a RUNNING job back to PENDING', async () => {
    await store.createJob(newJob('j1', { state: 'RUNNING' }));
    const before = await store.getJob('j1');
    advance(1);
    await expect(store.transition('j1', 'PENDING')).rejects.toThrow(InvalidTransitionError);
    await expect(store.transition('j1', 'PENDING')).rejects.toThrow('Job j1 cannot go from RUNNING to PENDING;');
    expect(await store.getJob('j1')).toEqual(before);
  });

  it('keeps every database when several update their progress at once', async () => {
    await store.createJob(newJob('j1'));
    const names = ['app', 'billing', 'audit', 'my.db', 'x y', 'secret', 'reports', 'users'];
    await Promise.all(
      names.map((name, i) => store.updateDatabaseProgress('j1', name, progress({ rowsCopied: i, lagBytes: i * 10 }))),
    );
    const job = await store.getJob('j1');
    expect(Object.keys(job?.databases ?? {}).sort()).toEqual([...names].sort());
    expect(job?.databases['billing']).toEqual({ ...progress({ rowsCopied: 1, lagBytes: 10 }), updatedAt: at(0) });
    advance(2);
    const after = await store.updateDatabaseProgress('j1', 'app', progress({ state: 'SUCCEEDED', tablesDone: 4 }));
    expect(after.databases['app']).toEqual({ ...progress({ state: 'SUCCEEDED', tablesDone: 4 }), updatedAt: at(2) });
    expect(after.databases['users']?.rowsCopied).toBe(7);
    expect(after.updatedAt).toBe(at(2));
  });

  it('lists steps oldest first, replaces a step put again, and computes seconds', async () => {
    await store.putStep(step({ step: 'data', database: 'app', startedAt: at(20) }));
    await store.putStep(step({ step: 'schema', database: 'app', startedAt: at(10) }));
    await store.putStep(step({ step: 'data', database: 'billing', startedAt: at(20) }));
    await store.putStep(step({ jobId: 'j2', step: 'other job', startedAt: at(0) }));
    // The same step ends: same startedAt, name and database.
    const ended = await store.putStep(
      step({
        step: 'schema',
        database: 'app',
        startedAt: at(10),
        state: 'SUCCEEDED',
        endedAt: at(12.5),
        detail: '12 tables',
      }),
    );
    expect(ended.seconds).toBe(2.5);
    const steps = await store.listSteps('j1');
    expect(steps.map((s) => `${s.step}/${s.database}/${s.state}`)).toEqual([
      'schema/app/SUCCEEDED',
      'data/app/RUNNING',
      'data/billing/RUNNING',
    ]);
    expect(steps[0]).toEqual(ended);
    expect(await store.listSteps('none')).toEqual([]);
  });

  it('lists verify runs newest first, as many as asked', async () => {
    await store.createJob(newJob('j1'));
    await store.transition('j1', 'SUCCEEDED');
    // Scheduled verify runs keep coming after the job finished.
    await store.putVerifyRun(run('r2', at(3600)));
    await store.putVerifyRun(run('r1', at(0)));
    await store.putVerifyRun({
      ...run('r3', at(7200)),
      outcome: 'different',
      tables: { ...counts, equal: 2, different: 1 },
      differences: 4,
    });
    expect((await store.listVerifyRuns('j1')).map((r) => r.runId)).toEqual(['r3', 'r2', 'r1']);
    const latest = await store.listVerifyRuns('j1', { limit: 2 });
    expect(latest.map((r) => r.runId)).toEqual(['r3', 'r2']);
    expect(latest[0]).toMatchObject({ outcome: 'different', differences: 4, tables: { different: 1 } });
    await expect(store.listVerifyRuns('j1', { limit: 0 })).rejects.toThrow(InvalidJobRecordError);
  });

  it('lists jobs newest first', async () => {
    await store.createJob(newJob('a'));
    advance(1);
    await store.createJob(newJob('b'));
    advance(1);
    await store.createJob(newJob('c'));
    await store.putStep(step({ jobId: 'c' }));
    expect((await store.listJobs()).map((j) => j.jobId)).toEqual(['c', 'b', 'a']);
    expect((await store.listJobs({ limit: 2 })).map((j) => j.jobId)).toEqual(['c', 'b']);
  });

  it('refuses invalid input before writing anything', async () => {
    await expect(store.createJob(newJob('../escape'))).rejects.toThrow(InvalidJobRecordError);
    await expect(store.getJob('a/b')).rejects.toThrow(InvalidJobRecordError);
    await store.createJob(newJob('j1'));
    await expect(store.updateDatabaseProgress('j1', 'app', progress({ tablesDone: -1 }))).rejects.toThrow(/tablesDone/);
    await expect(store.transition('j1', 'DONE' as 'SUCCEEDED')).rejects.toThrow(InvalidJobRecordError);
    await expect(store.putStep(step({ startedAt: 'yesterday' }))).rejects.toThrow(
      /startedAt: expected an ISO 8601 UTC time/,
    );
    expect(await store.getJob('j1')).toMatchObject({ state: 'PENDING', databases: {} });
  });

  describe('secret guard', () => {
    it('refuses a connection URL with a password and names the field, never the value', async () => {
      const job = newJob('j1', { source: { description: 'postgres://app:hunter2@db.example.com:5432/app' } });
      const error = await store.createJob(job).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SecretInRecordError);
      expect((error as Error).message).toBe(
        'Refusing to store the job because source.description holds a URL with a password; record a secret ARN or a redacted host:port/db instead of credentials.',
      );
      expect(await store.getJob('j1')).toBeUndefined();
    });

    it('accepts a URL whose password was masked by redact()', async () => {
      const job = await store.createJob(
        newJob('j1', { source: { description: 'postgresql://app:***@db.example.com:5432/app' } }),
      );
      expect((await store.getJob('j1'))?.source.description).toBe(job.source.description);
    });

    it('refuses a field named password or secret anywhere', async () => {
      const job = { ...newJob('j1'), target: { description: 'db:5432/app', Password: 'hunter2' } } as NewJob;
      await expect(store.createJob(job)).rejects.toThrow(/because target\.Password is a field named like a password/);
      await store.createJob(newJob('j1'));
      const run1 = { ...run('r1', at(0)), details: { clientSecret: 'abc' } } as VerifyRunRecord;
      await expect(store.putVerifyRun(run1)).rejects.toThrow(SecretInRecordError);
      expect(await store.listVerifyRuns('j1')).toEqual([]);
    });

    it('refuses secrets in progress, steps and errors, and leaves the record as it was', async () => {
      await store.createJob(newJob('j1', { state: 'RUNNING' }));
      const before = await store.getJob('j1');
      advance(1);
      await expect(
        store.updateDatabaseProgress('j1', 'app', progress({ phase: 'copy from postgresql://u:pw@h/app' })),
      ).rejects.toThrow(SecretInRecordError);
      await expect(
        store.transition('j1', 'FAILED', { error: 'pg_dump failed', cause: 'PGPASSWORD=hunter2 pg_dump -h h' }),
      ).rejects.toThrow(/cause holds a password=/);
      await expect(store.updateJob('j1', { phase: 'connect host=h password=hunter2' })).rejects.toThrow(
        SecretInRecordError,
      );
      await expect(store.putStep(step({ detail: '{"password": "hunter2"}' }))).rejects.toThrow(SecretInRecordError);
      expect(await store.getJob('j1')).toEqual(before);
      expect(await store.listSteps('j1')).toEqual([]);
    });
  });
});

describe('DynamoDbJobStore items', () => {
  const item = async (tableName: string, pk: string, sk: string) =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: { pk, sk } }))).Item;

  it('keys items by job and record kind; steps and verify runs expire 90 days after their write', async () => {
    const tableName = await newTable();
    const store = new DynamoDbJobStore({ client: doc, tableName, now });
    await store.createJob(newJob('j1'));
    expect(await item(tableName, 'JOB#j1', 'JOB')).toMatchObject({ jobId: 'j1', state: 'PENDING' });
    advance(86_400);
    await store.putStep(step({ step: 'data', database: 'app' }));
    expect(await item(tableName, 'JOB#j1', `STEP#${at(0)}#data#app`)).toMatchObject({
      step: 'data',
      expiresAt: T0 / 1000 + 91 * 86_400,
    });
    await store.putVerifyRun(run('r 1', at(5)));
    expect(await item(tableName, 'JOB#j1', `VERIFY#${at(5)}#r%201`)).toMatchObject({
      runId: 'r 1',
      expiresAt: T0 / 1000 + 91 * 86_400,
    });
  });

  it('never expires the job item while its replication may run (RUNNING, FAILED, SUCCEEDED), only once it is cleaned up or cancelled', async () => {
    const tableName = await newTable();
    const store = new DynamoDbJobStore({ client: doc, tableName, now });
    const expiry = async (jobId: string) => (await item(tableName, `JOB#${jobId}`, 'JOB'))?.expiresAt;
    await store.createJob(newJob('j1'));
    await store.transition('j1', 'RUNNING', { phase: 'Copy' });
    await store.updateDatabaseProgress('j1', 'app', progress());
    expect(await expiry('j1')).toBeUndefined();
    // A SUCCEEDED job replicates and is never written again: no TTL may delete it meanwhile.
    await store.transition('j1', 'SUCCEEDED', { phase: 'Replicating' });
    expect(await expiry('j1')).toBeUndefined();
    advance(200 * 86_400);
    await store.startRetention('j1');
    expect(await expiry('j1')).toBe(T0 / 1000 + 290 * 86_400);
    expect(await store.getJob('j1')).toMatchObject({ state: 'SUCCEEDED' });

    await store.createJob(newJob('j2'));
    await store.transition('j2', 'FAILED', { phase: 'Failed' });
    expect(await expiry('j2')).toBeUndefined();
    await store.createJob(newJob('j3'));
    await store.transition('j3', 'CANCELLED', { phase: 'Cleaned up' });
    expect(await expiry('j3')).toBe(T0 / 1000 + 290 * 86_400);
    // No job: nothing to expire, and no error.
    await expect(store.startRetention('nobody')).resolves.toBeUndefined();
  });

  it('clears an expiry an earlier version set when the job is written again', async () => {
    const tableName = await newTable();
    const store = new DynamoDbJobStore({ client: doc, tableName, now });
    await store.createJob(newJob('j1'));
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { pk: 'JOB#j1', sk: 'JOB' },
        UpdateExpression: 'SET expiresAt = :e',
        ExpressionAttributeValues: { ':e': 1 },
      }),
    );
    await store.transition('j1', 'RUNNING', { phase: 'Copy' });
    expect((await item(tableName, 'JOB#j1', 'JOB'))?.expiresAt).toBeUndefined();
  });

  it('takes the retention in days from its options', async () => {
    const tableName = await newTable();
    const store = new DynamoDbJobStore({ client: doc, tableName, now, retentionDays: 7 });
    await store.createJob(newJob('j1'));
    await store.startRetention('j1');
    expect((await item(tableName, 'JOB#j1', 'JOB'))?.expiresAt).toBe(T0 / 1000 + 7 * 86_400);
    expect(() => new DynamoDbJobStore({ client: doc, tableName, retentionDays: 0 })).toThrow(InvalidJobRecordError);
  });

  it('passes other DynamoDB errors through unchanged', async () => {
    const store = new DynamoDbJobStore({ client: doc, tableName: 'no-such-table', now });
    await expect(store.createJob(newJob('j1'))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(store.updateJob('j1', { phase: 'x' })).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
