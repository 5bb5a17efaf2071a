// One run of the Fargate task: read the secrets, run the subcommand (the engine reads and writes its
// checkpoint through the job store), and record the outcome (progress and state, a step record, Step Functions' task token,
// one JSON line on stdout, one error line on stderr). Exit code: 0 success, 1 failure.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { redact } from '../connection/redact.ts';
import { resolveSecretConnection, type SecretCache } from '../connection/secrets.ts';
import { describeEndpoint, withDatabase, type ConnectionSpec } from '../connection/url.ts';
import { JobAlreadyFinishedError, JobExistsError } from '../jobs/errors.ts';
import type { JobStore } from '../jobs/store.ts';
import { isTerminal, type DatabaseProgressInput, type JobRecord } from '../jobs/types.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import type { Subcommand, TaskConfig } from './config.ts';
import { safeError, type SafeError } from '../errors/safe-error.ts';
import { JobFinished, TaskStopped } from './errors.ts';
import { DatabaseRecorder } from './recorder.ts';
import { checkCertificateFiles } from './rds-ca-bundle.ts';
import { SUBCOMMAND_HANDLERS, type SubcommandHandler, type SubcommandResult } from './subcommands.ts';
import { TaskMetrics, taskMetricSink } from './task-metrics.ts';
import { TaskTokenReporter } from './token.ts';
import type { MetricSink } from '../monitor/metrics.ts';

export interface TaskDependencies {
  secrets: SecretsManagerClient;
  store: JobStore;
  /** Needed when TASK_TOKEN is set. */
  sfn?: SFNClient;
  stdout?: (line: string) => void;
  stderr?: (line: string) => void;
  /** Aborted on SIGTERM (ECS stops a task that way): the outcome is recorded as TaskStopped. */
  signal?: AbortSignal;
  heartbeatMs?: number;
  progressThrottleMs?: number;
  /** Parent of the task's temporary folder for the job's files (default: the OS temp folder). */
  tmpDir?: string;
  /** Where the copy and verify metrics go; default: Powertools Metrics when POWERTOOLS_METRICS_NAMESPACE is set, null for none. */
  metrics?: MetricSink | null;
  /** Replaces subcommands (tests). */
  handlers?: Partial<Record<Subcommand, SubcommandHandler>>;
}

type Fields = Partial<DatabaseProgressInput>;

/** Job phase while running, and the database entry's fields at start and on success (verify leaves it alone). */
const PHASES: Record<Subcommand, { running: string; start?: Fields; done?: Fields }> = {
  snapshot: {
    running: 'Copy snapshot',
    start: { state: 'RUNNING', phase: 'Copy snapshot', error: undefined },
    done: { state: 'RUNNING', phase: 'Snapshot copied' },
  },
  subscribe: {
    running: 'Start replication',
    start: { state: 'RUNNING', phase: 'Start replication', error: undefined },
    done: { state: 'RUNNING', phase: 'Replicating' },
  },
  verify: { running: 'Verify' },
  cutover: {
    running: 'Cut over',
    start: { state: 'RUNNING', phase: 'Cut over', error: undefined },
    done: { state: 'SUCCEEDED', phase: 'Cut over' },
  },
  cleanup: { running: 'Clean up', start: { phase: 'Clean up' }, done: { phase: 'Cleaned up' } },
};

/**
 * These change the replication, so a finished job (SUCCEEDED, FAILED, CANCELLED) refuses them; except
 * cutover on a SUCCEEDED job, which is how the replicate workflow ends a job that replicates in sync.
 */
const CHANGES_REPLICATION: readonly Subcommand[] = ['snapshot', 'subscribe', 'cutover'];
const refusesFinished = (subcommand: Subcommand, job: JobRecord) =>
  isTerminal(job.state) &&
  CHANGES_REPLICATION.includes(subcommand) &&
  !(subcommand === 'cutover' && job.state === 'SUCCEEDED');

async function resolveEndpoints(
  config: TaskConfig,
  secrets: SecretsManagerClient,
): Promise<{ source: ConnectionSpec; target: ConnectionSpec }> {
  const cache: SecretCache = new Map();
  const [source, target] = await Promise.all([
    resolveSecretConnection(secrets, config.sourceSecretArn, {
      cache,
      ...(config.sourceEndpoint ? { endpoint: config.sourceEndpoint } : {}),
    }),
    resolveSecretConnection(secrets, config.targetSecretArn, {
      cache,
      ...(config.targetEndpoint ? { endpoint: config.targetEndpoint } : {}),
    }),
  ]);
  checkCertificateFiles(source, config.sourceSecretArn);
  checkCertificateFiles(target, config.targetSecretArn);
  return { source: withDatabase(source, config.database), target: withDatabase(target, config.targetDatabase) };
}

/** The job record, created when the workflow has not (a run on a laptop); moved to RUNNING when unfinished. */
async function ensureJob(
  store: JobStore,
  config: TaskConfig,
  source: ConnectionSpec,
  target: ConnectionSpec,
  logger: Logger,
): Promise<JobRecord> {
  const { jobId } = config;
  const phase = PHASES[config.subcommand].running;
  let job = await store.getJob(jobId);
  if (!job) {
    try {
      job = await store.createJob({
        jobId,
        state: 'RUNNING',
        phase,
        source: { description: describeEndpoint(source), secretArn: config.sourceSecretArn },
        target: { description: describeEndpoint(target), secretArn: config.targetSecretArn },
      });
      logger.info(`created job ${jobId} in the job store`);
    } catch (error) {
      // Another database's task of the same job created it first.
      if (!(error instanceof JobExistsError)) throw error;
      job = (await store.getJob(jobId))!;
    }
  }
  if (isTerminal(job.state) || config.subcommand === 'verify') return job;
  try {
    return await store.transition(jobId, 'RUNNING', { phase });
  } catch (error) {
    if (error instanceof JobAlreadyFinishedError) return (await store.getJob(jobId))!;
    throw error;
  }
}

function whenAborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    const stop = () =>
      reject(
        new TaskStopped(
          'The task was stopped (SIGTERM) before it finished; run it again: a snapshot resumes where it stopped, the other subcommands start over.',
        ),
      );
    if (signal?.aborted) stop();
    signal?.addEventListener('abort', stop, { once: true });
  });
}

export async function runTask(config: TaskConfig, deps: TaskDependencies): Promise<number> {
  const stdout = deps.stdout ?? ((line: string) => process.stdout.write(line + '\n'));
  const logger = createLogger(config.logLevel, deps.stderr ?? ((line: string) => process.stderr.write(line + '\n')));
  const { store } = deps;
  const token = new TaskTokenReporter({
    sfn: deps.sfn,
    taskToken: config.taskToken,
    logger,
    heartbeatMs: deps.heartbeatMs,
  });
  const startedAt = new Date().toISOString();
  const jobDir = mkdtempSync(join(deps.tmpDir ?? tmpdir(), 'dbr-task-'));
  const phase = PHASES[config.subcommand];
  const step = { jobId: config.jobId, step: config.subcommand, database: config.database, startedAt };
  let recorder: DatabaseRecorder | undefined;
  const metrics = new TaskMetrics({
    sink: deps.metrics === undefined ? taskMetricSink() : (deps.metrics ?? undefined),
    jobId: config.jobId,
    database: config.database,
  });
  token.start();
  logger.info(`${config.subcommand}: job ${config.jobId}, database ${config.database} -> ${config.targetDatabase}`);

  const work = async (): Promise<SubcommandResult> => {
    await store.putStep({ ...step, state: 'RUNNING' });
    const { source, target } = await resolveEndpoints(config, deps.secrets);
    const job = await ensureJob(store, config, source, target, logger);
    if (refusesFinished(config.subcommand, job)) {
      throw new JobFinished(
        `Job ${config.jobId} has already finished as ${job.state}, and ${config.subcommand} would change its replication; start a new job (verify and cleanup still run on a finished job).`,
      );
    }
    recorder = new DatabaseRecorder({
      store,
      jobId: config.jobId,
      database: config.database,
      logger,
      initial: job.databases[config.database],
      throttleMs: deps.progressThrottleMs,
      onCopyProgress: (p) => metrics.copyProgress(p),
    });
    if (phase.start) {
      recorder.set(phase.start);
      await recorder.flush();
    } else {
      recorder.stop();
    }
    const handler = deps.handlers?.[config.subcommand] ?? SUBCOMMAND_HANDLERS[config.subcommand];
    return handler({
      config,
      source,
      target,
      tls: { allowSelfSignedCerts: config.plan.allowSelfSignedCerts ?? false },
      jobDir,
      store,
      recorder,
      logger,
      startedAt,
    });
  };

  const running = work();
  running.catch(() => undefined);
  let output: Record<string, unknown> | undefined;
  let failure: SafeError | undefined;
  let stopped = false;
  try {
    const result = await Promise.race([running, whenAborted(deps.signal)]);
    output = result.output;
    if (result.failure) failure = safeError(result.failure);
  } catch (error) {
    failure = safeError(error);
    stopped = failure.name === 'TaskStopped';
  }
  token.stop();
  recorder?.stop();
  metrics.flush();
  if (config.subcommand === 'verify' && typeof output?.differences === 'number')
    metrics.verifyDifferences(output.differences);
  let exitCode = failure ? 1 : 0;

  // Progress, on failure too (init's checkpoint is in the job store already: a retried snapshot resumes from it).
  if (recorder && phase.start) {
    recorder.set(
      failure
        ? { state: 'FAILED', error: `${failure.name}: ${failure.message}`.slice(0, 4000) }
        : { ...phase.done, ...(phase.done?.state ? { error: undefined } : {}) },
    );
    try {
      await recorder.flush();
    } catch (error) {
      const e = safeError(error);
      logger.error(`the state of ${config.database} could not be saved in the job store (${e.name}: ${e.message})`);
      failure ??= {
        name: 'StateNotSaved',
        message: `The subcommand finished, but its state could not be saved in the job store (${e.message}); run it again.`,
      };
      exitCode = 1;
    }
  }
  try {
    await store.putStep({
      ...step,
      state: failure ? 'FAILED' : 'SUCCEEDED',
      endedAt: new Date().toISOString(),
      ...(failure ? { detail: `${failure.name}: ${failure.message}`.slice(0, 4000) } : {}),
    });
  } catch (error) {
    logger.warn(`the step record could not be written (${safeError(error).message})`);
  }

  const summary = {
    ok: !failure,
    jobId: config.jobId,
    database: config.database,
    targetDatabase: config.targetDatabase,
    subcommand: config.subcommand,
    ...output,
    ...(failure ? { error: failure.name, cause: failure.message } : {}),
  };
  if (output) stdout(redact(JSON.stringify(summary)));
  if (failure) {
    await token.failure(failure.name, failure.message);
  } else if (!(await token.success(summary))) {
    failure = {
      name: 'ResultNotReported',
      message:
        'The work succeeded, but Step Functions did not take the result (the execution may have timed out or stopped); see the log above.',
    };
    exitCode = 1;
  }
  // Left in place when stopped: the engine may still be writing there until the process exits.
  if (!stopped) rmSync(jobDir, { recursive: true, force: true });
  if (failure) logger.error(`${failure.name}: ${failure.message}`);
  else logger.info(`${config.subcommand} of ${config.database} finished`);
  return exitCode;
}
