import { describe, expect, it } from 'vitest';
import { createCopyProgress } from '../../../src/cli/progress.ts';

const event = (o: object) => ({
  database: 'shop',
  bytesDone: 50 * 1048576,
  bytesTotal: 100 * 1048576,
  tablesDone: 1,
  tablesTotal: 4,
  rowsDone: 1000,
  ...o,
});

describe('createCopyProgress', () => {
  it('off a terminal: a plain line per finished table and a periodic status line with rate and ETA', () => {
    const out: string[] = [];
    const progress = createCopyProgress((t) => out.push(t), false, 0);
    progress(event({ finished: { table: 'public.orders', rows: 1000, bytes: 2048, seconds: 0.5 } }));
    expect(out[0]).toBe('shop: copied public.orders (1000 rows, 2.0 kB, 0.5 s)\n');
    expect(out[1]).toMatch(/^shop: 1\/4 tables, 50\.0 MB of ~100\.0 MB \(50%\), [\d.]+ [kMG]?B\/s, ETA \d+/);
    expect(out.join('')).not.toContain('\u001b');
  });

  it('on a terminal: the status line is redrawn in place', () => {
    const out: string[] = [];
    const progress = createCopyProgress((t) => out.push(t), true, 0);
    progress(event({}));
    progress(event({ bytesDone: 60 * 1048576 }));
    expect(out.every((l) => l.startsWith('\r\u001b[2K'))).toBe(true);
    expect(out.at(-1)).toContain('60%');
  });
});
