// Remote mode's flags, the choice between local and remote, and a command's flags turned into the
// plain request src/remote runs. Commands branch at the top of their action:
//   if (remoteMode(cmd, io)) return runRemote('init', options, cmd, io, setExitCode);
import { Option, type Command } from 'commander';
import { ConnectionUrlError, parseConnectionUrl } from '../connection/url.ts';
import type { Logger } from '../log/logger.ts';
import type { RemoteCommand, RemoteRequest } from '../remote/context.ts';
import { findDeploymentHint } from '../remote/deployment.ts';
import { RemoteUsageError } from '../remote/errors.ts';
import { HOW_TO_CONFIGURE, selectMode } from '../remote/mode.ts';
import { resolveFilters, type FilterFlags } from './filter-options.ts';
import { loggerFor, SOURCE_ENV, TARGET_ENV, type GlobalOptions } from './global-options.ts';
import { UsageError, type CliIo } from './io.ts';

export interface RemoteGlobals {
  remote: boolean;
  stackName?: string;
  region?: string;
  sourceSecret?: string;
  targetSecret?: string;
  sourceEndpoint?: string;
  targetEndpoint?: string;
  sourceInstance?: string;
}

export type CliGlobals = GlobalOptions & RemoteGlobals;

const GROUP = 'Remote mode (the deployed AWS workflow):';

export function addRemoteOptions(program: Command): Command {
  const option = (flags: string, description: string) => new Option(flags, description).helpGroup(GROUP);
  return program
    .addOption(
      option('--remote', 'run the work on the deployed AWS workflow (Step Functions) and follow it here').default(
        false,
      ),
    )
    .addOption(
      option(
        '--stack-name <name>',
        'the deployed CloudFormation stack (or DATABASE_REPLICATOR_STACK_NAME, or run "remote configure" once)',
      ),
    )
    .addOption(option('--region <region>', "AWS region of the stack (default: AWS_REGION, or the saved profile's)"))
    .addOption(
      option(
        '--source-secret <arn>',
        'Secrets Manager secret ARN of the source (an RDS-managed master user secret works as it is)',
      ),
    )
    .addOption(option('--target-secret <arn>', 'Secrets Manager secret ARN of the target'))
    .addOption(
      option('--source-endpoint <host:port>', 'the source address, for a secret that holds no host (RDS-managed)'),
    )
    .addOption(option('--target-endpoint <host:port>', 'the target address, for a secret that holds no host'))
    .addOption(
      option(
        '--source-instance <id>',
        'RDS DB instance or cluster identifier of the source: the workflow checks its parameter group',
      ),
    );
}

export const MODES_HELP =
  '\nModes:\n' +
  '  --local   the work runs in this process against --source and --target.\n' +
  '  --remote  the work runs on the deployed AWS workflow (Step Functions, Lambda, Fargate): the CLI starts an\n' +
  '            execution and follows it (state, per-database progress, console link); Ctrl-C stops following only.\n' +
  '  neither   remote when a deployment is configured (--stack-name, DATABASE_REPLICATOR_STATE_MACHINE_ARN and\n' +
  '            DATABASE_REPLICATOR_JOB_TABLE, or "remote configure"), otherwise local; the choice is printed on stderr.\n' +
  '  Remotely, URLs from --source/--target are stored in Secrets Manager and only their ARNs reach the workflow;\n' +
  '  --source-secret/--target-secret pass existing secrets.\n';

function usage<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof RemoteUsageError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

const REMOTE_ONLY = ['sourceSecret', 'targetSecret', 'sourceEndpoint', 'targetEndpoint', 'sourceInstance'];
const flagOf = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * Local or remote for this command (see MODES_HELP), said on stderr when no flag decided it. Remote-only
 * flags in local mode are a usage error, as are the command's own (`commandRemoteOnly`, e.g. --schedule).
 */
export function remoteMode(command: Command, io: CliIo, commandRemoteOnly: string[] = []): boolean {
  const globals = command.optsWithGlobals<CliGlobals & Record<string, unknown>>();
  // --local never reads the saved profile, so a broken one cannot stand in the way of local work.
  const choice = usage(() =>
    selectMode(
      { local: globals.local, remote: globals.remote },
      globals.local ? undefined : findDeploymentHint({ stackName: globals.stackName, env: io.env }),
    ),
  );
  if (choice.line) loggerFor(globals, io).info(choice.line);
  if (!choice.remote) {
    const used = [...REMOTE_ONLY, ...commandRemoteOnly].filter((k) => globals[k] !== undefined && globals[k] !== false);
    if (used.length)
      throw new UsageError(
        `${used.map(flagOf).join(', ')} ${used.length > 1 ? 'need' : 'needs'} remote mode: pass --remote with a deployed stack (${HOW_TO_CONFIGURE}).`,
      );
  }
  return choice.remote;
}

