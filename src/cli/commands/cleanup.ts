import { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { runCleanup } from '../../replication/cleanup.ts';
import { loadJob } from '../../replication/job.ts';
import { addJobOptions, type JobOptions } from '../job-options.ts';
import { loggerFor, resolveEndpoints, type GlobalOptions } from '../global-options.ts';
import { EXIT_FAILED, EXIT_OK, UsageError, type CliIo } from '../io.ts';
import { renderJson } from '../render.ts';

export function cleanupCommand(io: CliIo, setExitCode: (code: number) => void): Command {
  const command = new Command('cleanup')
    .summary('drop the subscriptions, publications and slots of a job (idempotent)')
    .description(
      'Drops the job\'s subscriptions on the target (disabling them first, and detaching the slot when the source is\n' +
        'unreachable), then its publications and slots on the source, including orphans of an interrupted run, and\n' +
        'forgets the job. Running it again does nothing. Data on the target is kept.',
    )
    .addHelpText('after', '\nExamples:\n  database-replicator cleanup\n  database-replicator cleanup --yes --json\n');
  return addJobOptions(command).action(async (options: JobOptions, cmd: Command) => {
    const globals = cmd.optsWithGlobals<GlobalOptions>();
    const logger = loggerFor(globals, io);
    const { source, target } = resolveEndpoints(globals, cmd, logger);
    const job = loadJob({ source, target, tls: { allowSelfSignedCerts: globals.allowSelfSignedCerts }, jobId: options.jobId, stateDir: options.stateDir });
    if (!globals.yes) {
      if (!io.isTty || !process.stdin.isTTY) throw new UsageError('cleanup asks for confirmation but there is no terminal to ask on; pass --yes to proceed without asking.');
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      try {
        const answer = await rl.question(`Drop the subscriptions, publications and slots of job ${job.jobId}? [y/N] `);
        if (!/^y(es)?$/i.test(answer.trim())) {
          io.stdout('Cancelled; nothing was dropped.\n');
          setExitCode(EXIT_FAILED);
          return;
        }
      } finally {
        rl.close();
      }
    }
    const result = await runCleanup(job, logger);
    if (globals.json) io.stdout(renderJson({ command: 'cleanup', ok: result.warnings.length === 0, jobId: job.jobId, ...result }));
    else {
      io.stdout(result.dropped.length ? result.dropped.map((d) => `dropped ${d}\n`).join('') : `Nothing to clean up for job ${job.jobId}.\n`);
      for (const w of result.warnings) io.stderr(`warning: ${w}\n`);
    }
    setExitCode(result.warnings.length ? EXIT_FAILED : EXIT_OK);
  });
}
