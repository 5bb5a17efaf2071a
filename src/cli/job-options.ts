import type { Command } from 'commander';
import { defaultStateDir } from '../snapshot/state.ts';

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
