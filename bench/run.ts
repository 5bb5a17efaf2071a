// npm run bench: init against pg_dump/pg_restore and pgcopydb on the same data in the same run, then
// verify against the naive md5 method, then catch-up after sync under a steady write load, and what a
// `status --watch` beside init costs it (bench/watch-overhead.ts).
// Options: --size-gb 1.2  --jobs 2  --rounds 3  --skip-pgcopydb  --out bench/results/latest.md
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { clusterUrl, startCluster, type ClusterInfo } from '../scripts/support/cluster.ts';
import { fingerprint, loadDataset } from './dataset.ts';
import { commandExists, machineDescription, median, timeCommand } from './measure.ts';
import { committedWalEnd } from '../src/catalog/wal.ts';
import { LocalFileJobStore } from '../src/jobs/local-store.ts';
import { postmasterPid } from './cpu-share.ts';
import { measureWatchOverhead, watchOverheadRows } from './watch-overhead.ts';

const execFileAsync = promisify(execFile);
const { values: args } = parseArgs({
  options: {
    'size-gb': { type: 'string', default: '1.2' },
    jobs: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    'skip-pgcopydb': { type: 'boolean', default: false },
    out: { type: 'string', default: fileURLToPath(new URL('./results/latest.md', import.meta.url)) },
  },
});
const jobs = Number(args.jobs);
const rounds = Number(args.rounds);
const cli = fileURLToPath(new URL('../bin/database-replicator.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'dbr-bench-'));
const databaseFor = (contender: string) =>
  `bench_${contender
    .replace(/[^a-z]/gi, '_')
    .toLowerCase()
    .slice(0, 20)}`;
const log = (line: string) => process.stdout.write(`[bench] ${line}\n`);

// The same server settings for every contender; durability off because nothing here is kept.
const settings = {
  shared_buffers: "'2GB'",
  maintenance_work_mem: "'512MB'",
  max_wal_size: "'8GB'",
  checkpoint_timeout: "'30min'",
  work_mem: "'64MB'",
  max_parallel_maintenance_workers: 2,
};

async function client(cluster: ClusterInfo, database: string): Promise<pg.Client> {
  const c = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: cluster.user,
    password: cluster.password,
    database,
  });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function withClient<T>(cluster: ClusterInfo, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await client(cluster, database);
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function ensurePgcopydb(): Promise<boolean> {
  if (args['skip-pgcopydb']) return false;
  if (await commandExists('pgcopydb')) return true;
  log('pgcopydb is missing; installing it with apt-get');
  try {
    await execFileAsync(
      'sh',
      ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgcopydb'],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    return commandExists('pgcopydb');
  } catch (error) {
    log(`could not install pgcopydb (${(error as Error).message.split('\n')[0]}); it is left out of this run`);
    return false;
  }
}

const source = await startCluster({ name: 'bench-source', settings });
const target = await startCluster({ name: 'bench-target', settings });
try {
  const sizeGb = Number(args['size-gb']);
  log(`generating about ${sizeGb} GB on the source`);
  const dataset = await withClient(source, 'postgres', (c) => loadDataset(source, c, 'bench', sizeGb));
  log(
    `dataset: ${(dataset.bytes / 1024 ** 3).toFixed(2)} GB (pgbench scale ${dataset.scale}, wide table ${dataset.wideRows} rows)`,
  );
  const expected = await withClient(source, 'bench', fingerprint);
  const pgEnv = (cluster: ClusterInfo) => ({
    ...process.env,
    PGHOST: cluster.host,
    PGPORT: String(cluster.port),
    PGUSER: cluster.user,
    PGPASSWORD: cluster.password,
  });
  const bin = (tool: string) => join(source.bindir, tool);
  const hasPgcopydb = await ensurePgcopydb();

  const recreate = (db: string, create: boolean) =>
    withClient(target, 'postgres', async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      if (create) await c.query(`CREATE DATABASE ${db}`);
    });
  // A checkpoint on both servers before every timed run: none inherits another's dirty pages.
  const checkpoint = () =>
    Promise.all([
      withClient(source, 'postgres', (c) => c.query('CHECKPOINT')),
      withClient(target, 'postgres', (c) => c.query('CHECKPOINT')),
    ]).then(() => undefined);
  /** `init --local --yes --no-roles` with this run's jobs, state folder and quiet logs. */
  const initArgs = (state: string, ...more: string[]) => [
    cli,
    'init',
    '--local',
    '--yes',
    '--no-roles',
    '--jobs',
    String(jobs),
    '--state-dir',
    state,
    '--log-level',
    'warn',
    ...more,
  ];
  const contenders: Record<string, (db: string) => Promise<{ seconds: number; peakMb?: number }>> = {
    'database-replicator init': async (db) => {
      await recreate(db, false);
      const state = join(work, `state-${db}`);
      const env = {
        ...process.env,
        DATABASE_REPLICATOR_SOURCE_URL: clusterUrl(source, 'bench'),
        DATABASE_REPLICATOR_TARGET_URL: clusterUrl(target, db),
      };
      const timed = await timeCommand(process.execPath, initArgs(state, '--no-sync'), env, true);
      rmSync(state, { recursive: true, force: true });
      return timed;
    },
    'pg_dump -Fd + pg_restore': async (db) => {
      await recreate(db, true);
      const dir = join(work, `dump-${db}`);
      const started = performance.now();
      await timeCommand(bin('pg_dump'), ['-Fd', '-j', String(jobs), '-f', dir, '-d', 'bench'], pgEnv(source));
      await timeCommand(bin('pg_restore'), ['-j', String(jobs), '-d', db, dir], pgEnv(target));
      rmSync(dir, { recursive: true, force: true });
      return { seconds: (performance.now() - started) / 1000 };
    },
  };
  if (hasPgcopydb) {
    contenders.pgcopydb = async (db) => {
      await recreate(db, true);
      const dir = join(work, `pgcopydb-${db}`);
      const env = {
        ...process.env,
        PGCOPYDB_SOURCE_PGURI: clusterUrl(source, 'bench'),
        PGCOPYDB_TARGET_PGURI: clusterUrl(target, db),
      };
      const timed = await timeCommand(
        'pgcopydb',
        ['clone', '--table-jobs', String(jobs), '--index-jobs', String(jobs), '--dir', dir, '--no-owner', '--no-acl'],
        env,
      );
      rmSync(dir, { recursive: true, force: true });
      return timed;
    };
  }

  // One untimed read of every source table, so the first contender does not pay for a cold cache alone.
  await withClient(source, 'bench', async (c) => {
    for (const table of Object.keys(expected)) await c.query(`SELECT count(*) FROM ${table}`);
  });
  // One untimed copy first: a fresh target allocates its WAL segments during its first big load, and
  // whichever contender ran first would pay for that alone.
  log('warm-up: one untimed copy');
  await contenders['database-replicator init']!(databaseFor('warm-up'));
  await recreate(databaseFor('warm-up'), false);
  const names = Object.keys(contenders);
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  let peakMb = 0;
  for (let round = 0; round < rounds; round++) {
    // Alternate the order so no contender always runs on a warmer cache.
    const order = names.map((_, i) => names[(i + round) % names.length]!);
    for (const name of order) {
      const db = databaseFor(name);
      await checkpoint();
      const result = await contenders[name]!(db);
      const got = await withClient(target, db, fingerprint);
      for (const [table, fp] of Object.entries(expected)) {
        if (got[table] !== fp)
          throw new Error(
            `${name} produced a different ${table} (${got[table]} instead of ${fp}); its time does not count.`,
          );
      }
      times[name]!.push(result.seconds);
      if (result.peakMb) peakMb = Math.max(peakMb, result.peakMb);
      log(
        `round ${round + 1}: ${name} ${result.seconds.toFixed(1)} s${result.peakMb ? `, peak ${result.peakMb.toFixed(0)} MB` : ''} (result equals the source)`,
      );
      if (!name.startsWith('database-replicator') || round < rounds - 1) await recreate(db, false);
    }
  }

  // Kill and resume: init stopped by SIGKILL once a third of the data is committed on the target, then
  // the same command again, timed; each is compared with a fresh init timed beside it.
  const tableBytes = await withClient(
    source,
    'bench',
    async (c) =>
      new Map(
        (
          await c.query<{ t: string; b: string }>(
            `SELECT format('%s.%s', schemaname, relname) AS t, pg_table_size(relid)::text AS b FROM pg_stat_user_tables`,
          )
        ).rows.map((r) => [r.t, Number(r.b)]),
      ),
  );
  const totalBytes = [...tableBytes.values()].reduce((a, b) => a + b, 0);
  const resumeTimes: number[] = [];
  const pairedFresh: number[] = [];
  const killedAt: number[] = [];
  // Each resume is compared with a fresh init timed beside it (before it in odd rounds, after it in even
  // ones): the host's speed drifts over the minutes between this scenario and the contenders above.
  const timeFreshBeside = async () => {
    await checkpoint();
    const fresh = await contenders['database-replicator init']!('bench_resume_fresh');
    await recreate('bench_resume_fresh', false);
    pairedFresh.push(fresh.seconds);
    log(`round ${pairedFresh.length}: fresh init beside the resume ${fresh.seconds.toFixed(1)} s`);
  };
  for (let round = 0; round < rounds; round++) {
    const db = 'bench_resume';
    if (round % 2 === 0) await timeFreshBeside();
    await recreate(db, false);
    const state = join(work, `state-resume-${round}`);
    const env = {
      ...process.env,
      DATABASE_REPLICATOR_SOURCE_URL: clusterUrl(source, 'bench'),
      DATABASE_REPLICATOR_TARGET_URL: clusterUrl(target, db),
    };
    const resumeArgs = initArgs(state, '--no-sync', '--job-id', 'bench_resume');
    await checkpoint();
    const child = spawn(process.execPath, resumeArgs, { env, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let ended = false;
    void exited.then(() => (ended = true));
    let fraction = 0;
    for (;;) {
      if (ended) throw new Error('init finished before a third of the data was copied; use a bigger --size-gb');
      try {
        const job = JSON.parse(readFileSync(new LocalFileJobStore(state).checkpointPath('bench_resume'), 'utf8')) as {
          databases: Record<string, { copied: Record<string, unknown> }>;
        };
        fraction =
          Object.keys(job.databases.bench?.copied ?? {}).reduce((n, t) => n + (tableBytes.get(t) ?? 0), 0) / totalBytes;
      } catch {
        // Not written yet, or being replaced.
      }
      if (fraction >= 1 / 3) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    // The same start as every timed run above: a checkpoint on both servers, so the resume does not pay
    // for flushing what the killed run left dirty (a rerun comes later than a few milliseconds after a crash).
    await checkpoint();
    const resumed = await timeCommand(process.execPath, resumeArgs, env);
    const got = await withClient(target, db, fingerprint);
    for (const [table, fp] of Object.entries(expected)) {
      if (got[table] !== fp)
        throw new Error(`the resumed init produced a different ${table}; its time does not count.`);
    }
    resumeTimes.push(resumed.seconds);
    killedAt.push(fraction);
    log(
      `round ${round + 1}: resume after a kill with ${(fraction * 100).toFixed(0)}% of the data committed: ${resumed.seconds.toFixed(1)} s (result equals the source)`,
    );
    await recreate(db, false);
    rmSync(state, { recursive: true, force: true });
    if (round % 2 === 1) await timeFreshBeside();
  }
  const resumeRatios = resumeTimes.map((t, i) => t / pairedFresh[i]!);

  // status --watch beside init, same dataset, same run: the live view's refresh must not slow the copy.
  // Before the catch-up scenario, whose write load changes the source.
  const watchOverhead = await measureWatchOverhead({
    cli,
    jobs,
    rounds,
    work,
    log,
    sourceUrl: clusterUrl(source, 'bench'),
    targetUrl: (db) => clusterUrl(target, db),
    serverPids: [postmasterPid(source.baseDir), postmasterPid(target.baseDir)],
    recreate,
    settle: checkpoint,
    check: async (db) => {
      const got = await withClient(target, db, fingerprint);
      for (const [table, fp] of Object.entries(expected))
        if (got[table] !== fp)
          throw new Error(`init beside status --watch produced a different ${table}; its time does not count.`);
    },
  });

  // verify against the naive method, on our last copy.
  const ours = databaseFor('database-replicator init');
  const verifyEnv = {
    ...process.env,
    DATABASE_REPLICATOR_SOURCE_URL: clusterUrl(source, 'bench'),
    DATABASE_REPLICATOR_TARGET_URL: clusterUrl(target, ours),
  };
  const verifyTimes: number[] = [];
  const naiveTimes: number[] = [];
  const tables = await withClient(
    source,
    'bench',
    async (c) =>
      (
        await c.query<{ t: string; k: string }>(`
    SELECT format('%I.%I', n.nspname, c.relname) AS t,
           coalesce((SELECT string_agg(quote_ident(a.attname), ', ') FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) WHERE i.indrelid = c.oid AND i.indisprimary), 'x::text') AS k
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1`)
      ).rows,
  );
  for (let round = 0; round < rounds; round++) {
    const v = await timeCommand(
      process.execPath,
      [cli, 'verify', '--local', '--jobs', String(jobs), '--state-dir', join(work, 'none'), '--log-level', 'warn'],
      verifyEnv,
    );
    verifyTimes.push(v.seconds);
    const started = performance.now();
    const [s, t] = await Promise.all([client(source, 'bench'), client(target, ours)]);
    try {
      for (const { t: table, k } of tables) {
        const sql = `SELECT md5(string_agg(md5(x::text), '' ORDER BY ${k})) AS h FROM ${table} x`;
        const [a, b] = await Promise.all([s.query(sql), t.query(sql)]);
        if (a.rows[0].h !== b.rows[0].h) throw new Error(`naive verify found a difference in ${table}`);
      }
    } finally {
      await Promise.all([s.end(), t.end()]);
    }
    naiveTimes.push((performance.now() - started) / 1000);
    log(`round ${round + 1}: verify ${v.seconds.toFixed(1)} s, naive md5 ${naiveTimes.at(-1)!.toFixed(1)} s`);
  }

  // Catch-up: init with a slot, a steady pgbench load on the source, then sync; time until the target has applied the source's LSN.
  const catchupDb = 'bench_catchup';
  await recreate(catchupDb, false);
  const state = join(work, 'state-catchup');
  const env = {
    ...process.env,
    DATABASE_REPLICATOR_SOURCE_URL: clusterUrl(source, 'bench'),
    DATABASE_REPLICATOR_TARGET_URL: clusterUrl(target, catchupDb),
  };
  const load = spawn(bin('pgbench'), ['-n', '-c', '2', '-R', '200', '-T', '600', 'bench'], {
    env: pgEnv(source),
    stdio: 'ignore',
  });
  let catchUpSeconds = NaN;
  try {
    await timeCommand(process.execPath, initArgs(state), env);
    const syncStarted = performance.now();
    await timeCommand(process.execPath, [cli, 'sync', '--local', '--state-dir', state, '--log-level', 'warn'], env);
    const lsn = await withClient(source, 'bench', async (c) => committedWalEnd(c));
    await withClient(source, 'bench', async (c) => {
      for (;;) {
        const { rows } = await c.query<{ done: boolean }>(
          `SELECT bool_or(confirmed_flush_lsn >= $1::pg_lsn) AS done FROM pg_replication_slots WHERE slot_name LIKE 'dbr\\_%'`,
          [lsn],
        );
        if (rows[0]?.done) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    catchUpSeconds = (performance.now() - syncStarted) / 1000;
    log(`catch-up after sync under a steady 200 tps pgbench load: ${catchUpSeconds.toFixed(1)} s`);
  } finally {
    load.kill('SIGTERM');
    await timeCommand(
      process.execPath,
      [cli, 'cleanup', '--local', '--yes', '--state-dir', state, '--log-level', 'warn'],
      env,
    ).catch(() => undefined);
  }

  const ourMedian = median(times['database-replicator init']!);
  const lines = [
    `Machine: ${machineDescription()}; PostgreSQL ${source.major}; dataset ${(dataset.bytes / 1024 ** 3).toFixed(2)} GB (pgbench scale ${dataset.scale} + wide table of ${dataset.wideRows} rows with two secondary indexes); N = ${jobs}; ${rounds} rounds, order alternated; every result checked equal to the source.`,
    '',
    '| contender | median wall time | runs | ours / this |',
    '|---|---|---|---|',
    ...names.map(
      (n) =>
        `| ${n} | ${median(times[n]!).toFixed(1)} s | ${times[n]!.map((t) => t.toFixed(1)).join(', ')} | ${(ourMedian / median(times[n]!)).toFixed(2)} |`,
    ),
    '',
    `Peak resident memory of the CLI during init: ${peakMb.toFixed(0)} MB.`,
    '',
    '| resume | median | runs | resume / fresh init |',
    '|---|---|---|---|',
    `| fresh init, timed beside each resume | ${median(pairedFresh).toFixed(1)} s | ${pairedFresh.map((t) => t.toFixed(1)).join(', ')} | 1.00 |`,
    `| init killed (SIGKILL) with ${killedAt.map((f) => `${(f * 100).toFixed(0)}%`).join(', ')} of the table data committed, then run again | ${median(resumeTimes).toFixed(1)} s | ${resumeTimes.map((t) => t.toFixed(1)).join(', ')} | ${median(resumeRatios).toFixed(2)} (median of ${resumeRatios.map((r) => r.toFixed(2)).join(', ')}; ${(median(resumeTimes) / ourMedian).toFixed(2)} of the contenders' init) |`,
    '',
    '| verify | median | runs | ratio |',
    '|---|---|---|---|',
    `| database-replicator verify (--jobs ${jobs}) | ${median(verifyTimes).toFixed(1)} s | ${verifyTimes.map((t) => t.toFixed(1)).join(', ')} | ${(median(verifyTimes) / median(naiveTimes)).toFixed(2)} of naive |`,
    `| naive md5(string_agg(md5(t::text) ORDER BY pk)), both sides at once | ${median(naiveTimes).toFixed(1)} s | ${naiveTimes.map((t) => t.toFixed(1)).join(', ')} | 1.00 |`,
    '',
    `Catch-up: ${catchUpSeconds.toFixed(1)} s from the start of sync until the target had applied the source's LSN, under a steady 200 tps pgbench load.`,
    '',
    ...watchOverheadRows(watchOverhead),
  ];
  const text = lines.join('\n') + '\n';
  process.stdout.write(`\n${text}`);
  mkdirSync(dirname(args.out!), { recursive: true });
  writeFileSync(args.out!, text);
} finally {
  await Promise.allSettled([source.stop(), target.stop()]);
  rmSync(work, { recursive: true, force: true });
}
