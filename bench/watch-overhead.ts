// What `status --watch` costs init: the same init timed alone and with a `status --watch 1` beside it
// on a pseudo-terminal (util-linux `script`; without it, the one-line form on a pipe), rounds alternated.
// The watcher reads both servers and the job record every second and redraws the live view.
// run.ts adds the result to the bench table; alone: node bench/watch-overhead.ts --size-gb 0.05 --rounds 1
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { postmasterPid, sampleCpuShare, type CpuShare } from './cpu-share.ts';
import { commandExists, median, timeCommand } from './measure.ts';

export interface WatchOverheadOptions {
  cli: string;
  jobs: number;
  rounds: number;
  work: string;
  /** Source URL of the bench database, and the target URL of a database name (no query string). */
  sourceUrl: string;
  targetUrl: (database: string) => string;
  /** Drops (and, with create, makes again) a target database. */
  recreate: (database: string, create: boolean) => Promise<void>;
  /** Throws when the copy in `database` differs from the source (a time that does not count). */
  check: (database: string) => Promise<void>;
  /** The servers' postmasters: their processes' CPU counts in the whole the watcher's share is of. */
  serverPids: number[];
  /** Runs before each timed init (a checkpoint on both servers). */
  settle: () => Promise<void>;
  log: (line: string) => void;
}

export interface WatchOverhead {
  alone: number[];
  watched: number[];
  /** Frames the watcher drew over all watched runs (0 would mean it measured nothing). */
  frames: number;
  /** Lines with a table's bar seen over all watched runs. */
  barLines: number;
  terminal: boolean;
  /** CPU of the watcher (processes and server sessions) and of everything the runs used, over the watched runs. */
  cpu: CpuShare;
}

/** The watcher's server sessions carry this name, so their CPU can be told from init's. */
const WATCHER_APPLICATION = 'dbr-bench-watch';

const CURSOR_HOME = '\u001b[H';
const BAR = /\[[#.]{24}\] +\d+%/g;

export async function measureWatchOverhead(o: WatchOverheadOptions): Promise<WatchOverhead> {
  const terminal = await commandExists('script');
  const result: WatchOverhead = {
    alone: [],
    watched: [],
    frames: 0,
    barLines: 0,
    terminal,
    cpu: { watcherTicks: 0, totalTicks: 0 },
  };
  const database = 'bench_watch';
  for (let round = 0; round < o.rounds; round++) {
    for (const watched of round % 2 ? [true, false] : [false, true]) {
      await o.recreate(database, false);
      const state = join(o.work, `state-watch-${round}-${watched}`);
      mkdirSync(state, { recursive: true });
      const env = {
        ...process.env,
        DATABASE_REPLICATOR_SOURCE_URL: o.sourceUrl,
        DATABASE_REPLICATOR_TARGET_URL: o.targetUrl(database),
      };
      await o.settle();
      const watcher = watched ? startWatcher(o.cli, state, watcherEnv(env), terminal) : undefined;
      const cpu =
        watcher &&
        sampleCpuShare({
          watcher: watcher.root,
          counted: [process.pid, ...o.serverPids],
          applicationName: WATCHER_APPLICATION,
          serverUrls: [o.sourceUrl, o.targetUrl('postgres')],
        });
      try {
        const timed = await timeCommand(
          process.execPath,
          [
            o.cli,
            'init',
            '--local',
            '--yes',
            '--no-sync',
            '--no-roles',
            '--jobs',
            String(o.jobs),
            '--state-dir',
            state,
            '--log-level',
            'warn',
          ],
          env,
        );
        (watched ? result.watched : result.alone).push(timed.seconds);
        o.log(
          `round ${round + 1}: init ${watched ? `with status --watch beside it (${terminal ? 'terminal' : 'pipe'})` : 'alone'}: ${timed.seconds.toFixed(1)} s`,
        );
      } finally {
        const used = await cpu?.stop();
        if (used) {
          result.cpu.watcherTicks += used.watcherTicks;
          result.cpu.totalTicks += used.totalTicks;
        }
        const output = await watcher?.stop();
        if (output !== undefined) {
          result.frames += terminal
            ? output.split(CURSOR_HOME).length - 1
            : output.split('\n').filter((l) => /^\d{4}-/.test(l)).length;
          result.barLines += output.match(BAR)?.length ?? 0;
        }
      }
      await o.check(database);
      rmSync(state, { recursive: true, force: true });
    }
  }
  await o.recreate(database, false);
  return result;
}

/** The same job for the watcher, its sessions named so that their CPU can be counted apart. */
function watcherEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const named = (url: string | undefined) => url && `${url}?application_name=${WATCHER_APPLICATION}`;
  return {
    ...env,
    DATABASE_REPLICATOR_SOURCE_URL: named(env.DATABASE_REPLICATOR_SOURCE_URL),
    DATABASE_REPLICATOR_TARGET_URL: named(env.DATABASE_REPLICATOR_TARGET_URL),
  };
}

function startWatcher(
  cli: string,
  state: string,
  env: NodeJS.ProcessEnv,
  terminal: boolean,
): { root: number; stop: () => Promise<string> } {
  const argv = [process.execPath, cli, 'status', '--local', '--watch', '1', '--state-dir', state];
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // Its own process group, so stopping it stops the CLI under `script` too.
  const child = terminal
    ? spawn('script', ['-qfec', `stty cols 160 rows 50; exec ${quoted}`, '/dev/null'], {
        env: { ...env, TERM: 'xterm-256color' },
        stdio: ['pipe', 'pipe', 'ignore'],
        detached: true,
      })
    : spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    root: child.pid!,
    stop: async () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // Gone already.
      }
      await exited;
      return output;
    },
  };
}

