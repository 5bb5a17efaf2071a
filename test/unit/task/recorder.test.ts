import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalFileJobStore } from '../../../src/jobs/index.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import type { JobState } from '../../../src/snapshot/state.ts';
import { decodeInitState, writeInitStateFile } from '../../../src/task/init-state.ts';
import { DatabaseRecorder } from '../../../src/task/recorder.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let dir: string;
let store: LocalFileJobStore;

const state = (slotCreated: boolean): JobState => ({
  version: 1,
  jobId: 'e1',
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '',
  source: 'a:1',
  target: 'b:1',
  filters: {},
  noSync: false,
  timeFilters: [],
  databases: {
    shop: {
      source: 'shop',
      target: 'shop',
      createdTargetDatabase: false,
      publication: 'p',
      slot: 's',
      slotCreated,
      steps: {},
      copied: {},
      done: false,
    },
  },
});

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dbr-recorder-'));
  store = new LocalFileJobStore(dir);
  await store.createJob({ jobId: 'j', source: { description: 's' }, target: { description: 't' }, state: 'RUNNING' });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('DatabaseRecorder', () => {
  it('throttles progress, writes state milestones at once, and writes everything when flushed', async () => {
    const recorder = new DatabaseRecorder({
      store,
      jobId: 'j',
      database: 'shop',
      stateDir: dir,
      engineJobId: 'e1',
      logger: silentLogger,
      throttleMs: 60_000,
      tickMs: 5,
    });
    recorder.set({ phase: 'Copy snapshot' });
    await recorder.flush();
    recorder.start();
    try {
      recorder.set({ tablesDone: 3, tablesTotal: 9 });
      await sleep(60);
      // Within the throttle: the store still has the first write.
      expect((await store.getJob('j'))!.databases.shop).toMatchObject({ tablesDone: 0, phase: 'Copy snapshot' });
      expect((await store.getJob('j'))!.databases.shop!.initState).toBeUndefined();

      writeInitStateFile(dir, state(true));
      await sleep(60);
      const entry = (await store.getJob('j'))!.databases.shop!;
      // The slot milestone went out at once, with the progress made so far.
      expect(decodeInitState(entry.initState!).databases.shop!.slotCreated).toBe(true);
      expect(entry.tablesDone).toBe(3);

      recorder.set({ tablesDone: 4 });
      await sleep(30);
      expect((await store.getJob('j'))!.databases.shop!.tablesDone).toBe(3);
      await recorder.flush();
      expect((await store.getJob('j'))!.databases.shop!.tablesDone).toBe(4);
    } finally {
      recorder.stop();
    }
  });

  it('stops writing, without failing, once the job has finished', async () => {
    await store.transition('j', 'SUCCEEDED');
    const recorder = new DatabaseRecorder({
      store,
      jobId: 'j',
      database: 'shop',
      stateDir: dir,
      engineJobId: 'e1',
      logger: silentLogger,
    });
    recorder.set({ phase: 'Clean up' });
    await expect(recorder.flush()).resolves.toBeUndefined();
    expect((await store.getJob('j'))!.databases).toEqual({});
  });

  it('keeps the tables in flight of the copy with its progress, tells the copy metrics, and drops the list when the copy is done', async () => {
    const heard: number[] = [];
    const recorder = new DatabaseRecorder({
      store,
      jobId: 'j',
      database: 'shop',
      stateDir: dir,
      engineJobId: 'e1',
      logger: silentLogger,
      onCopyProgress: (p) => heard.push(p.bytesDone),
    });
    const copying = [
      { table: 'public.orders', rows: 10, bytesDone: 100, bytesExpected: 1000, startedAt: '2026-01-01T00:00:00.000Z' },
    ];
    recorder.copyProgress({
      database: 'shop',
      bytesDone: 100,
      bytesTotal: 1000,
      tablesDone: 0,
      tablesTotal: 2,
      rowsDone: 0,
      copying,
    });
    await recorder.flush();
    expect((await store.getJob('j'))!.databases.shop).toMatchObject({ bytesCopied: 100, copying });
    recorder.copyProgress({
      database: 'shop',
      bytesDone: 1000,
      bytesTotal: 1000,
      tablesDone: 2,
      tablesTotal: 2,
      rowsDone: 20,
      copying,
    });
    await recorder.flush();
    expect((await store.getJob('j'))!.databases.shop!.copying).toBeUndefined();
    expect(heard).toEqual([100, 1000]);
  });
});
