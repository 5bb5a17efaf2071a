import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CommandRecord, localJobStore, readJobRecord } from '../../../src/cli/job-record.ts';
import { parseConnectionUrl } from '../../../src/connection/url.ts';
import type { JobStore } from '../../../src/jobs/store.ts';
import { createLogger } from '../../../src/log/logger.ts';

const dir = mkdtempSync(join(tmpdir(), 'dbr-record-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const source = parseConnectionUrl('postgresql://app:Sup3r-Secret-Pw@db.example.com:5432/shop');
const target = parseConnectionUrl('postgresql://admin:0ther-Secret-Pw@10.0.0.12/shop');

function record(store: JobStore, command: string, jobId = 'j1', lines: string[] = []) {
  return new CommandRecord({
    store,
    jobId,
    command,
    source,
    target,
    logger: createLogger('info', (l) => lines.push(l)),
    throttleMs: 0,
  });
}

describe('the CLI job record', () => {
  it('records a failed command as a failed step and keeps the job resumable, then its success', async () => {
    const store = localJobStore(join(dir, 'a'));
    const init = record(store, 'init');
    await init.begin('Copy snapshot');
    init.copyProgress({
      database: 'shop',
      bytesDone: 100,
      bytesTotal: 1000,
      tablesDone: 1,
      tablesTotal: 3,
      rowsDone: 10,
    });
    await init.failed(new Error('Copying public.orders failed: connection lost'));
    let seen = await readJobRecord(store, 'j1');
    expect(seen!.job).toMatchObject({
      state: 'RUNNING',
      phase: 'init failed: Copying public.orders failed: connection lost',
      source: { description: 'app@db.example.com:5432/shop' },
    });
    expect(seen!.job.databases.shop).toMatchObject({
      state: 'RUNNING',
      tablesDone: 1,
      tablesTotal: 3,
      rowsCopied: 10,
      bytesCopied: 100,
    });
    expect(seen!.steps.map((s) => [s.step, s.state, s.detail])).toEqual([
      ['init', 'FAILED', 'Copying public.orders failed: connection lost'],
    ]);

    const again = record(store, 'init');
    await again.begin('Copy snapshot');
    await again.succeeded('Snapshot copied (--no-sync: no replication)', 'SUCCEEDED');
    seen = await readJobRecord(store, 'j1');
    expect(seen!.job.state).toBe('SUCCEEDED');
    expect(seen!.steps.map((s) => `${s.step} ${s.state}`)).toEqual(['init FAILED', 'init SUCCEEDED']);
    // A finished job keeps its state; later commands add steps only.
    const cleanup = record(store, 'cleanup');
    await cleanup.begin('Clean up');
    await cleanup.succeeded('Cleaned up', 'CANCELLED');
    seen = await readJobRecord(store, 'j1');
    expect(seen!.job.state).toBe('SUCCEEDED');
    expect(seen!.steps.at(-1)).toMatchObject({ step: 'cleanup', state: 'SUCCEEDED' });
    expect(JSON.stringify(seen)).not.toMatch(/Secret-Pw/);
  });

  it('warns once and goes on when the record cannot be written', async () => {
    const broken = {
      getJob: async () => {
        throw new Error('disk full');
      },
      putStep: async () => {
        throw new Error('disk full');
      },
    } as unknown as JobStore;
    const lines: string[] = [];
    const r = record(broken, 'sync', 'j2', lines);
    await r.begin('Create subscription');
    await r.succeeded('Streaming changes');
    expect(lines).toEqual(['warn: the job record in the state folder was not updated (disk full)']);
  });

  it('records the tables in flight with the copy progress, and drops them once every table is copied', async () => {
    const store = localJobStore(join(dir, 'c'));
    const init = record(store, 'init', 'j3');
    await init.begin('Copy snapshot');
    const copying = [
      { table: 'public.orders', rows: 10, bytesDone: 100, bytesExpected: 1000, startedAt: '2026-01-01T00:00:00.000Z' },
    ];
    init.copyProgress({
      database: 'shop',
      bytesDone: 100,
      bytesTotal: 1000,
      tablesDone: 0,
      tablesTotal: 2,
      rowsDone: 0,
      copying,
    });
    await init.database('other', {
      state: 'RUNNING',
      phase: 'x',
      tablesDone: 0,
      tablesTotal: 0,
      rowsCopied: 0,
      bytesCopied: 0,
    });
    expect((await readJobRecord(store, 'j3'))!.job.databases.shop).toMatchObject({ phase: 'Copy data', copying });
    init.copyProgress({
      database: 'shop',
      bytesDone: 1000,
      bytesTotal: 1000,
      tablesDone: 2,
      tablesTotal: 2,
      rowsDone: 20,
      copying: [{ ...copying[0]!, seconds: 1 }],
    });
    await init.database('other', {
      state: 'RUNNING',
      phase: 'x',
      tablesDone: 0,
      tablesTotal: 0,
      rowsCopied: 0,
      bytesCopied: 0,
    });
    const done = (await readJobRecord(store, 'j3'))!.job.databases.shop!;
    expect(done).toMatchObject({ tablesDone: 2, rowsCopied: 20 });
    expect(done.copying).toBeUndefined();
  });
});
