// `remote configure` (save which deployment to use), `remote show`, `remote forget`, and runRemote: the
// bridge every command's action uses in remote mode, with the AWS clients (injectable for tests).
import { Command } from 'commander';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ConnectionUrlError } from '../../connection/url.ts';
import type { JobStore } from '../../jobs/store.ts';
import type { RemoteClients, RemoteCommand, RemoteContext } from '../../remote/context.ts';
import {
  deploymentFromEnv,
  deploymentFromStack,
  profilePath,
  removeProfile,
  resolveDeployment,
  writeProfile,
  type Deployment,
  type DeploymentOrigin,
} from '../../remote/deployment.ts';
import { RemoteUsageError } from '../../remote/errors.ts';
import { HOW_TO_CONFIGURE } from '../../remote/mode.ts';
import { loggerFor } from '../global-options.ts';
import { EXIT_OK, UsageError, type CliIo } from '../io.ts';
import { confirm } from '../prompt.ts';
import { remoteRequest, type CliGlobals } from '../remote-options.ts';
import { renderJson } from '../render.ts';

/** The clients remote mode uses; tests pass their own through `RemoteCliIo.remote`. */
export interface AwsClients extends Omit<RemoteClients, 'store'> {
  cloudFormation: CloudFormationClient;
  store: (tableName: string) => JobStore;
}
export interface RemoteRuntime {
  clients: (region: string | undefined) => Promise<AwsClients>;
  /** Aborted to stop following (default: Ctrl-C, SIGINT). */
  interrupt?: AbortSignal;
  pollMs?: number;
  now?: () => Date;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}
export interface RemoteCliIo extends CliIo {
  remote?: Partial<RemoteRuntime>;
}

/** The SDK is loaded only when remote mode runs, so local commands start as fast as before. */
async function defaultClients(region: string | undefined): Promise<AwsClients> {
  const [cfn, sm, sch, sfn, ddb, lib, jobs, ex, cw] = await Promise.all([
    import('@aws-sdk/client-cloudformation'),
    import('@aws-sdk/client-secrets-manager'),
    import('@aws-sdk/client-scheduler'),
    import('@aws-sdk/client-sfn'),
    import('@aws-sdk/client-dynamodb'),
    import('@aws-sdk/lib-dynamodb'),
    import('../../jobs/dynamodb-store.ts'),
    import('../../remote/executions.ts'),
    import('@aws-sdk/client-cloudwatch'),
  ]);
  const config = { ...(region ? { region } : {}), maxAttempts: 5 };
  return {
    cloudFormation: new cfn.CloudFormationClient(config),
    secrets: new sm.SecretsManagerClient(config),
    scheduler: new sch.SchedulerClient(config),
    cloudWatch: new cw.CloudWatchClient(config),
    executions: ex.sfnExecutions(new sfn.SFNClient(config)),
    store: (tableName) =>
      new jobs.DynamoDbJobStore({ client: lib.DynamoDBDocumentClient.from(new ddb.DynamoDBClient(config)), tableName }),
  };
}

function runtimeOf(io: CliIo): Partial<RemoteRuntime> {
  return (io as RemoteCliIo).remote ?? {};
}

/** Usage problems exit 2; AWS problems (RemoteFailure) stay errors: exit 1 with their sentence. */
async function translated<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof RemoteUsageError || error instanceof ConnectionUrlError)
      throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

/** The deployment (stack, environment or profile) and the clients in its region. */
export async function connect(
  globals: CliGlobals,
  io: CliIo,
): Promise<{ deployment: Deployment; origin: DeploymentOrigin; label: string; clients: AwsClients }> {
  const factory = runtimeOf(io).clients ?? defaultClients;
  const region = globals.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION;
  let first: AwsClients | undefined;
  const resolved = await resolveDeployment({
    stackName: globals.stackName,
    env: io.env,
    cloudFormation: async () => (first ??= await factory(region)).cloudFormation,
  });
  if (!resolved) throw new RemoteUsageError(`No AWS deployment is configured: ${HOW_TO_CONFIGURE}.`);
  const { deployment, origin } = resolved;
  const clients = first && region === deployment.region ? first : await factory(deployment.region);
  const label = deployment.stackName
    ? `stack ${deployment.stackName} (${deployment.region})`
    : `the deployment in ${deployment.region}`;
  return { deployment, origin, label, clients };
}

