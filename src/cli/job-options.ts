import type { Command } from 'commander';
import type { Logger } from '../log/logger.ts';
import { loadJob, type JobContext } from '../replication/job.ts';
import { defaultStateDir } from '../snapshot/state.ts';
import { loggerFor, resolveEndpoints, type GlobalOptions } from './global-options.ts';
import type { CliIo } from './io.ts';

export interface JobOptions {
  jobId?: string;
  stateDir: string;
}

/** --job-id and --state-dir: how every command after init finds the job that init recorded. */
export function addJobOptions(command: Command): Command {
  return command
    .option('--job-id <id>', 'the job to act on (default: derived from the source and target addresses, as init does)')
    .option('--state-dir <dir>', 'where init recorded the job (no passwords)', defaultStateDir());
}

/** What every job command starts from: its global options, a logger, and the job init recorded. */
export function jobCommandContext(command: Command, options: JobOptions, io: CliIo): { globals: GlobalOptions; logger: Logger; job: JobContext } {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const logger = loggerFor(globals, io);
  const { source, target } = resolveEndpoints(globals, command, logger);
  const job = loadJob({ source, target, tls: { allowSelfSignedCerts: globals.allowSelfSignedCerts }, jobId: options.jobId, stateDir: options.stateDir });
  return { globals, logger, job };
}
