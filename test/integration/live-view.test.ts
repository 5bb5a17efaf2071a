// status --watch on a pseudo-terminal beside a real init in another process: the live view redrawn
// in place, with a bar per table being copied (rows, MB/s, ETA) read from the job record init writes.
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { loadDataset } from '../../bench/dataset.ts';
import { CLEAR_LINE_END, CLEAR_SCREEN, CURSOR_HOME } from '../../src/cli/live-view.ts';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { endpoints } from '../support/cli.ts';
import { uniqueName, withClient } from '../support/db.ts';
import { useScratch } from '../support/scratch.ts';
import { TerminalSession } from '../support/terminal.ts';

const { source, target } = inject('clusters');
const scratch = useScratch('live-view');
const bin = fileURLToPath(new URL('../../bin/database-replicator.js', import.meta.url));
const BAR =
  /^ {4}(public\.\S+) +\[[#.]{24}\] +(\d+)% {2}([\d,]+) rows, [\d.]+ [kMG]?B of ~[\d.]+ [kMG]?B, [\d.]+ [kMG]?B\/s, ETA (\d+ s|\d+ min \d+ s|finishing|-)$/;

/** The accounts table's row count on each frame that shows its bar. */
function accountRows(screen: string): number[] {
  return screen
    .split(CURSOR_HOME)
    .slice(1)
    .map((f) => stripVTControlCharacters(f).split(/\r?\n/))
    .map((lines) => lines.map((l) => BAR.exec(l)).find((m) => m?.[1] === 'public.pgbench_accounts'))
    .filter((m) => m !== undefined)
    .map((m) => Number(m![3]!.replace(/,/g, '')));
}

describe('status --watch on a terminal during init', () => {
  it('redraws a view with a bar per table in flight, from the record of an init running in another process', async () => {
    const db = uniqueName('live');
    scratch.cleanups.push(async () => {
      for (const cluster of [source, target])
        await withClient(cluster, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
    });
    // The bench dataset, small: two tables of about 150 MB that two workers copy at the same time,
    // for a few seconds even on a fast machine, so several frames show them.
    await withClient(source, 'postgres', (c) => loadDataset(source, c, db, 0.3));
    const stateDir = scratch.stateDir();
    const env = { ...process.env, PGPASSWORD: undefined, ...endpoints(clusterUrl(source, db), clusterUrl(target, db)) };
    // The view starts first: no job recorded yet, then no slot, then the copy; none of it stops it.
    const watch = new TerminalSession(
      [process.execPath, bin, 'status', '--watch', '0.5', '--state-dir', stateDir],
      env,
      {
        columns: 200,
        rows: 60,
      },
    );
    try {
      await watch.waitFor('database-replicator status: job ', 30_000);
      const init = execa(
        process.execPath,
        [bin, 'init', '--yes', '--no-roles', '--no-sync', '--jobs', '2', '--state-dir', stateDir],
        { env, reject: false, stdin: 'ignore', timeout: 300_000 },
      );
      await watch.waitFor(/public\.\S+ +\[[#.]{24}\] +\d+%/, 240_000);
      // More frames while the copy goes on, until one shows the accounts table further on (or init ends).
      let finished = false;
      void init.finally(() => (finished = true));
      while (!finished && new Set(accountRows(watch.output)).size < 2) await new Promise((r) => setTimeout(r, 250));
      const screen = watch.output;
      const done = await init;
      expect(done.exitCode, done.stderr).toBe(0);

      expect(screen.split(CLEAR_SCREEN)).toHaveLength(2);
      const frames = screen.split(CURSOR_HOME).slice(1);
      expect(frames.length).toBeGreaterThanOrEqual(3);
      // Every line of a frame clears the rest of the old one (the terminal turns \n into \r\n).
      expect(
        frames.slice(0, -1).every((f) =>
          f
            .split(/\r?\n/)
            .slice(0, -1)
            .every((l) => l.endsWith(CLEAR_LINE_END)),
        ),
      ).toBe(true);
      const barsPerFrame = frames.map((f) =>
        stripVTControlCharacters(f)
          .split(/\r?\n/)
          .filter((l) => BAR.test(l)),
      );
      // Both big tables are copied at once by the two workers: one bar each in the same frame.
      const both = barsPerFrame.find((bars) => new Set(bars.map((l) => BAR.exec(l)![1])).size >= 2);
      expect(both, frames.map(stripVTControlCharacters).join('\n----\n').slice(-6000)).toBeDefined();
      const tables = both!.map((l) => BAR.exec(l)![1]);
      expect(tables).toEqual(expect.arrayContaining(['public.pgbench_accounts', 'public.wide']));
      // Rows grow from frame to frame as the copy streams.
      const accounts = accountRows(screen);
      expect(Math.max(...accounts)).toBeGreaterThan(Math.min(...accounts));
      expect(stripVTControlCharacters(screen)).toMatch(
        new RegExp(`${db}: initializing  \\|  lag .*  \\|  WAL retained .*  \\|  tables`),
      );
      expect(stripVTControlCharacters(screen)).toMatch(/ {2}copy: \d+\/\d+ tables, [\d,]+ rows, /);
      // The slot of an init at work holds WAL by design: no retention warning while it copies.
      expect(stripVTControlCharacters(screen)).not.toMatch(/nothing consumes it|WARNING/);
    } finally {
      watch.kill();
      await watch.exited;
    }
  }, 420_000);
});
