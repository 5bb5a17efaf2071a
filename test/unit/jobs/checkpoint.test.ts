// Init's checkpoint in both job stores: kept apart per database and from the progress entries,
// written under the rules of every write (the job exists and is not finished, no secret), packed
// and bounded in DynamoDB; and the writer that keeps saves in order.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  CheckpointWriter,
  DynamoDbJobStore,
  JobAlreadyFinishedError,
  JobNotFoundError,
  LocalFileJobStore,
  MAX_PACKED_CHECKPOINT,
  SecretInRecordError,
  packCheckpoint,
  unpackCheckpoint,
  type InitCheckpoint,
  type JobStore,
  type NewJob,
} from '../../../src/jobs/index.ts';
import { startDynalite, type Dynalite } from '../../support/job-table.ts';

const newJob = (jobId: string): NewJob => ({
  jobId,
  source: { description: 'source.example.com:5432/app' },
  target: { description: 'target.example.com:5432/app' },
  state: 'RUNNING',
});

const checkpoint = (databases: string[], copied: Record<string, number> = {}): InitCheckpoint => ({
  version: 1,
  jobId: 'j1',
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  source: 'source.example.com:5432',
  target: 'target.example.com:5432',
  filters: {},
  noSync: false,
  timeFilters: [],
  databases: Object.fromEntries(
    databases.map((db) => [
      db,
      {
        source: db,
        target: db,
        createdTargetDatabase: true,
        publication: `dbr_j1_${db}`,
        slot: `dbr_j1_${db}`,
        slotCreated: true,
        consistentPoint: '0/16B3748',
        steps: { schema: { seconds: 1.5 } },
        copied: Object.fromEntries(
          Object.entries(copied).map(([t, rows]) => [t, { rows, bytes: rows * 10, seconds: 1 }]),
        ),
        done: false,
      },
    ]),
  ),
});

let dynamo: Dynalite;
let tables = 0;
const folders: string[] = [];

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.close();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

const localStore = () => {
  const dir = mkdtempSync(join(tmpdir(), 'checkpoint-'));
  folders.push(dir);
  return new LocalFileJobStore(dir);
};
const implementations: [string, () => Promise<JobStore>][] = [
  [
    'DynamoDbJobStore',
    async () => new DynamoDbJobStore({ client: dynamo.doc, tableName: await dynamo.createJobTable(`cp-${++tables}`) }),
  ],
  ['LocalFileJobStore', async () => localStore()],
];

describe.each(implementations)('%s checkpoints', (_name, create) => {
  it('keeps the whole job’s and each database’s checkpoint apart, and apart from the progress entries', async () => {
    const store = await create();
    await store.createJob(newJob('j1'));
    expect(await store.getCheckpoint('j1')).toBeUndefined();
    await store.saveCheckpoint('j1', checkpoint(['shop', 'crm']));
    await store.saveCheckpoint('j1', checkpoint(['shop'], { 'public.orders': 5 }), 'shop');
    await store.saveCheckpoint('j1', checkpoint(['crm']), 'crm');
    await store.updateDatabaseProgress('j1', 'shop', {
      state: 'RUNNING',
      phase: 'Copy data',
      tablesDone: 1,
      tablesTotal: 2,
      rowsCopied: 5,
      bytesCopied: 50,
    });
    expect(Object.keys((await store.getCheckpoint('j1'))!.databases)).toEqual(['shop', 'crm']);
    expect((await store.getCheckpoint('j1', 'shop'))!.databases.shop!.copied).toEqual({
      'public.orders': { rows: 5, bytes: 50, seconds: 1 },
    });
    expect(Object.keys((await store.getCheckpoint('j1', 'crm'))!.databases)).toEqual(['crm']);
    // The job record shows progress, never a checkpoint.
    const job = (await store.getJob('j1'))!;
    expect(JSON.stringify(job)).not.toContain('consistentPoint');
    expect(job.databases.shop).toMatchObject({ tablesDone: 1, rowsCopied: 5 });

    await store.saveCheckpoint('j1', checkpoint(['shop'], { 'public.orders': 5, 'public.items': 7 }), 'shop');
    expect(Object.keys((await store.getCheckpoint('j1', 'shop'))!.databases.shop!.copied)).toHaveLength(2);
    await store.removeCheckpoint('j1', 'shop');
    expect(await store.getCheckpoint('j1', 'shop')).toBeUndefined();
    expect(await store.getCheckpoint('j1', 'crm')).toBeDefined();
    await store.removeCheckpoint('j1');
    expect(await store.getCheckpoint('j1')).toBeUndefined();
    await expect(store.removeCheckpoint('nobody')).resolves.toBeUndefined();
  });

  it('writes no checkpoint for a job that does not exist or has finished, but removes one in any state', async () => {
    const store = await create();
    await expect(store.saveCheckpoint('nobody', checkpoint(['shop']))).rejects.toThrow(JobNotFoundError);
    expect(await store.getCheckpoint('nobody')).toBeUndefined();

    await store.createJob(newJob('j1'));
    await store.saveCheckpoint('j1', checkpoint(['shop']), 'shop');
    await store.transition('j1', 'FAILED', { error: 'the copy failed' });
    await expect(store.saveCheckpoint('j1', checkpoint(['shop'], { 'public.late': 1 }), 'shop')).rejects.toThrow(
      JobAlreadyFinishedError,
    );
    expect((await store.getCheckpoint('j1', 'shop'))!.databases.shop!.copied).toEqual({});
    expect(await store.getJob('j1')).toMatchObject({ state: 'FAILED' });
    // Clean-up runs on finished jobs.
    await store.removeCheckpoint('j1', 'shop');
    expect(await store.getCheckpoint('j1', 'shop')).toBeUndefined();
  });

  it('refuses a checkpoint that holds a password, or is not a checkpoint, and keeps the one it had', async () => {
    const store = await create();
    await store.createJob(newJob('j1'));
    await store.saveCheckpoint('j1', checkpoint(['shop']));
    const leaky = checkpoint(['shop']);
    leaky.source = 'postgres://app:hunter2@source.example.com:5432/app';
    await expect(store.saveCheckpoint('j1', leaky)).rejects.toThrow(SecretInRecordError);
    await expect(store.saveCheckpoint('j1', { version: 2 } as unknown as InitCheckpoint)).rejects.toThrow(
      CheckpointError,
    );
    expect((await store.getCheckpoint('j1'))!.source).toBe('source.example.com:5432');
  });
});