/** Clock ticks (USER_HZ, 100 on Linux) as CPU seconds. */
const ticks = (n: number) => (n / 100).toFixed(2);

/** The rows of the bench table. */
export function watchOverheadRows(r: WatchOverhead): string[] {
  const ratio = median(r.watched) / median(r.alone);
  const share = r.cpu.totalTicks ? r.cpu.watcherTicks / r.cpu.totalTicks : 0;
  return [
    '| init beside status --watch | median | runs | watched / alone |',
    '|---|---|---|---|',
    `| init alone | ${median(r.alone).toFixed(1)} s | ${r.alone.map((t) => t.toFixed(1)).join(', ')} | 1.00 |`,
    `| init with \`status --watch 1\` on a ${r.terminal ? 'pseudo-terminal (live view)' : 'pipe (one line per refresh)'} beside it (${r.frames} refreshes, ${r.barLines} table bars drawn) | ${median(r.watched).toFixed(1)} s | ${r.watched.map((t) => t.toFixed(1)).join(', ')} | ${ratio.toFixed(3)} |`,
    '',
    `CPU of the watcher during the watched inits: ${ticks(r.cpu.watcherTicks)} CPU-s (its processes and its server sessions) of the ${ticks(r.cpu.totalTicks)} CPU-s that init, its PostgreSQL programs, the watcher and both servers used, ${(share * 100).toFixed(2)} % (${share <= 0.02 ? 'within' : 'ABOVE'} the 2 % budget). Init cannot lose more than the CPU the watcher takes from it (the watcher takes no lock the copy waits for); the wall-time ratio above is the same measure through the machine's noise.`,
  ];
}

// Alone: clusters, the bench dataset at --size-gb, this scenario only.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values: args } = parseArgs({
    options: {
      'size-gb': { type: 'string', default: '1.2' },
      jobs: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const pg = (await import('pg')).default;
  const { clusterUrl, startCluster } = await import('../scripts/support/cluster.ts');
  const { fingerprint, loadDataset } = await import('./dataset.ts');
  const log = (line: string) => process.stdout.write(`[bench] ${line}\n`);
  const work = mkdtempSync(join(tmpdir(), 'dbr-bench-watch-'));
  const source = await startCluster({ name: 'bench-source' });
  const target = await startCluster({ name: 'bench-target' });
  const query = async <T>(url: string, fn: (c: InstanceType<typeof pg.Client>) => Promise<T>) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  try {
    await query(clusterUrl(source, 'postgres'), (c) => loadDataset(source, c, 'bench', Number(args['size-gb'])));
    const expected = await query(clusterUrl(source, 'bench'), fingerprint);
    const r = await measureWatchOverhead({
      cli: fileURLToPath(new URL('../bin/database-replicator.js', import.meta.url)),
      jobs: Number(args.jobs),
      rounds: Number(args.rounds),
      work,
      log,
      sourceUrl: clusterUrl(source, 'bench'),
      targetUrl: (db) => clusterUrl(target, db),
      serverPids: [postmasterPid(source.baseDir), postmasterPid(target.baseDir)],
      recreate: (db, create) =>
        query(clusterUrl(target, 'postgres'), async (c) => {
          await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
          if (create) await c.query(`CREATE DATABASE ${db}`);
        }),
      check: async (db) => {
        const got = await query(clusterUrl(target, db), fingerprint);
        for (const [table, fp] of Object.entries(expected))
          if (got[table] !== fp) throw new Error(`init produced a different ${table}; its time does not count.`);
      },
      settle: async () => {
        await Promise.all([
          query(clusterUrl(source, 'postgres'), (c) => c.query('CHECKPOINT')),
          query(clusterUrl(target, 'postgres'), (c) => c.query('CHECKPOINT')),
        ]);
      },
    });
    process.stdout.write(`\n${watchOverheadRows(r).join('\n')}\n`);
  } finally {
    await Promise.allSettled([source.stop(), target.stop()]);
    rmSync(work, { recursive: true, force: true });
  }
}
