import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalFileJobStore } from '../../../src/jobs/index.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { DatabaseRecorder } from '../../../src/task/recorder.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let dir: string;
let store: LocalFileJobStore;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dbr-recorder-'));
  store = new LocalFileJobStore(dir);
  await store.createJob({ jobId: 'j', source: { description: 's' }, target: { description: 't' }, state: 'RUNNING' });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('DatabaseRecorder', () => {
  it('writes changes as they come, at most once per throttle, the last one when the throttle allows, and all when flushed', async () => {
    const recorder = new DatabaseRecorder({
      store,
      jobId: 'j',
      database: 'shop',
      logger: silentLogger,
      throttleMs: 300,
    });
    const written = async () => (await store.getJob('j'))!.databases.shop;
    recorder.set({ phase: 'Copy snapshot' });
    await recorder.flush();
    expect(await written()).toMatchObject({ phase: 'Copy snapshot', tablesDone: 0 });
    try {
      recorder.set({ tablesDone: 3, tablesTotal: 9 });
      recorder.set({ tablesDone: 4 });
      await sleep(40);
      // Within the throttle: the store still has the first write.
      expect(await written()).toMatchObject({ tablesDone: 0 });
      // Once the throttle allows it, the latest change goes out without another event.
      await sleep(360);
      expect(await written()).toMatchObject({ tablesDone: 4, tablesTotal: 9 });

      recorder.set({ tablesDone: 5 });
      await sleep(20);
      expect((await written())!.tablesDone).toBe(4);
      await recorder.flush();
      expect((await written())!.tablesDone).toBe(5);
    } finally {
      recorder.stop();
    }
    // Stopped: a change waits for a flush.
    recorder.set({ tablesDone: 6 });
    await sleep(400);
    expect((await written())!.tablesDone).toBe(5);
    await recorder.flush();
    expect((await written())!.tablesDone).toBe(6);
  });

  it('stops writing, without failing, once the job has finished', async () => {
    await store.transition('j', 'SUCCEEDED');
    const recorder = new DatabaseRecorder({
      store,
      jobId: 'j',
      database: 'shop',
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
