import { Command } from 'commander';
import { runCleanup } from '../../replication/cleanup.ts';
import { addJobOptions, commandRecord, jobCommandContext, recorded, type JobOptions } from '../job-options.ts';
import { EXIT_FAILED, EXIT_OK, type CliIo } from '../io.ts';
import { confirm } from '../prompt.ts';
import { renderJson } from '../render.ts';
import { remoteMode } from '../remote-options.ts';
import { runRemote } from './remote.ts';

export function cleanupCommand(io: CliIo, setExitCode: (code: number) => void): Command {
  const command = new Command('cleanup')
    .summary('drop the subscriptions, publications and slots of a job (idempotent)')
    .description(
      "Drops the job's subscriptions on the target (disabling them first, and detaching the slot when the source is\n" +
        'unreachable), then its publications and slots on the source, including orphans of an interrupted run, and\n' +
        'forgets the job. The event trigger, functions and schema of init --track-ddl go on both sides. Running it again\n' +
        'does nothing. Data on the target is kept.',
    )
    .addHelpText('after', '\nExamples:\n  database-replicator cleanup\n  database-replicator cleanup --yes --json\n');
  return addJobOptions(command).action(async (options: JobOptions, cmd: Command) => {
    // Remote mode: the verify schedule is deleted and the clean-up workflow runs (src/remote/run.ts).
    if (remoteMode(cmd, io)) return runRemote('cleanup', { ...options }, cmd, io, setExitCode);
    const { globals, logger, job } = await jobCommandContext(cmd, options, io);
    if (
      !globals.yes &&
      !(await confirm(io, 'cleanup', `Drop the subscriptions, publications and slots of job ${job.jobId}?`))
    ) {
      io.stdout('Cancelled; nothing was dropped.\n');
      setExitCode(EXIT_FAILED);
      return;
    }
    const record = commandRecord('cleanup', job, options.stateDir, logger);
    const result = await recorded(record, 'Clean up', () => runCleanup(job, logger));
    // Cleaning up a job that never cut over ends it: nothing replicates any more.
    if (result.warnings.length) await record.failed(new Error(result.warnings.join(' ')));
    else await record.succeeded('Cleaned up before cut-over: replication stopped', 'CANCELLED');
    if (globals.json)
      io.stdout(renderJson({ command: 'cleanup', ok: result.warnings.length === 0, jobId: job.jobId, ...result }));
    else {
      io.stdout(
        result.dropped.length
          ? result.dropped.map((d) => `dropped ${d}\n`).join('')
          : `Nothing to clean up for job ${job.jobId}.\n`,
      );
      for (const w of result.warnings) io.stderr(`warning: ${w}\n`);
    }
    setExitCode(result.warnings.length ? EXIT_FAILED : EXIT_OK);
  });
}
