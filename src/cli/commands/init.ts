import { Command, Option } from 'commander';
import Table from 'cli-table3';
import { openClient } from '../../connection/client.ts';
import { withDatabase } from '../../connection/url.ts';
import { FilterError } from '../../plan/filters.ts';
import type { DatabasePlan } from '../../plan/plan.ts';
import {
  BENCHMARK_BYTES_PER_SECOND_PER_WORKER,
  estimateDatabase,
  formatBytes,
  formatSeconds,
  measureCopyRate,
} from '../../snapshot/estimate.ts';
import { runInit, type InitReport } from '../../snapshot/init.ts';
import type { TargetDrop } from '../../snapshot/drop-target.ts';
import { assertPreconditions } from '../../checks/preconditions.ts';
import { addFilterOptions, filterUsageError, resolveFilters, type FilterFlags } from '../filter-options.ts';
import { addJobOptions, commandRecord, InterruptedError } from '../job-options.ts';
import { onInterrupt } from '../interrupt.ts';
import { deriveJobId } from '../../jobs/naming.ts';
import { CheckpointWriter } from '../../jobs/checkpoint-writer.ts';
import { localJobStore } from '../job-record.ts';
import { loggerFor, resolveEndpoints, type GlobalOptions } from '../global-options.ts';
import { addInteractiveOptions, choosePlanInteractively, wantsWizard, type InteractiveFlags } from '../interactive.ts';
import { EXIT_FAILED, EXIT_OK, UsageError, type CliIo } from '../io.ts';
import { WizardCancelled } from '../wizard/prompts.ts';
import { createCopyProgress } from '../progress.ts';
import { positiveNumber, wholeNumber } from '../parsers.ts';
import { confirm as askYesNo } from '../prompt.ts';
import { renderJson } from '../render.ts';
import { remoteMode } from '../remote-options.ts';
import { runRemote } from './remote.ts';

interface InitOptions extends FilterFlags, InteractiveFlags {
  jobs: number;
  sync: boolean;
  dropExisting: boolean;
  roles: boolean;
  jobId?: string;
  stateDir: string;
  splitTablesLargerThan: number;
  trackDdl: boolean;
}

function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`"${text}" is not a size; write e.g. 512MB or 2GB.`);
  const factor = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Math.round(Number(m[1]) * factor);
}

