// What only the local store has: its files, its lock, and the init checkpoint beside the record.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidJobRecordError, LocalFileJobStore, type InitCheckpoint, type NewJob } from '../../../src/jobs/index.ts';

const run = promisify(execFile);
const STORE_MODULE = new URL('../../../src/jobs/index.ts', import.meta.url).href;

const job: NewJob = { jobId: 'j1', source: { description: 'a:5432/app' }, target: { description: 'b:5432/app' } };
const progress = {
  state: 'RUNNING' as const,
  phase: 'Copy snapshot',
  tablesDone: 0,
  tablesTotal: 1,
  rowsCopied: 0,
  bytesCopied: 0,
};

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

/** Fails unless `pending` is still unsettled 100 ms on; returns it (wrapped), to be awaited once the lock goes. */
async function stillWaitingAfter100ms<T>(pending: Promise<T>): Promise<{ pending: Promise<T> }> {
  let settled = false;
  pending.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setTimeout(r, 100));
  expect(settled).toBe(false);
  return { pending };
}

/** A checkpoint of job j1 with no database yet. */
function emptyCheckpoint(noSync: boolean): InitCheckpoint {
  return {
    version: 1,
    jobId: 'j1',
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    source: 'a:5432/app',
    target: 'b:5432/app',
    filters: {},
    noSync,
    timeFilters: [],
    databases: {},
  };
}

