// The commands in remote mode, each mapped to the deployed workflow that does its work:
//   init, sync -> replicate (checks, snapshot copy, subscription, wait until in sync); a FAILED job
//                 runs again from a new execution, which resumes it
//   verify     -> verify (or, with --schedule / --unschedule, the job's EventBridge schedule)
//   cleanup    -> the verify schedule is deleted, then the clean-up workflow runs; once it is done the
//                 secrets the CLI stored for the job are deleted
//   cutover    -> cutover (the stack output CutoverStateMachineArn; older stacks have none)
//   status     -> the job record and the job's latest execution (status.ts)
import type { JobRecord } from '../jobs/types.ts';
import { isTerminal } from '../jobs/types.ts';
import { readJob, type RemoteContext, type RemoteRequest } from './context.ts';
import { ENV } from './deployment.ts';
import { deleteStoredSecrets, RECOVERY_DAYS, storedSecretArns } from './credentials.ts';
import { RemoteFailure, RemoteUsageError } from './errors.ts';
import {
  checkedPlan,
  checkInstance,
  compactFilters,
  plannedTargetDatabases,
  replicateInput,
  type ReplicateInput,
} from './inputs.ts';
import { deleteVerifySchedule, putVerifySchedule, type ScheduleResult } from './schedule.ts';
import { followRunning, runningExecution, startAndFollow } from './start.ts';
import { remoteStatus } from './status.ts';
import {
  databasesFor,
  endpoints,
  jobIdOf,
  jobWorkflowInput,
  previousInput,
  secretArns,
  selfSigned,
} from './job-inputs.ts';

export async function runRemoteCommand(request: RemoteRequest, ctx: RemoteContext): Promise<number> {
  switch (request.command) {
    case 'init':
    case 'sync':
      return replicate(request, ctx);
    case 'verify':
      return verify(request, ctx);
    case 'cleanup':
      return cleanup(request, ctx);
    case 'cutover':
      return cutover(request, ctx);
    case 'status':
      return remoteStatus(request, ctx);
  }
}

/** A job that ended for good: SUCCEEDED is nothing to do; CANCELLED (cleaned up) cannot run again. */
function finishedJob(job: JobRecord): number {
  if (job.state === 'SUCCEEDED') return 0;
  throw new RemoteFailure(
    `Job ${job.jobId} has ended as ${job.state}${job.phase ? ` (${job.phase})` : ''}; the workflow does not run it again: start a new job with another --job-id.`,
  );
}

async function newReplicateInput(
  request: RemoteRequest,
  ctx: RemoteContext,
  jobId: string,
  job: JobRecord | undefined,
): Promise<ReplicateInput | undefined> {
  const init = request.init ?? { sync: true, dropExisting: false, copyRoles: false };
  if (!init.sync)
    throw new RemoteUsageError(
      '--no-sync runs with --local only: the replicate workflow always hands the snapshot copy off to replication.',
    );
  const databases = databasesFor(request, job);
  const copyRoles = init.copyRoles && databases.length === 1;
  if (init.copyRoles && databases.length > 1)
    ctx.logger.info(
      'Roles are not copied: the workflow copies several databases in parallel tasks, which would race on them (copy them once with init --local, or replicate one database per job).',
    );
  const plan = checkedPlan({
    ...(compactFilters(request.filters) ? { filters: compactFilters(request.filters) } : {}),
    ...(init.jobs !== undefined ? { jobs: init.jobs } : {}),
    ...(init.splitBytes !== undefined ? { splitTablesLargerThanBytes: init.splitBytes } : {}),
    ...(init.dropExisting ? { dropExisting: true } : {}),
    ...(copyRoles ? { copyRoles: true } : {}),
    ...(init.trackDdl ? { trackDdl: true } : {}),
    ...selfSigned(request),
  });
  const { sourceEndpoint, targetEndpoint } = endpoints(request, job);
  const question = `Start the replicate workflow for job ${jobId} (${databases.join(', ')}) on ${ctx.deploymentLabel}?`;
  if (!request.yes && !(await ctx.confirm(question))) return undefined;
  const arns = await secretArns(ctx, request, jobId, job);
  return replicateInput({
    jobId,
    ...arns,
    sourceInstance: checkInstance(request.source.instanceIdentifier),
    sourceEndpoint,
    targetEndpoint,
    databases,
    targetDatabases: plannedTargetDatabases(databases, request.target),
    plan,
    maxRetainedWalGb: init.maxRetainedWalGb,
  });
}

