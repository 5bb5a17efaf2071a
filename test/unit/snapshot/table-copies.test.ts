import { describe, expect, it } from 'vitest';
import type { CopyTask } from '../../../src/snapshot/copy.ts';
import type { TablePlan } from '../../../src/plan/plan.ts';
import { MAX_IN_FLIGHT, MAX_RECENT, TableCopies } from '../../../src/snapshot/table-copies.ts';

const table = (name: string, bytes: number) => ({ schema: 'public', name, bytes }) as TablePlan;
const task = (t: TablePlan, part?: number): CopyTask => ({
  key: part === undefined ? `public.${t.name}` : `public.${t.name}#${part}`,
  table: t,
  bytes: t.bytes,
  ...(part === undefined ? {} : { pages: { from: part, to: null } }),
});

describe('TableCopies', () => {
  it('lists the tables in flight largest first, a split table once over its ranges, then the finished ones', () => {
    let now = 1_000_000;
    const big = table('big', 3000);
    const small = table('small', 100);
    const copies = new TableCopies([task(big, 0), task(big, 1), task(small)], { everyMs: 1000, now: () => now });
    copies.started(task(small));
    copies.started(task(big, 0));
    copies.started(task(big, 1));
    copies.read(task(big, 0), 500, 5);
    copies.read(task(big, 1), 700, 7);
    copies.read(task(small), 40, 4);
    expect(copies.list()).toEqual([
      {
        table: 'public.big',
        rows: 12,
        bytesDone: 1200,
        bytesExpected: 3000,
        startedAt: new Date(1_000_000).toISOString(),
      },
      {
        table: 'public.small',
        rows: 4,
        bytesDone: 40,
        bytesExpected: 100,
        startedAt: new Date(1_000_000).toISOString(),
      },
    ]);
    // Within the interval the same list comes back, however much was read since.
    copies.read(task(small), 10, 1);
    expect(copies.list()[1]!.bytesDone).toBe(40);
    now += 2000;
    // One range done: its exact counts replace what its reads counted; the table stays in flight.
    copies.done(task(big, 0), { rows: 6, bytes: 520 });
    expect(copies.list()[0]).toMatchObject({ table: 'public.big', rows: 13, bytesDone: 1220 });
    copies.done(task(big, 1), { rows: 7, bytes: 700 });
    copies.done(task(small), { rows: 5, bytes: 50 });
    expect(copies.list()).toEqual([
      {
        table: 'public.big',
        rows: 13,
        bytesDone: 1220,
        bytesExpected: 3000,
        startedAt: new Date(1_000_000).toISOString(),
        seconds: 2,
      },
      {
        table: 'public.small',
        rows: 5,
        bytesDone: 50,
        bytesExpected: 100,
        startedAt: new Date(1_000_000).toISOString(),
        seconds: 2,
      },
    ]);
  });

  it('keeps at most the largest tables in flight and the latest finished, so the record stays small', () => {
    let now = 0;
    const tables = Array.from({ length: 60 }, (_, i) => table(`t${String(i).padStart(2, '0')}`, 1000 + i));
    const copies = new TableCopies(
      tables.map((t) => task(t)),
      { everyMs: 0, now: () => now++ },
    );
    for (const t of tables.slice(0, 10)) {
      copies.started(task(t));
      copies.done(task(t), { rows: 1, bytes: 1 });
    }
    for (const t of tables.slice(10)) copies.started(task(t));
    const list = copies.list();
    expect(list).toHaveLength(MAX_IN_FLIGHT + MAX_RECENT);
    expect(list.slice(0, MAX_IN_FLIGHT).map((t) => t.table)).toEqual(
      tables
        .slice(40)
        .reverse()
        .map((t) => `public.${t.name}`),
    );
    expect(list.slice(MAX_IN_FLIGHT).map((t) => t.table)).toEqual(
      tables.slice(10 - MAX_RECENT, 10).map((t) => `public.${t.name}`),
    );
  });
});
