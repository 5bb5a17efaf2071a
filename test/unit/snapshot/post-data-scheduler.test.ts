import { describe, expect, it } from 'vitest';
import { PostDataScheduler, type ArchiveEntry, type EntriesByTable } from '../../../src/snapshot/post-data.ts';
import type { SchemaCopyOptions } from '../../../src/snapshot/schema.ts';

let nextId = 1;
const entry = (line: string, weight?: number): ArchiveEntry => ({
  dumpId: nextId++,
  catalog: 1259,
  oid: nextId,
  line,
  ...(weight === undefined ? {} : { weight }),
});

/** A restore that records what it is given and finishes when the test says (or by itself after a tick). */
function fakeRestore(autoFinish: boolean) {
  const events: string[] = [];
  const open: Array<{ names: string; finish: () => void }> = [];
  let running = 0;
  let mostAtOnce = 0;
  const restoreEntries = async (entries: ArchiveEntry[]) => {
    const names = entries.map((e) => e.line).join('+');
    events.push(`start ${names}`);
    running++;
    mostAtOnce = Math.max(mostAtOnce, running);
    await new Promise<void>((resolve) => {
      if (autoFinish) setTimeout(resolve, 5);
      else open.push({ names, finish: resolve });
    });
    running--;
    events.push(`end ${names}`);
  };
  return { restoreEntries, events, open, mostAtOnce: () => mostAtOnce };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
const options = { schema: {} as SchemaCopyOptions, archive: 'unused', workDir: 'unused' };

describe('PostDataScheduler', () => {
  it('does not restore again a foreign key that the copy-time builds were restoring when the final pass began', async () => {
    const aPkey = entry('a_pkey');
    const bPkey = entry('b_pkey');
    const fk = entry('b_a_fkey');
    const trigger = entry('b_trigger');
    const byTable: EntriesByTable = {
      own: new Map([
        ['A', [aPkey]],
        ['B', [bPkey]],
      ]),
      foreignKeys: [{ entry: fk, tables: ['B', 'A'] }],
    };
    const fake = fakeRestore(false);
    const scheduler = new PostDataScheduler({
      ...options,
      entries: [aPkey, bPkey, fk, trigger],
      byTable,
      restoreEntries: fake.restoreEntries,
    });

    scheduler.tableCopied('A');
    await settle();
    fake.open.shift()!.finish();
    scheduler.tableCopied('B');
    await settle();
    fake.open.shift()!.finish();
    await settle();
    expect(fake.open.map((o) => o.names)).toEqual(['b_a_fkey']);

    const finished = scheduler.finish(2);
    await settle();
    expect(fake.open.map((o) => o.names)).toEqual(['b_a_fkey']);
    fake.open.shift()!.finish();
    await settle();
    fake.open.shift()!.finish();
    await finished;
    expect(fake.events.filter((e) => e.startsWith('start'))).toEqual([
      'start a_pkey',
      'start b_pkey',
      'start b_a_fkey',
      'start b_trigger',
    ]);
  });

  it('starts the final builds costliest first, `jobs` at once, a table analyzed once its builds are in, a foreign key only after both its tables', async () => {
    const aPkey = entry('a_pkey', 1);
    const cTag = entry('c_tag', 10);
    const cPkey = entry('c_pkey', 5);
    const cCreated = entry('c_created', 5);
    const fk = entry('c_a_fkey');
    const byTable: EntriesByTable = {
      own: new Map([
        ['A', [aPkey]],
        ['C', [cPkey, cCreated, cTag]],
      ]),
      foreignKeys: [{ entry: fk, tables: ['C', 'A'] }],
    };
    const fake = fakeRestore(true);
    const scheduler = new PostDataScheduler({
      ...options,
      entries: [aPkey, cPkey, cCreated, cTag, fk],
      byTable,
      restoreEntries: fake.restoreEntries,
      afterTable: async (key) => void fake.events.push(`analyze ${key}`),
    });

    await scheduler.finish(2);
    const starts = fake.events.filter((e) => e.startsWith('start'));
    expect(starts.slice(0, 2)).toEqual(['start c_tag', 'start c_pkey']);
    expect(starts).toHaveLength(5);
    expect(fake.mostAtOnce()).toBe(2);
    const at = (event: string) => fake.events.indexOf(event);
    expect(at('analyze C')).toBeGreaterThan(Math.max(at('end c_tag'), at('end c_pkey'), at('end c_created')));
    expect(at('analyze A')).toBeGreaterThan(at('end a_pkey'));
    expect(at('start c_a_fkey')).toBeGreaterThan(Math.max(at('analyze C'), at('analyze A')));
    expect([...scheduler.built].sort()).toEqual(['A', 'C']);
  });
});