describe('DynamoDbJobStore checkpoint attribute', () => {
  it('packs big checkpoints with gzip, refuses one over the limit, and leaves the item as it was', async () => {
    const tableName = await dynamo.createJobTable(`cp-${++tables}`);
    const store = new DynamoDbJobStore({ client: dynamo.doc, tableName });
    await store.createJob(newJob('j1'));
    const many = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`public.table_${i}`, i]));
    const big = checkpoint(['shop'], many);
    await store.saveCheckpoint('j1', big, 'shop');
    const item = (await dynamo.doc.send(new GetCommand({ TableName: tableName, Key: { pk: 'JOB#j1', sk: 'JOB' } })))
      .Item!;
    const stored = item['checkpoint#shop'] as string;
    expect(stored.startsWith('gz:')).toBe(true);
    expect(stored.length).toBeLessThan(JSON.stringify(big).length / 3);
    expect((await store.getCheckpoint('j1', 'shop'))!.databases.shop!.copied['public.table_1999']).toMatchObject({
      rows: 1999,
    });

    // Random table names do not compress: too big for the item even packed.
    const huge = checkpoint(
      ['shop'],
      Object.fromEntries(Array.from({ length: 8000 }, () => [`public.t_${randomBytes(24).toString('hex')}`, 1])),
    );
    expect(() => packCheckpoint('j1', huge)).toThrow(CheckpointError);
    await expect(store.saveCheckpoint('j1', huge, 'shop')).rejects.toThrow(
      new RegExp(`more than the job record holds \\(${MAX_PACKED_CHECKPOINT / 1000} KB\\)`),
    );
    expect(Object.keys((await store.getCheckpoint('j1', 'shop'))!.databases.shop!.copied)).toHaveLength(2000);
  });

  it('reads back what it packed, small as JSON, and refuses text that is not a checkpoint', () => {
    const small = checkpoint(['shop']);
    expect(packCheckpoint('j1', small)).toBe(JSON.stringify(small));
    expect(unpackCheckpoint('j1', packCheckpoint('j1', small))).toEqual(small);
    expect(() => unpackCheckpoint('j1', 'gz:not-gzip')).toThrow(CheckpointError);
  });
});

describe('LocalFileJobStore checkpoint files', () => {
  it('writes the checkpoint as a 0600 file in the job’s folder, beside the files folder cleanup removes', async () => {
    const store = localStore();
    await store.createJob(newJob('j1'));
    await store.saveCheckpoint('j1', checkpoint(['shop']));
    const path = store.checkpointPath('j1');
    expect(path).toBe(join(store.root, 'j1', 'checkpoint.json'));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ version: 1, jobId: 'j1' });
    const files = store.filesDir('j1');
    expect(statSync(files).mode & 0o777).toBe(0o700);
    await store.removeCheckpoint('j1');
    expect(() => statSync(files)).toThrow();
    expect(await store.getJob('j1')).toMatchObject({ state: 'RUNNING' });
  });
});

describe('CheckpointWriter', () => {
  it('lands saves in the order they were made, each as it was when saved, and fails the next save after a lost one', async () => {
    const written: string[] = [];
    let fail = false;
    const gate: (() => void)[] = [];
    const store = {
      saveCheckpoint: async (_jobId: string, c: InitCheckpoint) => {
        // Each write waits until the test releases it.
        await new Promise<void>((resolve) => gate.push(resolve));
        if (fail) throw new Error('store unavailable');
        written.push(Object.keys(c.databases.shop!.copied).join(','));
      },
    } as unknown as JobStore;
    const writer = new CheckpointWriter(store, 'j1', 'shop');
    const state = checkpoint(['shop']);
    state.databases.shop!.copied.a = { rows: 1, bytes: 1, seconds: 1 };
    const first = writer.save(state);
    state.databases.shop!.copied.b = { rows: 1, bytes: 1, seconds: 1 };
    const second = writer.save(state);
    await new Promise((r) => setTimeout(r, 5));
    // The second waits for the first: only one write is in the store at a time.
    expect(gate).toHaveLength(1);
    const release = async () => {
      while (gate.length === 0) await new Promise((r) => setTimeout(r, 1));
      gate.shift()!();
    };
    await release();
    await first;
    await release();
    await second;
    expect(written).toEqual(['a', 'a,b']);

    fail = true;
    void writer.save(state);
    await release();
    await expect(writer.settled()).rejects.toThrow('store unavailable');
    await expect(writer.save(state)).rejects.toThrow('store unavailable');
    // One nobody waits for after the failure does not end the process either.
    void writer.save(state);
  });

  it('with the local store, has written the file when save returns', async () => {
    const store = localStore();
    await store.createJob(newJob('j1'));
    const writer = new CheckpointWriter(store, 'j1');
    void writer.save(checkpoint(['shop'], { 'public.orders': 3 }));
    expect(JSON.parse(readFileSync(store.checkpointPath('j1'), 'utf8')).databases.shop.copied).toHaveProperty(
      'public.orders',
    );
    await writer.settled();
  });
});