/** init and sync: start (or resume, or keep following) the replicate workflow of the job. */
async function replicate(request: RemoteRequest, ctx: RemoteContext): Promise<number> {
  const jobId = jobIdOf(request);
  const job = await readJob(ctx, jobId);
  if (request.sync?.applyDdl) return applyDdl(request, ctx, jobId, job);
  // A FAILED job runs again: the new execution reopens it, and its tasks resume from what they recorded.
  if (job && isTerminal(job.state) && job.state !== 'FAILED') {
    const code = finishedJob(job);
    ctx.stdout(
      ctx.json
        ? JSON.stringify({
            command: request.command,
            mode: 'remote',
            ok: true,
            jobId,
            state: job.state,
            started: false,
          }) + '\n'
        : `Job ${jobId} is already replicating (${job.phase}); nothing to start. Watch it with status, compare with verify.\n`,
    );
    return code;
  }
  const running = await runningExecution(ctx, job?.executionArn);
  if (running) return followRunning(ctx, { command: request.command, workflow: 'replicate', jobId, running });
  if (request.command === 'sync' && !job)
    throw new RemoteUsageError(
      `Job ${jobId} is not in the job table; run init first (in remote mode init also starts replication, so sync is only needed to resume it).`,
    );
  if (job?.state === 'FAILED')
    ctx.logger.info(
      `Job ${jobId} failed${job.error ? ` (${job.error})` : ''}; a new execution resumes it: what was copied is kept, and the rest carries on.`,
    );
  const previous = request.command === 'sync' && job ? await previousInput(ctx, job) : undefined;
  // A plain sync resumes; the schema changes are applied only when asked for (sync --apply-ddl).
  const input = previous
    ? { ...previous, plan: Object.fromEntries(Object.entries(previous.plan).filter(([k]) => k !== 'applyDdl')) }
    : await newReplicateInput(request, ctx, jobId, job);
  if (!input) {
    ctx.stdout('Cancelled; nothing was started.\n');
    return 1;
  }
  return startAndFollow(ctx, {
    command: request.command,
    workflow: 'replicate',
    stateMachineArn: ctx.deployment.replicateStateMachineArn,
    jobId,
    input,
  });
}

/**
 * sync --apply-ddl: a new replicate execution with the job's last input and plan.applyDdl, whose
 * subscribe step applies the source's additive schema changes to the target and enables replication
 * again: for a job whose execution failed (drift stops replication, and the replicate workflow fails
 * on it), never beside a running execution, which would not apply them.
 */
async function applyDdl(
  request: RemoteRequest,
  ctx: RemoteContext,
  jobId: string,
  job: JobRecord | undefined,
): Promise<number> {
  if (!job) throw new RemoteUsageError(`Job ${jobId} is not in the job table; run init first.`);
  if (isTerminal(job.state) && job.state !== 'FAILED') {
    throw new RemoteFailure(
      `Job ${jobId} has ended as ${job.state}${job.phase ? ` (${job.phase})` : ''}, and the workflow does not run a finished job again; run the statements that status lists for its drift on the target by hand.`,
    );
  }
  const running = await runningExecution(ctx, job.executionArn);
  if (running) {
    throw new RemoteUsageError(
      `Execution ${running.name} of job ${jobId} is still running and does not apply schema changes; wait for it to end (status shows it), then run sync --apply-ddl again.`,
    );
  }
  const previous = await previousInput(ctx, job);
  const base = previous ?? (await newReplicateInput(request, ctx, jobId, job));
  if (!base) {
    ctx.stdout('Cancelled; nothing was started.\n');
    return 1;
  }
  const input: ReplicateInput = { ...base, plan: checkedPlan({ ...base.plan, applyDdl: true }) };
  (ctx.json ? ctx.stderr : ctx.stdout)(
    `Starting the replicate workflow for job ${jobId} with plan.applyDdl: it applies the source's additive schema changes to the target, lists the others, and enables replication again.\n`,
  );
  return startAndFollow(ctx, {
    command: 'sync',
    workflow: 'replicate',
    stateMachineArn: ctx.deployment.replicateStateMachineArn,
    jobId,
    input,
  });
}

function renderSchedule(ctx: RemoteContext, jobId: string, r: ScheduleResult): number {
  if (ctx.json) {
    ctx.stdout(JSON.stringify({ command: 'verify', mode: 'remote', ok: true, jobId, schedule: r }, null, 2) + '\n');
  } else if (r.action === 'created' || r.action === 'updated') {
    ctx.stdout(
      `Verify schedule ${r.name} ${r.action} in group ${r.group}: ${r.expression} (UTC); each run starts the verify workflow for job ${jobId}. Remove it with verify --unschedule (cleanup removes it too).\n`,
    );
  } else {
    ctx.stdout(
      r.action === 'deleted'
        ? `Verify schedule ${r.name} deleted from group ${r.group}.\n`
        : `Job ${jobId} has no verify schedule (${r.name} in group ${r.group}); nothing to delete.\n`,
    );
  }
  return 0;
}

