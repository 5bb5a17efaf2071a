import Table from 'cli-table3';
import { Command } from 'commander';
import type pg from 'pg';
import { collectStatus } from '../../replication/health.ts';
import type { JobContext } from '../../replication/job.ts';
import type { DatabaseStatus } from '../../replication/status.ts';
import type { DriftFinding } from '../../drift/types.ts';
import { formatBytes } from '../../snapshot/estimate.ts';
import type { ReadingHistory } from '../../monitor/monitor.ts';
import { toReading } from '../../monitor/readings.ts';
import { guardCommands, walRetentionWarning } from '../../monitor/wal-guard.ts';
import type { JobRecord, StepRecord } from '../../jobs/types.ts';
import { addJobOptions, jobCommandContext, type JobOptions } from '../job-options.ts';
import { localJobStore, readJobRecord } from '../job-record.ts';
import { EXIT_FAILED, EXIT_OK, UsageError, type CliIo } from '../io.ts';
import { liveViewFrame, type LiveDatabase } from '../live-view.ts';
import { renderJson } from '../render.ts';
import { remoteMode } from '../remote-options.ts';
import { runRemote } from './remote.ts';

interface StatusOptions extends JobOptions {
  watch?: string | boolean;
}

/** Each database's reading, for the WAL-retention guard; `history` keeps the previous ones (--watch) so growth shows. */
export function guardWarnings(
  statuses: DatabaseStatus[],
  jobId: string,
  history: ReadingHistory = new Map(),
  now = new Date(),
): Map<string, string> {
  const warnings = new Map<string, string>();
  for (const s of statuses) {
    const names = s.names ?? { slot: '?', subscription: '?' };
    const reading = toReading(
      { database: s.database, targetDatabase: s.target, ...names },
      s.slot,
      s.subscription,
      now,
    );
    const key = `${jobId}/${s.database}`;
    // An init at work holds its slot's WAL by design; one that stopped resumes with init, not sync.
    const commands = s.initUnfinished
      ? { ...guardCommands(jobId), resume: `database-replicator init --job-id ${jobId} (the same options as before)` }
      : guardCommands(jobId);
    const warning = s.initRunning ? undefined : walRetentionWarning(reading, history.get(key), commands);
    history.set(key, reading);
    if (warning) warnings.set(s.database, warning);
  }
  return warnings;
}

export function renderStatus(statuses: DatabaseStatus[], warnings: Map<string, string> = new Map()): string {
  const table = new Table({
    head: ['Database', 'Verdict', 'Slot', 'Retained', 'Lag', 'Subscription', 'Tables', 'Errors'],
    style: { head: [], border: [] },
  });
  for (const s of statuses) {
    const tables = Object.values(s.subscription.tables);
    table.push([
      s.database,
      s.verdict,
      s.slot.exists
        ? `${s.slot.active ? 'active' : 'inactive'}${s.slot.walStatus ? `, ${s.slot.walStatus}` : ''}`
        : 'missing',
      formatBytes(s.slot.retainedBytes),
      `${formatBytes(s.slot.lagBytes)}${s.subscription.lagSeconds !== null && s.slot.lagBytes > 0 ? `, ${s.subscription.lagSeconds.toFixed(1)} s` : ''}`,
      s.subscription.exists
        ? `${s.subscription.enabled ? 'enabled' : 'disabled'}, worker ${s.subscription.workerRunning ? 'running' : 'stopped'}`
        : 'none',
      tables.length ? `${tables.filter((t) => t === 'ready').length}/${tables.length} ready` : '-',
      s.subscription.applyErrors === null
        ? '-'
        : `${s.subscription.applyErrors} apply, ${s.subscription.syncErrors} sync`,
    ]);
  }
  const lines = statuses.map((s) => {
    const warning = warnings.get(s.database);
    const risk = warning
      ? ` WARNING: ${warning}`
      : s.diskRisk
        ? ` WARNING: the slot retains ${formatBytes(s.slot.retainedBytes)} of WAL and nobody consumes it; it grows until the source's disk fills (run sync, or cleanup).`
        : '';
    return `${s.database}: ${s.verdict} - ${s.reason}.${risk}`;
  });
  const drift = statuses.flatMap((s) => s.drift);
  return `${table.toString()}\n${lines.join('\n')}\n${drift.length ? renderDrift(drift) : ''}`;
}

/** Each finding with the statements that fix it; the additive ones are what sync --apply-ddl runs. */
export function renderDrift(findings: DriftFinding[]): string {
  const lines = [`Schema drift (${findings.length}):`];
  for (const f of findings) {
    lines.push(`  ${f.database}: ${f.message}${f.blocksReplication ? ' [stops replication]' : ''}`);
    lines.push(`    ${f.additive ? 'sync --apply-ddl runs' : 'not applied automatically; run after checking'}:`);
    for (const st of f.statements) lines.push(`      ${st.on === 'source' ? '-- on the source: ' : ''}${st.sql};`);
  }
  return lines.join('\n') + '\n';
}