export function initCommand(io: CliIo, setExitCode: (code: number) => void): Command {
  const command = new Command('init')
    .summary('copy a consistent snapshot of the source into the target, ready for sync')
    .description(
      'Creates a publication and a logical replication slot with an exported snapshot on the source, then copies\n' +
        'the schema (pg_dump pre-data), the data (parallel COPY streamed from source to target, every worker inside\n' +
        'that snapshot), large objects, indexes and constraints (post-data, in parallel) and sequence values.\n' +
        "The copy ends exactly at the slot's consistent point, where `sync` starts streaming: nothing is lost or applied twice.\n\n" +
        'Progress is recorded per table in the state folder; if init is interrupted, run the same command again: finished\n' +
        'tables are kept and the rest are copied again through the slot (see README, "Resuming init").\n\n' +
        'On a terminal without filters (or with --interactive) it asks step by step what to replicate, shows the plan\n' +
        'with the equivalent command line and TOML, and uses exactly those choices; Esc goes back a step.\n\n' +
        '--track-ddl adds an event trigger on the source that records each ALTER TABLE and CREATE INDEX on a replicated\n' +
        'table into a log that is itself replicated; on the target a trigger applies, in stream order, new columns (with\n' +
        'constant defaults), widened types, relaxed NOT NULLs, defaults and new indexes, and records what it skipped\n' +
        '(drops, renames, narrowing changes: status lists them with the statements to run). It runs inside the\n' +
        "application's DDL transactions on the source; cleanup removes it on both sides.",
    )
    .addOption(
      new Option('-j, --jobs <n>', 'parallel copy workers')
        .argParser(wholeNumber('--jobs', 1, 64))
        .default(Math.max(2, globalThis.navigator?.hardwareConcurrency ?? 2), 'number of CPUs, at least 2'),
    )
    .option('--no-sync', 'snapshot-only copy: drop the slot and publication at the end, so no WAL is retained')
    .option('--drop-existing', 'drop and recreate target databases that already hold the planned tables', false)
    .option('--no-roles', 'do not copy roles (pg_dumpall --globals-only); owners and grants are then not restored')
    .option(
      '--track-ddl',
      'record schema changes of replicated tables on the source (an event trigger: needs a superuser or rds_superuser) and apply the additive ones on the target in stream order, so replication does not stop on them (README, "Schema changes")',
      false,
    )
    .addOption(
      new Option('--split-tables-larger-than <size>', 'copy tables bigger than this as several page ranges in parallel')
        .argParser(parseSize)
        .default(parseSize('1GB'), '1GB'),
    )
    .addOption(
      new Option(
        '--max-retained-wal-gb <gb>',
        "remote mode: the monitor drops a slot of this job that retains more WAL than this many GiB, so the source's disk never fills (the target then stops receiving that database's changes; the job record says why). Left out, slots are only alarmed on",
      ).argParser(positiveNumber('--max-retained-wal-gb', 1_000_000)),
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  database-replicator init --yes\n' +
        '  database-replicator init --include-tables \'shop.public.orders,shop."Order Items"\' --time-filter "shop.events:created_at:6 months"\n' +
        '  database-replicator init --no-sync --jobs 4 --json\n' +
        '  database-replicator init --track-ddl --yes\n' +
        '  database-replicator init --interactive --save-config replication.toml   (then: init --config replication.toml)\n',
    );
  return addJobOptions(addInteractiveOptions(addFilterOptions(command))).action(
    async (options: InitOptions, command: Command) => {
      // Remote mode: the replicate workflow does the work (src/remote/run.ts).
      if (remoteMode(command, io, ['maxRetainedWalGb']))
        return runRemote('init', { ...options }, command, io, setExitCode);
      const globals = command.optsWithGlobals<GlobalOptions>();
      const logger = loggerFor(globals, io);
      const { source, target } = resolveEndpoints(globals, command, logger);
      const tls = { allowSelfSignedCerts: globals.allowSelfSignedCerts };
      if (options.trackDdl && !options.sync)
        throw new UsageError(
          '--track-ddl carries schema changes through replication, which --no-sync leaves out; pass one of them.',
        );
      const resolved = resolveFilters(options, command);
      const jobs = resolved.jobs ?? options.jobs;
      let filters = resolved.filters;
      if (wantsWizard(options, globals, io)) {
        try {
          filters = (
            await choosePlanInteractively({ source, tls, command: 'init', io, saveConfig: options.saveConfig })
          ).filters;
        } catch (error) {
          if (!(error instanceof WizardCancelled)) throw error;
          io.stdout(`${error.message}\n`);
          setExitCode(EXIT_FAILED);
          return;
        }
      }
      const confirm = async (plans: DatabasePlan[], drops: TargetDrop[]) => {
        const estimates = [];
        for (const plan of plans) {
          // Nobody waits on the answer with --yes: the benchmark's rate is enough, and the calibration's second is saved.
          if (globals.yes) {
            estimates.push(estimateDatabase(plan, BENCHMARK_BYTES_PER_SECOND_PER_WORKER, jobs));
            continue;
          }
          const client = await openClient(withDatabase(source, plan.source), { role: 'source', ...tls });
          try {
            estimates.push(estimateDatabase(plan, await measureCopyRate(client, plan), jobs));
          } finally {
            await client.end().catch(() => undefined);
          }
        }
        const table = new Table({ head: ['Database', 'Size', 'Est. Time', 'Target'], style: { head: [], border: [] } });
        for (const [i, e] of estimates.entries()) {
          const target = plans[i]!.target;
          const drop = drops.find((d) => d.database === target);
          table.push([
            e.database,
            formatBytes(e.bytes),
            formatSeconds(e.seconds),
            drop
              ? `${target}: DROPPED and recreated (holds ${drop.tables} table(s), ${formatBytes(drop.bytes)})`
              : target,
          ]);
        }
        table.push([
          'Total',
          formatBytes(estimates.reduce((n, e) => n + e.bytes, 0)),
          formatSeconds(estimates.reduce((n, e) => n + e.seconds, 0)),
          '',
        ]);
        (globals.json ? io.stderr : io.stdout)(table.toString() + '\n');
        if (drops.length)
          (globals.json ? io.stderr : io.stdout)(
            `--drop-existing: ${drops.map((d) => d.database).join(', ')} on the target will be dropped with everything in it.\n`,
          );
        return globals.yes || askYesNo(io, 'init', 'Proceed with replication?');
      };
      const jobId = options.jobId ?? deriveJobId(source, target);
      const record = commandRecord('init', { jobId, source, target }, options.stateDir, logger);
      const store = localJobStore(options.stateDir);
      const checkpoints = new CheckpointWriter(store, jobId);
      let begun = false;
      let stopListening = () => undefined as void;
      const begin = async () => {
        if (!begun) {
          stopListening = onInterrupt(() => record.failed(new InterruptedError()), io.stderr);
          await record.begin('Copy snapshot');
        }
        begun = true;
      };
      // A resumed init asks nothing; a new one is recorded once the user said yes.
      if (await checkpoints.load()) await begin();
      const draw = globals.logLevel === 'error' ? undefined : createCopyProgress(io.stderr, io.isTty && !globals.json);
      let report: InitReport;
      try {
        report = await runInit({
          source,
          target,
          tls,
          filters,
          jobId,
          jobs,
          noSync: !options.sync,
          trackDdl: options.trackDdl,
          dropExisting: options.dropExisting,
          copyRoles: options.roles,
          splitBytes: options.splitTablesLargerThan,
          checkpoints,
          jobDir: store.filesDir(jobId),
          logger,
          whenFinished: options.dropExisting ? 'refresh' : 'refuse',
          assertPreconditions: (scope) =>
            assertPreconditions('init', scope, {
              source,
              target,
              allowSelfSignedCerts: tls.allowSelfSignedCerts,
              filters,
              trackDdl: options.trackDdl,
            }),
          confirm: async (plans, preview) => {
            const yes = await confirm(plans, preview.drops);
            if (yes) {
              await begin();
              // A finished job runs again (after cleanup, or a refresh): it becomes a new run of the job.
              await record.renew(() => store.startOver(jobId, 'Copy snapshot'));
            }
            return yes;
          },
          onProgress: (p) => {
            draw?.(p);
            record.copyProgress(p);
          },
        });
        if (io.isTty && !globals.json) io.stderr('\r\u001b[2K');
      } catch (error) {
        if (begun) await record.failed(error);
        if (error instanceof FilterError) throw filterUsageError(error, options);
        if (begun && isConnectionLoss(error)) {
          throw new ConnectionLostError(
            `${(error as Error).message.replace(/\.?$/, '')}: a connection to the source or the target was lost during init; what was copied is kept: run the same command again and init resumes where it stopped.`,
            { cause: error },
          );
        }
        throw error;
      } finally {
        stopListening();
      }
      if (begun && !report.cancelled) {
        const noSync = !options.sync;
        for (const d of report.databases) {
          await record.database(d.source, {
            state: noSync ? 'SUCCEEDED' : 'RUNNING',
            phase: noSync ? 'Snapshot copied' : 'Snapshot copied; waiting for sync',
            tablesDone: d.tables,
            tablesTotal: d.tables,
            rowsCopied: d.rows,
            bytesCopied: d.bytes,
          });
        }
        await record.succeeded(
          noSync ? 'Snapshot copied (--no-sync: no replication)' : 'Snapshot copied; the slot waits for sync',
          noSync ? 'SUCCEEDED' : undefined,
        );
      }
      if (globals.json) io.stdout(renderJson({ command: 'init', ok: !report.cancelled, ...report }));
      else io.stdout(renderInitReport(report, !options.sync));
      setExitCode(report.cancelled ? EXIT_FAILED : EXIT_OK);
    },
  );
}