async function verify(request: RemoteRequest, ctx: RemoteContext): Promise<number> {
  const v = request.verify ?? { unschedule: false };
  const jobId = jobIdOf(request);
  if (v.schedule !== undefined && v.unschedule)
    throw new RemoteUsageError('--schedule and --unschedule exclude each other; pass one of them.');
  if (v.unschedule)
    return renderSchedule(ctx, jobId, await deleteVerifySchedule(ctx.clients.scheduler, ctx.deployment, jobId));
  const options = Object.fromEntries(
    Object.entries({
      maxDiffs: v.maxDiffs,
      rowsPerChunk: v.rowsPerChunk,
      recheckTimeoutSeconds: v.recheckTimeoutSeconds,
    }).filter(([, x]) => x !== undefined),
  );
  const filters = compactFilters(request.filters);
  const input = await jobWorkflowInput(request, ctx, jobId, {
    ...(filters ? { filters } : {}),
    ...(v.jobs !== undefined ? { jobs: v.jobs } : {}),
    ...(Object.keys(options).length ? { verify: options } : {}),
  });
  if (v.schedule !== undefined)
    return renderSchedule(
      ctx,
      jobId,
      await putVerifySchedule(ctx.clients.scheduler, ctx.deployment, { expression: v.schedule, input }),
    );
  const machine = ctx.deployment.verifyStateMachineArn;
  if (!machine)
    throw new RemoteUsageError(
      `The deployment has no verify workflow; set ${ENV.verifyStateMachineArn} (the stack output VerifyStateMachineArn) or run remote configure again.`,
    );
  return startAndFollow(ctx, { command: 'verify', workflow: 'verify', stateMachineArn: machine, jobId, input });
}

async function cleanup(request: RemoteRequest, ctx: RemoteContext): Promise<number> {
  const jobId = jobIdOf(request);
  const machine = ctx.deployment.cleanupStateMachineArn;
  if (!machine)
    throw new RemoteUsageError(
      `The deployment has no clean-up workflow; set ${ENV.cleanupStateMachineArn} (the stack output CleanupStateMachineArn) or run remote configure again.`,
    );
  const input = await jobWorkflowInput(request, ctx, jobId, {});
  if (
    !request.yes &&
    !(await ctx.confirm(
      `Drop the subscriptions, publications and slots of job ${jobId} (${input.databases.join(', ')}) and its verify schedule, through the clean-up workflow?`,
    ))
  ) {
    ctx.stdout('Cancelled; nothing was dropped.\n');
    return 1;
  }
  // Deleted here too, so no verify starts while the clean-up runs; the workflow deletes it as well.
  if (ctx.deployment.scheduleGroupName) {
    try {
      const r = await deleteVerifySchedule(ctx.clients.scheduler, ctx.deployment, jobId);
      if (r.action === 'deleted') ctx.logger.info(`Verify schedule ${r.name} deleted.`);
    } catch (error) {
      ctx.logger.warn(`${(error as Error).message} The clean-up workflow deletes the schedule as well.`);
    }
  }
  const code = await startAndFollow(ctx, {
    command: 'cleanup',
    workflow: 'cleanup',
    stateMachineArn: machine,
    jobId,
    input,
  });
  if (code === 0) await deleteJobSecrets(ctx, jobId, [input.sourceSecretArn, input.targetSecretArn]);
  return code;
}

/** After a clean-up, the secrets the CLI stored for the job go too; secrets given by ARN are the user's and stay. */
async function deleteJobSecrets(ctx: RemoteContext, jobId: string, arns: string[]): Promise<void> {
  const stored = storedSecretArns(arns, ctx.deployment.secretsPrefix, jobId);
  if (!stored.length) return;
  try {
    const deleted = await deleteStoredSecrets(ctx.clients.secrets, stored);
    if (deleted.length)
      ctx.logger.info(
        `Deleted the secret(s) the CLI stored for job ${jobId} (${deleted.map((arn) => arn.slice(arn.indexOf(':secret:') + 8)).join(', ')}); they can be restored for ${RECOVERY_DAYS} days.`,
      );
  } catch (error) {
    ctx.logger.warn(
      `${(error as Error).message} The clean-up itself is done; delete the secrets ${stored.join(', ')} yourself.`,
    );
  }
}

async function cutover(request: RemoteRequest, ctx: RemoteContext): Promise<number> {
  const machine = ctx.deployment.cutoverStateMachineArn;
  if (!machine) {
    throw new RemoteFailure(
      `The deployment has no cut-over workflow (the stack output CutoverStateMachineArn, which older stacks lack); deploy the current stack and run remote configure again, or set ${ENV.cutoverStateMachineArn}, or run the replicator task's cutover subcommand for each database (containers/replicator/README.md).`,
    );
  }
  const jobId = jobIdOf(request);
  const c = request.cutover;
  const input = await jobWorkflowInput(request, ctx, jobId, c ? { cutover: c } : {});
  return startAndFollow(ctx, { command: 'cutover', workflow: 'cutover', stateMachineArn: machine, jobId, input });
}
