import { Command, Option } from 'commander';
import { runCutover } from '../../replication/cutover.ts';
import { addJobOptions, commandRecord, jobCommandContext, recorded, type JobOptions } from '../job-options.ts';
import { EXIT_OK, type CliIo } from '../io.ts';
import { wholeNumber } from '../parsers.ts';
import { renderJson } from '../render.ts';
import { remoteMode } from '../remote-options.ts';
import { runRemote } from './remote.ts';

interface CutoverOptions extends JobOptions {
  maxLagBytes: number;
  timeout: number;
  readOnlySource: boolean;
  sequenceMargin: number;
}

export function cutoverCommand(io: CliIo, setExitCode: (code: number) => void): Command {
  const command = new Command('cutover')
    .summary('switch to the target: wait for zero lag, copy sequences, refresh materialized views')
    .description(
      'Waits until the lag is under --max-lag-bytes, optionally makes the source read-only (--read-only-source: new\n' +
        'sessions start read-only and open client sessions are ended), waits until the target has applied the\n' +
        "source's current WAL position, then copies every sequence value from the source (plus --sequence-margin)\n" +
        'and refreshes materialized views on the target. Point your applications at the target afterwards.',
    )
    .addOption(
      new Option('--max-lag-bytes <n>', 'lag to wait for before switching')
        .argParser(wholeNumber('--max-lag-bytes', 0))
        .default(1024 * 1024),
    )
    .addOption(
      new Option('--timeout <seconds>', 'give up waiting after this long')
        .argParser(wholeNumber('--timeout', 0))
        .default(600),
    )
    .option('--read-only-source', 'make the source databases read-only before the final catch-up', false)
    .addOption(
      new Option('--sequence-margin <n>', 'add this much headroom to every sequence on the target')
        .argParser(wholeNumber('--sequence-margin', 0))
        .default(0),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  database-replicator cutover --read-only-source\n  database-replicator cutover --sequence-margin 1000 --json\n',
    );
  return addJobOptions(command).action(async (options: CutoverOptions, cmd: Command) => {
    // Remote mode: a cut-over workflow, when the deployment has one (src/remote/run.ts).
    if (remoteMode(cmd, io)) return runRemote('cutover', { ...options }, cmd, io, setExitCode);
    const { globals, logger, job } = await jobCommandContext(cmd, options, io);
    const record = commandRecord('cutover', job, options.stateDir, logger);
    const results = await recorded(record, 'Cut over', () =>
      runCutover({
        job,
        maxLagBytes: options.maxLagBytes,
        timeoutMs: options.timeout * 1000,
        readOnlySource: options.readOnlySource,
        sequenceMargin: options.sequenceMargin,
        logger,
      }),
    );
    await record.databasesTo('SUCCEEDED', 'Cut over');
    await record.succeeded(
      'Cut over: the target has everything; point applications at it, then run cleanup',
      'SUCCEEDED',
    );
    if (globals.json) {
      io.stdout(renderJson({ command: 'cutover', ok: true, jobId: job.jobId, databases: results }));
    } else {
      for (const r of results) {
        io.stdout(
          `${r.database}: target has applied the source up to ${r.appliedLsn}; ${r.sequences} sequence(s) set${r.materializedViews.length ? `, ${r.materializedViews.length} materialized view(s) refreshed` : ''}${r.sourceReadOnly ? '; the source is read-only for new sessions' : ''} (${r.seconds.toFixed(1)} s).\n`,
        );
      }
      io.stdout(
        'Next: point your applications at the target, then run cleanup to drop the subscription, publication and slot.\n',
      );
    }
    setExitCode(EXIT_OK);
  });
}
