import { Option, type Command } from 'commander';
import { jobIdSchema } from '../jobs/types.ts';
import type { Logger } from '../log/logger.ts';
import { loadJob, type JobContext } from '../replication/job.ts';
import { CheckpointWriter } from '../jobs/checkpoint-writer.ts';
import { defaultStateDir } from '../jobs/local-store.ts';
import { CommandRecord, localJobStore } from './job-record.ts';
import { loggerFor, resolveEndpoints, type GlobalOptions } from './global-options.ts';
import { UsageError, type CliIo } from './io.ts';
import { onInterrupt } from './interrupt.ts';

export interface JobOptions {
  jobId?: string;
  stateDir: string;
}

/** --job-id and --state-dir: how every command after init finds the job that init recorded. */
export function addJobOptions(command: Command): Command {
  return command
    .option('--job-id <id>', 'the job to act on (default: derived from the source and target addresses, as init does)')
    .addOption(new Option('--job <id>', 'the same as --job-id').hideHelp())
    .option('--state-dir <dir>', 'where init recorded the job (no passwords)', defaultStateDir())
    .hook('preAction', (cmd) => {
      const { job, jobId } = cmd.opts<{ job?: string; jobId?: string }>();
      if (job !== undefined && jobId !== undefined && jobId !== job)
        throw new UsageError(`--job ${job} and --job-id ${jobId} name different jobs; give one.`);
      const id = job ?? jobId;
      // The id names files in the state folder: "../x" must not reach outside it.
      if (id !== undefined && !jobIdSchema.safeParse(id).success) {
        throw new UsageError(
          `--job-id ${JSON.stringify(id)} is not a job id; use 1 to 128 letters, digits, "_", "-" or "." (not first).`,
        );
      }
      if (job !== undefined) cmd.setOptionValue('jobId', job);
    });
}

/** What every job command starts from: its global options, a logger, and the job init recorded. */
export async function jobCommandContext(
  command: Command,
  options: JobOptions,
  io: CliIo,
): Promise<{ globals: GlobalOptions; logger: Logger; job: JobContext }> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const logger = loggerFor(globals, io);
  const { source, target } = resolveEndpoints(globals, command, logger);
  const store = localJobStore(options.stateDir);
  const job = await loadJob({
    source,
    target,
    tls: { allowSelfSignedCerts: globals.allowSelfSignedCerts },
    jobId: options.jobId,
    checkpoints: (jobId) => new CheckpointWriter(store, jobId),
  });
  return { globals, logger, job };
}

/** This command's entry in the job record of the state folder (see job-record.ts). */
export function commandRecord(
  command: string,
  job: { jobId: string; source: JobContext['source']; target: JobContext['target'] },
  stateDir: string,
  logger: Logger,
): CommandRecord {
  return new CommandRecord({
    store: localJobStore(stateDir),
    jobId: job.jobId,
    command,
    source: job.source,
    target: job.target,
    logger,
  });
}

/** Runs a command's work between `begin` and, on failure, `failed` (the caller records success). */
export async function recorded<T>(record: CommandRecord, phase: string, run: () => Promise<T>): Promise<T> {
  const stopListening = onInterrupt(() => record.failed(new InterruptedError()));
  try {
    await record.begin(phase);
    return await run();
  } catch (error) {
    await record.failed(error);
    throw error;
  } finally {
    stopListening();
  }
}

export class InterruptedError extends Error {
  override name = 'InterruptedError';
  constructor() {
    super('interrupted (Ctrl-C); run the same command again to carry on');
  }
}