/**
 * `status --watch` without a terminal (a log file, a pipe): one line per refresh, every database on it
 * with its verdict, lag, WAL retained and tables ready, so the output reads as a history.
 */
export function renderStatusLine(statuses: DatabaseStatus[], warnings: Map<string, string>, at: Date): string {
  const parts = statuses.map((s) => {
    const tables = Object.values(s.subscription.tables);
    const ready = tables.filter((t) => t === 'ready').length;
    const lag = `${formatBytes(s.slot.lagBytes)}${s.subscription.lagSeconds !== null && s.slot.lagBytes > 0 ? ` (${s.subscription.lagSeconds.toFixed(1)} s)` : ''}`;
    return `${s.database}: ${s.verdict}, lag ${lag}, WAL retained ${formatBytes(s.slot.retainedBytes)}, tables ${ready}/${tables.length} ready${warnings.has(s.database) ? ', WARNING: nothing consumes the slot' : ''}`;
  });
  return `${at.toISOString()} ${parts.join('; ')}\n`;
}

/** The live view's databases: what the servers say, with each one's entry in the job record (init's copy). */
export function liveDatabases(
  statuses: DatabaseStatus[],
  warnings: Map<string, string>,
  job: JobRecord | undefined,
): LiveDatabase[] {
  const out: LiveDatabase[] = statuses.map((s) => {
    const tables = Object.values(s.subscription.tables);
    const progress = job?.databases[s.database];
    return {
      database: s.database,
      verdict: s.verdict,
      reason: s.reason,
      lagBytes: s.slot.exists ? s.slot.lagBytes : null,
      lagSeconds: s.subscription.lagSeconds,
      walRetainedBytes: s.slot.exists ? s.slot.retainedBytes : null,
      tablesReady: tables.filter((t) => t === 'ready').length,
      tablesTotal: tables.length || (progress?.tablesTotal ?? 0),
      ...(warnings.has(s.database) ? { warning: warnings.get(s.database)! } : {}),
      ...(progress ? { progress } : {}),
    };
  });
  // A database the servers could not be read for (init still creating it) is shown from the record.
  for (const [name, progress] of Object.entries(job?.databases ?? {})) {
    if (out.some((d) => d.database === name)) continue;
    out.push({
      database: name,
      verdict: `${progress.state.toLowerCase()} - ${progress.phase}`,
      lagBytes: progress.lagBytes ?? null,
      lagSeconds: null,
      walRetainedBytes: null,
      tablesReady: null,
      tablesTotal: progress.tablesTotal,
      progress,
    });
  }
  return out;
}

/**
 * While watching, one session per server and database for every refresh: a new one each second would
 * cost both servers a backend and an authentication, beside the init it watches. `reset` ends them
 * (after a failed refresh, so the next one connects again).
 */
export function keptSessions(job: JobContext): { job: JobContext; reset: () => void } {
  const open = new Map<string, Promise<pg.Client>>();
  const ends: (() => Promise<void>)[] = [];
  const kept = (key: string, connect: () => Promise<pg.Client>) => {
    let client = open.get(key);
    if (!client) {
      client = connect().then((c) => {
        const end = c.end.bind(c);
        ends.push(() => end().catch(() => undefined));
        // collectStatus ends its sessions after each read; these stay for the next refresh.
        c.end = (async () => undefined) as unknown as typeof c.end;
        return c;
      });
      client.catch(() => open.delete(key));
      open.set(key, client);
    }
    return client;
  };
  return {
    job: {
      ...job,
      openSource: (db) => kept(`source/${db}`, () => job.openSource(db)),
      openTarget: (db) => kept(`target/${db}`, () => job.openTarget(db)),
    },
    reset: () => {
      open.clear();
      for (const end of ends.splice(0)) void end();
    },
  };
}

/** The job record: state and phase, each database's progress, the last steps. */
export function renderJobRecord(job: JobRecord, steps: StepRecord[], live: DatabaseStatus[] = []): string {
  // A command that failed earlier left its phase; what the servers say now comes first when it is better news.
  const healed =
    job.state === 'RUNNING' &&
    / failed: /.test(job.phase) &&
    live.length > 0 &&
    live.every((s) => s.verdict === 'in sync');
  const phase = healed
    ? `every database is in sync now (the last command recorded: ${job.phase})`
    : job.phase || 'no phase yet';
  const lines = [
    `Job ${job.jobId}: ${job.state} - ${phase} (started ${job.startedAt ?? job.createdAt}, updated ${job.updatedAt})`,
  ];
  if (job.error) lines.push(`  error: ${job.error}`);
  for (const [name, d] of Object.entries(job.databases)) {
    lines.push(
      `  ${name}: ${d.state} - ${d.phase}; ${d.tablesDone}/${d.tablesTotal} tables, ${d.rowsCopied} rows, ${formatBytes(d.bytesCopied)}${d.error ? `; error: ${d.error}` : ''}`,
    );
  }
  const last = steps.at(-1);
  if (last)
    lines.push(
      `  last step: ${last.step}${last.database ? ` (${last.database})` : ''} ${last.state}${last.seconds !== undefined ? ` in ${last.seconds.toFixed(1)} s` : ''}${last.state === 'FAILED' && last.detail ? `: ${last.detail}` : ''}`,
    );
  return lines.join('\n') + '\n';
}

