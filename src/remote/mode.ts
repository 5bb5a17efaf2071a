// Local or remote: --local always runs in this process, --remote always on the AWS deployment, and
// with neither the work goes to AWS exactly when a deployment is configured. The choice is said in
// one line unless a flag made it.
import type { DeploymentHint } from './deployment.ts';
import { ENV } from './deployment.ts';
import { RemoteUsageError } from './errors.ts';

export interface ModeChoice {
  remote: boolean;
  /** The one line to print on stderr, when the mode was chosen without a flag. */
  line?: string;
}

export const HOW_TO_CONFIGURE = `pass --stack-name <stack>, set ${ENV.replicateStateMachineArn} and ${ENV.jobTableName}, or run "database-replicator remote configure --stack-name <stack>" once`;

export function selectMode(
  flags: { local?: boolean | undefined; remote?: boolean | undefined },
  hint: DeploymentHint | undefined,
): ModeChoice {
  if (flags.local && flags.remote)
    throw new RemoteUsageError(
      '--local and --remote exclude each other; pass one of them (or neither, to run remotely exactly when a deployment is configured).',
    );
  if (flags.local) return { remote: false };
  if (flags.remote) {
    if (!hint) throw new RemoteUsageError(`--remote needs a deployed stack: ${HOW_TO_CONFIGURE}.`);
    return { remote: true };
  }
  if (hint)
    return {
      remote: true,
      line: `Running remotely on the AWS deployment (${hint.label}); pass --local to run in this process instead.`,
    };
  return {
    remote: false,
    line: 'Running locally: no AWS deployment is configured (see "database-replicator remote configure --help"); pass --local to skip this line.',
  };
}