function renderInitReport(report: InitReport, noSync: boolean): string {
  if (report.cancelled) return 'Cancelled; nothing was created.\n';
  const lines: string[] = [];
  if (report.roles) {
    lines.push(
      `Roles: ${report.roles.applied.length} statement(s) applied, ${report.roles.skipped.length} skipped. Passwords are not copied (RDS does not let anyone read them): set them on the target.`,
    );
    for (const s of report.roles.skipped) lines.push(`  skipped: ${s.statement}  (${s.reason})`);
  }
  const steps = ['schema', 'data', 'postData', 'sequences', 'analyze'] as const;
  const table = new Table({
    head: ['Database', 'Tables', 'Rows', 'Size', ...steps.map((s) => (s === 'postData' ? 'indexes' : s))],
    style: { head: [], border: [] },
  });
  for (const d of report.databases) {
    table.push([
      d.source === d.target ? d.source : `${d.source} -> ${d.target}`,
      d.tables,
      d.rows,
      formatBytes(d.bytes),
      ...steps.map((s) => (d.steps[s] !== undefined ? `${d.steps[s]!.toFixed(1)} s` : '-')),
    ]);
  }
  lines.push(table.toString());
  for (const d of report.databases) {
    if (d.resynced.length)
      lines.push(`${d.source}: resumed; copied again under a new snapshot: ${d.resynced.join(', ')}.`);
    if (noSync)
      lines.push(
        `${d.source}: snapshot-only copy (--no-sync); the slot and publication were dropped, no WAL is retained.`,
      );
    else if (d.subscription)
      lines.push(`${d.source}: subscription ${d.subscription} on the target is streaming changes from slot ${d.slot}.`);
    else
      lines.push(
        `${d.source}: slot ${d.slot} (consistent point ${d.consistentPoint}) retains WAL on the source until you run sync or cleanup.`,
      );
  }
  lines.push(`Job ${report.jobId} ${report.resumed ? 'resumed and ' : ''}finished.`);
  return lines.join('\n') + '\n';
}

export class ConnectionLostError extends Error {
  override name = 'ConnectionLostError';
}

/** A session cut mid-work (network, server restart, pg_terminate_backend), as opposed to a refusal. */
function isConnectionLoss(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return (
    ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02', '57P03'].includes(e.code ?? '') ||
    /ECONNRESET|Connection terminated unexpectedly|terminating connection/i.test(e.message ?? '')
  );
}