export function statusCommand(io: CliIo, setExitCode: (code: number) => void): Command {
  const command = new Command('status')
    .summary('show replication health per database: slot, lag, subscription, tables, errors')
    .description(
      'On the source: the slot (active or not, WAL retained, wal_status), lag in bytes. On the target: the subscription\n' +
        '(enabled, worker running, received and applied LSN, last message), per-table states and apply errors.\n' +
        'A one-line verdict per database: initializing, catching up, in sync, or broken (with the reason).\n' +
        'Schema drift: published tables whose definitions differ between source and target, and tables created on\n' +
        'the source since init, each with the statements that fix it (sync --apply-ddl runs the additive ones).\n' +
        'Exit code 1 when any database is broken.',
    )
    .option(
      '-w, --watch [seconds]',
      'refresh every N seconds (default 2) until interrupted: on a terminal a live view redrawn in place (during init a bar per table being copied, with rows, MB/s and ETA); without one, one line per refresh',
    )
    .addHelpText(
      'after',
      "\nExamples:\n  database-replicator status\n  database-replicator status --watch 5\n  database-replicator status --json | jq '.databases[].verdict'\n",
    );
  return addJobOptions(command).action(async (options: StatusOptions, cmd: Command) => {
    // Remote mode: the job record in the job table and the job's latest execution (src/remote/status.ts).
    if (remoteMode(cmd, io)) return runRemote('status', { ...options }, cmd, io, setExitCode);
    const context = await jobCommandContext(cmd, options, io);
    const { globals } = context;
    const interval = options.watch === undefined ? 0 : options.watch === true ? 2 : Number(options.watch);
    if (!Number.isFinite(interval) || interval < 0)
      throw new UsageError(`--watch takes a number of seconds, not "${String(options.watch)}".`);
    const store = localJobStore(options.stateDir);
    const sessions = interval ? keptSessions(context.job) : undefined;
    const job = sessions?.job ?? context.job;
    const history: ReadingHistory = new Map();
    // Without a terminal, the full view once, then one line per refresh; on one, the live view.
    let first = true;
    for (;;) {
      // init may run in another process: its checkpoint moves on (created, slot made, done).
      if (interval && !first) job.state = await job.checkpoints.load();
      let note: string | undefined;
      const [statuses, record] = await Promise.all([
        collectStatus(job).catch((error: unknown) => {
          sessions?.reset();
          // While watching, a database init is still creating (or not recorded yet) is no reason to stop.
          if (!interval || globals.json) throw error;
          note = `the servers could not be read: ${(error as Error).message}`;
          return [] as DatabaseStatus[];
        }),
        readJobRecord(store, job.jobId),
      ]);
      const broken = statuses.some((s) => s.verdict === 'broken');
      const warnings = guardWarnings(statuses, job.jobId, history);
      if (interval && io.isTty && !globals.json) {
        const header = record
          ? renderJobRecord(record.job, record.steps, statuses).trimEnd().split('\n').slice(0, 1)
          : [];
        io.stdout(
          liveViewFrame(
            {
              title: `database-replicator status: job ${job.jobId}`,
              header,
              databases: liveDatabases(statuses, warnings, record?.job),
              ...(note ? { note } : {}),
              now: new Date(),
              intervalSeconds: interval,
              columns: io.columns,
            },
            first,
          ),
        );
      } else if (globals.json) {
        const databases = statuses.map((s) => ({
          ...s,
          ...(warnings.has(s.database) ? { warning: warnings.get(s.database) } : {}),
        }));
        io.stdout(
          renderJson({
            command: 'status',
            ok: !broken,
            jobId: job.jobId,
            at: new Date().toISOString(),
            job: record?.job ?? null,
            steps: record?.steps ?? [],
            databases,
            drift: statuses.flatMap((s) => s.drift),
          }),
        );
      } else if (interval && !first) {
        io.stdout(note ? `${new Date().toISOString()} ${note}\n` : renderStatusLine(statuses, warnings, new Date()));
      } else {
        io.stdout(
          `${note ? `(${note})\n` : ''}${record ? renderJobRecord(record.job, record.steps, statuses) : ''}${renderStatus(statuses, warnings)}`,
        );
      }
      first = false;
      setExitCode(broken ? EXIT_FAILED : EXIT_OK);
      if (!interval) return;
      await new Promise((r) => setTimeout(r, interval * 1000));
    }
  });
}
