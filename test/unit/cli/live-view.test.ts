import { describe, expect, it } from 'vitest';
import {
  bar,
  CLEAR_BELOW,
  CLEAR_LINE_END,
  CLEAR_SCREEN,
  CURSOR_HOME,
  liveViewFrame,
  liveViewLines,
  type LiveFrame,
} from '../../../src/cli/live-view.ts';

const at = new Date('2026-01-01T12:00:10.000Z');
const frame = (over: Partial<LiveFrame> = {}): LiveFrame => ({
  title: 'database-replicator status: job j1',
  header: ['Job j1: RUNNING - Copy snapshot'],
  now: at,
  intervalSeconds: 2,
  columns: 200,
  databases: [
    {
      database: 'shop',
      verdict: 'initializing',
      reason: 'init has not finished; run it again to resume',
      lagBytes: 2048,
      lagSeconds: null,
      walRetainedBytes: 5 * 1024 * 1024,
      tablesReady: 0,
      tablesTotal: 3,
      progress: {
        state: 'RUNNING',
        phase: 'Copy data',
        tablesDone: 1,
        tablesTotal: 3,
        rowsCopied: 1500,
        bytesCopied: 30 * 1024 * 1024,
        updatedAt: at.toISOString(),
        copying: [
          {
            table: 'public.orders',
            rows: 120_000,
            bytesDone: 20 * 1024 * 1024,
            bytesExpected: 80 * 1024 * 1024,
            startedAt: '2026-01-01T12:00:00.000Z',
          },
          {
            table: 'public.items',
            rows: 900,
            bytesDone: 1024 * 1024,
            bytesExpected: 4 * 1024 * 1024,
            startedAt: '2026-01-01T12:00:09.000Z',
          },
          {
            table: 'public.users',
            rows: 1500,
            bytesDone: 3 * 1024 * 1024,
            bytesExpected: 3 * 1024 * 1024,
            startedAt: '2026-01-01T12:00:00.000Z',
            seconds: 1.5,
          },
        ],
      },
    },
  ],
  ...over,
});

describe('live view', () => {
  it('draws a bar per table in flight with rows, MB/s and an ETA, and the finished ones', () => {
    const lines = liveViewLines(frame());
    expect(lines[0]).toBe('database-replicator status: job j1  2026-01-01T12:00:10Z  (every 2 s; Ctrl-C to stop)');
    expect(lines).toContain('shop: initializing  |  lag 2.0 kB  |  WAL retained 5.0 MB  |  tables 0/3 ready');
    expect(lines).toContain('  copy: 1/3 tables, 1,500 rows, 30.0 MB');
    // 20 MB in 10 s: 2 MB/s, 60 MB left: 30 s.
    expect(lines).toContain(
      `    public.orders ${bar(0.25)} 25%  120,000 rows, 20.0 MB of ~80.0 MB, 2.0 MB/s, ETA 30 s`,
    );
    expect(lines).toContain(`    public.items  ${bar(0.25)} 25%  900 rows, 1.0 MB of ~4.0 MB, 1.0 MB/s, ETA 3 s`);
    expect(lines).toContain(`    public.users  ${bar(1)} done  1,500 rows, 3.0 MB in 1.5 s, 2.0 MB/s`);
  });

  it('redraws in place: the first frame clears the screen, each line clears its rest, the frame what is below', () => {
    const first = liveViewFrame(frame(), true);
    const next = liveViewFrame(frame(), false);
    expect(first.startsWith(`${CLEAR_SCREEN}${CURSOR_HOME}database-replicator status`)).toBe(true);
    expect(next.startsWith(`${CURSOR_HOME}database-replicator status`)).toBe(true);
    expect(next.endsWith(`\n${CLEAR_BELOW}`)).toBe(true);
    expect(
      next
        .split('\n')
        .slice(0, -1)
        .every((l) => l.endsWith(CLEAR_LINE_END)),
    ).toBe(true);
  });

  it('cuts lines to the terminal width, says when the record is stale, and shows no bars once the copy is over', () => {
    const narrow = liveViewLines(frame({ columns: 60 }));
    expect(narrow.every((l) => l.length <= 59)).toBe(true);
    const stale = liveViewLines(frame({ now: new Date(at.getTime() + 90_000) }));
    expect(stale).toContain(
      '  copy: 1/3 tables, 1,500 rows, 30.0 MB (recorded 1 min 30 s ago: is init still running?)',
    );
    const done = frame();
    done.databases[0]!.progress = { ...done.databases[0]!.progress!, state: 'SUCCEEDED', tablesDone: 3 };
    expect(liveViewLines(done).some((l) => l.includes('['))).toBe(false);
  });

  it('says how old a remote reading of the lag and WAL retained is, and nothing when it was read just now', () => {
    const aged = frame();
    Object.assign(aged.databases[0]!, { lagSeconds: 1.25, lagAgeSeconds: 125, walRetainedAgeSeconds: 40.4 });
    expect(liveViewLines(aged)).toContain(
      'shop: initializing  |  lag 2.0 kB (1.3 s, 2 min 5 s ago)  |  WAL retained 5.0 MB (40 s ago)  |  tables 0/3 ready',
    );
  });
});