describe('LocalFileJobStore files', () => {
  let dir: string;
  let store: LocalFileJobStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'local-store-'));
    store = new LocalFileJobStore(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes owner-only files under <dir>/status/<jobId>/ and leaves no temporary file or lock behind', async () => {
    await store.createJob(job);
    await Promise.all(['a', 'b', 'c'].map((db) => store.updateDatabaseProgress('j1', db, progress)));
    await store.putStep({ jobId: 'j1', step: 'schema', state: 'SUCCEEDED', startedAt: '2025-01-01T00:00:00.000Z' });
    await store.putVerifyRun({
      jobId: 'j1',
      runId: 'r1',
      startedAt: '2025-01-01T00:00:00.000Z',
      outcome: 'equal',
      tables: { total: 1, equal: 1, different: 0, unconfirmed: 0, error: 0 },
      differences: 0,
    });
    const files = allFiles(dir)
      .map((f) => f.slice(dir.length + 1))
      .sort();
    expect(files).toHaveLength(3);
    expect(files[0]).toBe(join('status', 'j1', 'job.json'));
    expect(files[1]).toMatch(/^status\/j1\/steps\/2025-01-01T000000000Z-[0-9a-f]{16}\.json$/);
    expect(files[2]).toMatch(/^status\/j1\/verify\/2025-01-01T000000000Z-[0-9a-f]{16}\.json$/);
    for (const file of allFiles(dir)) expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'status', 'j1')).mode & 0o777).toBe(0o700);
  });

  it('keeps the init checkpoint beside the record: removing the checkpoint leaves the record, steps and verify runs', async () => {
    const record = await store.createJob(job);
    await store.putStep({ jobId: 'j1', step: 'init', state: 'SUCCEEDED', startedAt: '2025-01-01T00:00:00.000Z' });
    await store.saveCheckpoint('j1', emptyCheckpoint(false));
    expect(await store.getCheckpoint('j1')).toMatchObject({ version: 1, jobId: 'j1' });
    expect(await store.listJobs()).toEqual([record]);
    store.filesDir('j1');
    await store.removeCheckpoint('j1'); // what clean-up does
    expect(await store.getCheckpoint('j1')).toBeUndefined();
    expect(await store.getJob('j1')).toEqual(record);
    expect(await store.listSteps('j1')).toHaveLength(1);
  });

  it('reads, and cleanup removes, a checkpoint an earlier version left in <dir>/jobs', async () => {
    await store.createJob(job);
    mkdirSync(join(dir, 'jobs', 'j1'), { recursive: true });
    const legacy = { version: 1, jobId: 'j1', databases: { app: { slot: 'dbr_j1_app' } } };
    writeFileSync(join(dir, 'jobs', 'j1.json'), JSON.stringify(legacy));
    expect(await store.getCheckpoint('j1')).toMatchObject(legacy);
    await store.removeCheckpoint('j1');
    expect(existsSync(join(dir, 'jobs', 'j1.json'))).toBe(false);
    expect(existsSync(join(dir, 'jobs', 'j1'))).toBe(false);
  });

  it('starts a finished job over as a new run: a new RUNNING record, no checkpoint, the steps kept; an unfinished job stays as it is', async () => {
    const created = await store.createJob({ ...job, state: 'RUNNING' });
    expect(await store.startOver('j1', 'Copy snapshot')).toEqual(created);
    await store.saveCheckpoint('j1', emptyCheckpoint(true));
    await store.putStep({ jobId: 'j1', step: 'init', state: 'SUCCEEDED', startedAt: '2025-01-01T00:00:00.000Z' });
    await store.transition('j1', 'SUCCEEDED', { phase: 'Snapshot copied' });
    const renewed = await store.startOver('j1', 'Copy snapshot');
    expect(renewed).toMatchObject({ jobId: 'j1', state: 'RUNNING', phase: 'Copy snapshot', source: job.source });
    expect(renewed.endedAt).toBeUndefined();
    expect(await store.getJob('j1')).toEqual(renewed);
    expect(await store.getCheckpoint('j1')).toBeUndefined();
    expect(await store.listSteps('j1')).toHaveLength(1);
  });

  it('waits for a lock held by another writer, then applies the update', async () => {
    await store.createJob(job);
    const lock = join(dir, 'status', 'j1', '.lock');
    // A process of this machine that runs: this one.
    writeFileSync(lock, `${process.pid}@${hostname()}\n`);
    const { pending: update } = await stillWaitingAfter100ms(store.updateJob('j1', { phase: 'after the lock' }));
    expect((await store.getJob('j1'))?.phase).toBe('');
    rmSync(lock);
    expect((await update).phase).toBe('after the lock');
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over a lock of another machine once it is older than any write takes', async () => {
    await store.createJob(job);
    const lock = join(dir, 'status', 'j1', '.lock');
    writeFileSync(lock, '12345@another-host\n');
    const { pending: update } = await stillWaitingAfter100ms(store.updateJob('j1', { phase: 'recovered' }));
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(lock, minuteAgo, minuteAgo);
    expect((await update).phase).toBe('recovered');
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over at once a lock left by a process of this machine that was killed while writing', async () => {
    await store.createJob(job);
    const ended = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => ended.on('exit', resolve));
    const lock = join(dir, 'status', 'j1', '.lock');
    writeFileSync(lock, `${ended.pid}@${hostname()}\n`);
    const started = Date.now();
    expect((await store.updateJob('j1', { phase: 'recovered' })).phase).toBe('recovered');
    // Not the STALE_LOCK_MS wait a lock of unknown owner gets.
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(existsSync(lock)).toBe(false);
  });

  it('keeps every database when several processes write progress at once', async () => {
    await store.createJob(job);
    const writer = (n: number) => `
      import { LocalFileJobStore } from ${JSON.stringify(STORE_MODULE)};
      const store = new LocalFileJobStore(${JSON.stringify(dir)});
      const progress = ${JSON.stringify(progress)};
      for (let i = 0; i < 15; i++) await store.updateDatabaseProgress('j1', 'p${n}-' + i, { ...progress, rowsCopied: i });
    `;
    await Promise.all([0, 1, 2, 3].map((n) => run(process.execPath, ['--input-type=module', '-e', writer(n)])));
    const databases = (await store.getJob('j1'))?.databases ?? {};
    expect(Object.keys(databases)).toHaveLength(60);
    expect(databases['p3-14']?.rowsCopied).toBe(14);
  });

  it('reports a damaged job file with its path', async () => {
    mkdirSync(join(dir, 'status', 'j1'), { recursive: true });
    writeFileSync(join(dir, 'status', 'j1', 'job.json'), JSON.stringify({ jobId: 'j1', state: 'DONE' }));
    const error = await store.getJob('j1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidJobRecordError);
    expect((error as Error).message).toBe(
      `The job store file ${join(dir, 'status', 'j1', 'job.json')} does not hold a valid record; remove it, or restore it from a backup.`,
    );
  });

  it('lists nothing from an empty or missing folder, and skips step folders of jobs never created', async () => {
    expect(await store.listJobs()).toEqual([]);
    await store.putStep({ jobId: 'orphan', step: 'schema', state: 'RUNNING', startedAt: '2025-01-01T00:00:00.000Z' });
    expect(await store.listJobs()).toEqual([]);
    expect(await store.listSteps('orphan')).toHaveLength(1);
  });
});
