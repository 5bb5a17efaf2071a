import Table from 'cli-table3';
import { Command, Option } from 'commander';
import { FilterError } from '../../plan/filters.ts';
import { runVerify, type VerifyReport } from '../../verify/verify.ts';
import { addFilterOptions, filterUsageError, resolveFilters, type FilterFlags } from '../filter-options.ts';
import { addJobOptions, commandRecord, jobCommandContext, type JobOptions } from '../job-options.ts';
import { verifyOutcome } from '../../verify/outcome.ts';
import { EXIT_FAILED, EXIT_OK, type CliIo } from '../io.ts';
import { wholeNumber } from '../parsers.ts';
import { renderJson } from '../render.ts';
import { remoteMode } from '../remote-options.ts';
import { runRemote } from './remote.ts';
import { renderDrift } from './status.ts';

interface VerifyOptions extends FilterFlags, JobOptions {
  jobs: number;
  maxDiffs: number;
  rowsPerChunk: number;
  recheckTimeout: number;
}

function keyText(key: Record<string, string>): string {
  return Object.entries(key)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

export function renderVerifyReport(report: VerifyReport, maxDiffs: number): string {
  const out: string[] = [];
  const table = new Table({
    head: ['Database', 'Table', 'Status', 'Rows', 'Chunks', 'Time'],
    style: { head: [], border: [] },
  });
  for (const db of report.databases) {
    for (const t of db.tables)
      table.push([
        db.database,
        t.table,
        t.status === 'different' ? 'DIFFERENT' : t.status === 'unconfirmed' ? 'UNCONFIRMED' : t.status,
        t.rows,
        t.chunks,
        `${t.seconds.toFixed(1)} s`,
      ]);
  }
  out.push(table.toString());
  const matviews = report.databases.flatMap((d) => d.materializedViews);
  if (matviews.length) {
    const views = new Table({
      head: ['Database', 'Materialized view', 'Status', 'Rows'],
      style: { head: [], border: [] },
    });
    for (const m of matviews)
      views.push([m.database, m.matview, m.status === 'ok' ? 'ok' : m.status.toUpperCase(), m.rows ?? 'not populated']);
    out.push(views.toString());
  }
  for (const db of report.databases) {
    for (const t of db.tables.filter((x) => x.status === 'unconfirmed')) {
      out.push(`${db.database}: ${t.table} could not be confirmed (${t.note}).`);
      for (const d of t.unconfirmedRows ?? []) out.push(`  ${'changing'.padEnd(17)} ${keyText(d.key)}`);
    }
    for (const t of db.tables.filter((x) => x.status === 'different')) {
      out.push(`${db.database}: ${t.table} differs${t.note ? ` (${t.note})` : ''}:`);
      for (const d of t.diffs.slice(0, maxDiffs)) out.push(`  ${d.kind.padEnd(17)} ${keyText(d.key)}`);
      // Hot rows beside real differences: listed, but not counted as differences.
      for (const d of t.unconfirmedRows ?? [])
        out.push(
          `  ${'changing'.padEnd(17)} ${keyText(d.key)} (kept changing on the source while re-checked; not a difference)`,
        );
    }
    for (const m of db.materializedViews.filter((x) => x.status !== 'ok'))
      out.push(
        `${db.database}: materialized view ${m.matview} ${m.status === 'different' ? 'differs' : 'could not be confirmed'} (${m.note}).`,
      );
    for (const s of db.schemaDiffs) out.push(`${db.database}: schema: ${s}`);
    if (db.drift.length) out.push(renderDrift(db.drift).trimEnd());
    if (db.sequencesBehind.length)
      out.push(
        `${db.database}: ${db.sequencesBehind.length} sequence(s) behind the source (cutover sets them): ${db.sequencesBehind.slice(0, 5).join(', ')}`,
      );
    if (db.replicationStalled)
      out.push(
        `${db.database}: replication is broken or far behind: the target did not catch up within --recheck-timeout, so the differences above may only be changes not yet applied (see status).`,
      );
    else if (db.rechecked)
      out.push(
        `${db.database}: differences were re-checked after the target caught up with the source; only persistent ones are shown.`,
      );
  }
  const tables = report.databases.flatMap((d) => d.tables);
  const different = tables.filter((t) => t.status === 'different').length;
  const schema = report.databases.reduce((n, d) => n + d.schemaDiffs.length + d.drift.length, 0);
  const unconfirmed = tables.filter((t) => t.status === 'unconfirmed').length;
  const equal = tables.filter((t) => t.status === 'ok' || t.status === 'schema only').length;
  const stalled = report.databases.filter((d) => d.replicationStalled).map((d) => d.database);
  if (!report.ok && stalled.length)
    out.push(
      `Verify could not finish: replication is not keeping up in ${stalled.join(', ')}; fix it (see status), then verify again.`,
    );
  else {
    const views = (status: string) => matviews.filter((m) => m.status === status).length;
    const viewsPassed = matviews.length
      ? `; ${views('ok')} materialized view(s) equal${views('unconfirmed') ? `, ${views('unconfirmed')} unconfirmed` : ''}`
      : '';
    const viewsFailed = views('different') ? `, ${views('different')} materialized view(s) differ` : '';
    out.push(
      report.ok
        ? `Verify passed: ${equal} table(s) equal${unconfirmed ? `, ${unconfirmed} unconfirmed while changing` : ''}${viewsPassed}.`
        : `Verify found differences: ${different} table(s) differ${viewsFailed}, ${schema} schema difference(s).`,
    );
  }
  return out.join('\n') + '\n';
}

export function verifyCommand(io: CliIo, setExitCode: (code: number) => void): Command {
  const command = new Command('verify')
    .summary('compare source and target row by row, in chunks, while replication runs')
    .description(
      'Hashes every row (64-bit, canonical session settings, columns matched by name) and sums the hashes per key\n' +
        'range on both servers, so only hashes cross the network; mismatching ranges are narrowed down to keys and\n' +
        'reported as missing on target, extra on target, or different. While replication streams, mismatches are\n' +
        're-checked once the target has applied what the source had written, so only persistent differences count.\n' +
        'Tables without a primary key are compared as a whole (count and multiset hash). The schema is compared too.\n' +
        "Uses the job's recorded filters (time windows included) when init ran; otherwise the filter flags.\n" +
        'Exit code 1 on any difference.',
    )
    .addOption(new Option('-j, --jobs <n>', 'parallel session pairs').argParser(wholeNumber('--jobs', 1)).default(2))
    .addOption(
      new Option('--max-diffs <n>', 'differing keys to report per table')
        .argParser(wholeNumber('--max-diffs', 1))
        .default(20),
    )
    .addOption(
      new Option('--rows-per-chunk <n>', 'target rows per compared key range')
        .argParser(wholeNumber('--rows-per-chunk', 1))
        .default(100_000),
    )
    .addOption(
      new Option(
        '--recheck-timeout <seconds>',
        'how long a live re-check waits for the target to catch up (once, in all: a target that never catches up means replication is broken)',
      )
        .argParser(wholeNumber('--recheck-timeout', 1))
        .default(120),
    )
    .option(
      '--schedule <expression>',
      'remote mode: run verify on this EventBridge Scheduler schedule, e.g. "rate(6 hours)" or "cron(0 3 * * ? *)" (UTC)',
    )
    .option('--unschedule', "remote mode: delete the job's verify schedule")
    .addHelpText(
      'after',
      '\nExamples:\n  database-replicator verify\n  database-replicator verify --include-tables shop.orders --max-diffs 100 --json\n  database-replicator verify --remote --job-id shop --schedule "rate(6 hours)"\n',
    );
  return addJobOptions(addFilterOptions(command)).action(async (options: VerifyOptions, cmd: Command) => {
    // Remote mode: the verify workflow, or the job's verify schedule (src/remote/run.ts).
    if (remoteMode(cmd, io, ['schedule', 'unschedule']))
      return runRemote('verify', { ...options }, cmd, io, setExitCode);
    const { globals, logger, job } = await jobCommandContext(cmd, options, io);
    let report: VerifyReport;
    const record = commandRecord('verify', job, options.stateDir, logger);
    const startedAt = new Date().toISOString();
    try {
      const { filters, jobs = options.jobs } = resolveFilters(options, cmd);
      report = await runVerify({
        job,
        filters,
        jobs,
        maxDiffs: options.maxDiffs,
        rowsPerChunk: options.rowsPerChunk,
        recheckTimeoutMs: options.recheckTimeout * 1000,
        logger,
      });
    } catch (error) {
      if (error instanceof FilterError) throw filterUsageError(error, options);
      await record.verifyRun({
        runId: startedAt.replace(/\D/g, ''),
        startedAt,
        endedAt: new Date().toISOString(),
        outcome: 'error',
        tables: { total: 0, equal: 0, different: 0, unconfirmed: 0, error: 0 },
        differences: 0,
        error: (error as Error).message.slice(0, 4000),
      });
      throw error;
    }
    const { schemaDiffs: _schemaDiffs, ...summary } = verifyOutcome(report);
    await record.verifyRun({
      runId: startedAt.replace(/\D/g, ''),
      startedAt,
      endedAt: new Date().toISOString(),
      ...summary,
    });
    if (globals.json) io.stdout(renderJson({ command: 'verify', jobId: job.jobId, ...report }));
    else io.stdout(renderVerifyReport(report, options.maxDiffs));
    setExitCode(report.ok ? EXIT_OK : EXIT_FAILED);
  });
}