/** Runs `name` on the deployed workflow; the exit code is 0 done, 1 failed, 130 stopped following (Ctrl-C). */
export async function runRemote(
  name: RemoteCommand,
  options: Record<string, unknown>,
  command: Command,
  io: CliIo,
  setExitCode: (code: number) => void,
): Promise<void> {
  const globals = command.optsWithGlobals<CliGlobals>();
  const logger = loggerFor(globals, io);
  const runtime = runtimeOf(io);
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  await translated(async () => {
    const request = remoteRequest(name, options, command, globals, io, logger);
    const { deployment, origin, label, clients } = await connect(globals, io);
    const watchSeconds = name === 'status' && typeof options.watch === 'string' ? Number(options.watch) : undefined;
    if (watchSeconds !== undefined && !(watchSeconds > 0))
      throw new UsageError(`--watch takes a number of seconds, not "${String(options.watch)}".`);
    const ctx: RemoteContext = {
      deployment,
      deploymentLabel: label,
      ...(origin === 'stack' && globals.stackName
        ? { deploymentFlags: `--stack-name ${deployment.stackName} --region ${deployment.region}` }
        : {}),
      clients: { ...clients, store: clients.store(deployment.jobTableName) },
      stdout: io.stdout,
      stderr: io.stderr,
      json: globals.json,
      logger,
      signal: runtime.interrupt ?? controller.signal,
      pollMs: watchSeconds !== undefined ? watchSeconds * 1000 : (runtime.pollMs ?? 5000),
      now: runtime.now ?? (() => new Date()),
      ...(runtime.sleep ? { sleep: runtime.sleep } : {}),
      confirm: (question) => confirm(io, name, question),
    };
    if (!runtime.interrupt) process.once('SIGINT', onSigint);
    try {
      // The remote runtime and its SDK clients load only here: local commands start without them.
      const { runRemoteCommand } = await import('../../remote/run.ts');
      setExitCode(await runRemoteCommand(request, ctx));
    } finally {
      process.off('SIGINT', onSigint);
    }
  });
}

function describeDeployment(d: Deployment): string {
  const rows: [string, string | undefined][] = [
    ['stack', d.stackName],
    ['region', d.region],
    ['replicate workflow', d.replicateStateMachineArn],
    ['verify workflow', d.verifyStateMachineArn],
    ['clean-up workflow', d.cleanupStateMachineArn],
    ['cut-over workflow', d.cutoverStateMachineArn ?? 'none (cutover cannot run remotely)'],
    ['job table', d.jobTableName],
    ['secrets prefix', d.secretsPrefix],
    ['schedule group', d.scheduleGroupName],
    [
      'scheduler role',
      d.schedulerRoleArn ?? 'unknown (set DATABASE_REPLICATOR_SCHEDULER_ROLE_ARN for verify --schedule)',
    ],
  ];
  return rows
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `  ${k.padEnd(19)} ${v}\n`)
    .join('');
}

export function remoteCommand(io: CliIo, setExitCode: (code: number) => void): Command {
  const remote = new Command('remote')
    .summary('choose the deployed AWS workflow that remote mode uses')
    .description(
      'Remote mode runs init, sync, verify, cleanup and status on the deployed stack (see "database-replicator --help", Modes).',
    );
  remote
    .command('configure')
    .summary('save the deployment (from --stack-name or the environment variables) as the default')
    .description(
      "Reads the stack's outputs (CloudFormation DescribeStacks) with --stack-name, or takes DATABASE_REPLICATOR_STATE_MACHINE_ARN and " +
        'DATABASE_REPLICATOR_JOB_TABLE, and saves them in ~/.config/database-replicator/remote.json (no secrets; the folder follows ' +
        'XDG_CONFIG_HOME or DATABASE_REPLICATOR_CONFIG_DIR). Commands then run remotely unless --local.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  database-replicator remote configure --stack-name DatabaseReplicator --region eu-west-1\n  database-replicator remote show\n',
    )
    .action(async (_options: unknown, cmd: Command) => {
      const globals = cmd.optsWithGlobals<CliGlobals>();
      await translated(async () => {
        let deployment = deploymentFromEnv(io.env);
        if (globals.stackName || !deployment) {
          if (!globals.stackName)
            throw new RemoteUsageError(
              'Pass --stack-name <stack> (and --region), or set DATABASE_REPLICATOR_STATE_MACHINE_ARN and DATABASE_REPLICATOR_JOB_TABLE, to say which deployment to save.',
            );
          const clients = await (runtimeOf(io).clients ?? defaultClients)(
            globals.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION,
          );
          deployment = await deploymentFromStack(clients.cloudFormation, globals.stackName, io.env);
        }
        const path = profilePath(io.env);
        writeProfile(path, deployment);
        if (globals.json) io.stdout(renderJson({ command: 'remote configure', ok: true, profile: path, deployment }));
        else
          io.stdout(`Saved in ${path}; commands now run remotely unless --local:\n${describeDeployment(deployment)}`);
        setExitCode(EXIT_OK);
      });
    });
  remote
    .command('show')
    .summary('print the deployment remote mode would use, and where it comes from')
    .action(async (_options: unknown, cmd: Command) => {
      const globals = cmd.optsWithGlobals<CliGlobals>();
      await translated(async () => {
        const { deployment, origin } = await connect(globals, io);
        const from = {
          stack: `the outputs of stack ${deployment.stackName}`,
          env: 'the DATABASE_REPLICATOR_* environment variables',
          profile: profilePath(io.env),
        }[origin];
        if (globals.json) io.stdout(renderJson({ command: 'remote show', ok: true, origin, deployment }));
        else io.stdout(`From ${from}:\n${describeDeployment(deployment)}`);
        setExitCode(EXIT_OK);
      });
    });
  remote
    .command('forget')
    .summary('delete the saved deployment, so commands run locally again')
    .action(() => {
      const path = profilePath(io.env);
      io.stdout(removeProfile(path) ? `Deleted ${path}.\n` : `No saved deployment at ${path}.\n`);
      setExitCode(EXIT_OK);
    });
  return remote;
}