/** A URL checked here, so a bad one is a usage error naming its flag; warns when its password came on the command line. */
function checkedUrl(
  side: 'source' | 'target',
  url: string | undefined,
  command: Command,
  logger: Logger,
): string | undefined {
  if (!url) return undefined;
  let password: string | undefined;
  try {
    password = parseConnectionUrl(url).password;
  } catch (error) {
    if (error instanceof ConnectionUrlError)
      throw new UsageError(
        `The --${side} URL is not valid: ${error.message.charAt(0).toLowerCase()}${error.message.slice(1)}`,
      );
    throw error;
  }
  if (password !== undefined && command.getOptionValueSourceWithGlobals(side) === 'cli') {
    logger.warn(
      `the ${side} password was given on the command line, where other local users can see it; prefer ${side === 'source' ? SOURCE_ENV : TARGET_ENV}.`,
    );
  }
  return url;
}

/** A value the user gave on the command line (not commander's default). */
const given = <T>(command: Command, key: string, value: T): T | undefined =>
  command.getOptionValueSource(key) === 'cli' ? value : undefined;

/** The command's flags as src/remote's request: identifiers, URLs and options, nothing commander-specific. */
export function remoteRequest(
  name: RemoteCommand,
  options: Record<string, unknown>,
  command: Command,
  globals: CliGlobals,
  io: CliIo,
  logger: Logger,
): RemoteRequest {
  if (name === 'init' && (options.interactive || options.saveConfig))
    throw new UsageError(
      "--interactive and --save-config run with --local only (they read the source's catalog); give filters as flags or with --config.",
    );
  const planned =
    name === 'init' || name === 'verify' ? resolveFilters(options as unknown as FilterFlags, command) : undefined;
  const request: RemoteRequest = {
    command: name,
    jobId: options.jobId as string | undefined,
    source: {
      url: checkedUrl('source', globals.source ?? io.env[SOURCE_ENV], command, logger),
      secretArn: globals.sourceSecret,
      endpoint: globals.sourceEndpoint,
      instanceIdentifier: globals.sourceInstance,
    },
    target: {
      url: checkedUrl('target', globals.target ?? io.env[TARGET_ENV], command, logger),
      secretArn: globals.targetSecret,
      endpoint: globals.targetEndpoint,
    },
    databases: planned?.filters.includeDatabases,
    filters: planned?.filters,
    allowSelfSignedCerts: globals.allowSelfSignedCerts,
    yes: globals.yes,
  };
  if (name === 'init') {
    request.init = {
      jobs: given(command, 'jobs', options.jobs as number) ?? planned?.jobs,
      sync: options.sync !== false,
      dropExisting: options.dropExisting === true,
      copyRoles: options.roles !== false,
      splitBytes: given(command, 'splitTablesLargerThan', options.splitTablesLargerThan as number),
      maxRetainedWalGb: options.maxRetainedWalGb as number | undefined,
      trackDdl: options.trackDdl === true,
    };
  } else if (name === 'sync') {
    request.sync = { applyDdl: options.applyDdl === true };
  } else if (name === 'verify') {
    request.verify = {
      jobs: given(command, 'jobs', options.jobs as number) ?? planned?.jobs,
      maxDiffs: given(command, 'maxDiffs', options.maxDiffs as number),
      rowsPerChunk: given(command, 'rowsPerChunk', options.rowsPerChunk as number),
      recheckTimeoutSeconds: given(command, 'recheckTimeout', options.recheckTimeout as number),
      schedule: options.schedule as string | undefined,
      unschedule: options.unschedule === true,
    };
  } else if (name === 'cutover') {
    request.cutover = {
      maxLagBytes: options.maxLagBytes as number,
      timeoutSeconds: options.timeout as number,
      readOnlySource: options.readOnlySource === true,
      sequenceMargin: options.sequenceMargin as number,
    };
  } else if (name === 'status') {
    const watch = options.watch !== undefined && options.watch !== false;
    request.status = { watch, live: watch && io.isTty && !globals.json, columns: io.columns };
  }
  return request;
}
