// `status` in remote mode: the job record from the job table and the job's latest execution (the one
// the record names, or the newest execution named after the job on any of the workflows); with
// --watch, the running execution is followed until it ends, as the command that started it would.
import { redact } from '../connection/redact.ts';
import type { JobRecord } from '../jobs/types.ts';
import { readJob, type RemoteContext, type RemoteRequest } from './context.ts';
import type { Deployment } from './deployment.ts';
import { RemoteFailure } from './errors.ts';
import { consoleUrl, namedForJob, type ExecutionDescription, type ExecutionSummary } from './executions.ts';
import { currentState, executionFailure, type ExecutionFailure } from './history.ts';
import { remoteJobId } from './inputs.ts';
import { remoteLiveView } from './live.ts';
import { monitorMetrics } from './metric-readings.ts';
import { renderExecution, renderJob, type Workflow } from './render.ts';
import { followAndReport } from './start.ts';

const LISTED = 100;

export function workflowOf(deployment: Deployment, stateMachineArn: string): Workflow {
  if (stateMachineArn === deployment.verifyStateMachineArn) return 'verify';
  if (stateMachineArn === deployment.cleanupStateMachineArn) return 'cleanup';
  if (stateMachineArn === deployment.cutoverStateMachineArn) return 'cutover';
  return 'replicate';
}

/** The job's newest execution: the record's executionArn, or one named `<jobId>-<command>-...` on any workflow. */
export async function latestExecution(
  ctx: RemoteContext,
  jobId: string,
  job: JobRecord | undefined,
): Promise<ExecutionDescription | undefined> {
  const d = ctx.deployment;
  const machines = [
    d.replicateStateMachineArn,
    d.verifyStateMachineArn,
    d.cleanupStateMachineArn,
    d.cutoverStateMachineArn,
  ].filter((m): m is string => m !== undefined);
  const found: ExecutionSummary[] = [];
  for (const machine of machines) {
    try {
      found.push(
        ...(await ctx.clients.executions.list(machine, { maxResults: LISTED })).filter((e) =>
          namedForJob(e.name, jobId),
        ),
      );
    } catch (error) {
      ctx.logger.debug(`the executions of ${machine} could not be listed (${(error as Error).message})`);
    }
  }
  const newest = found.sort((a, b) => b.startDate.getTime() - a.startDate.getTime())[0];
  const recorded = job?.executionArn
    ? await ctx.clients.executions.describe(job.executionArn).catch(() => undefined)
    : undefined;
  if (recorded && (!newest || recorded.startDate.getTime() >= newest.startDate.getTime())) return recorded;
  return newest ? ctx.clients.executions.describe(newest.executionArn) : undefined;
}

export async function remoteStatus(request: RemoteRequest, ctx: RemoteContext): Promise<number> {
  const jobId = remoteJobId(request.jobId, request.source, request.target);
  const job = await readJob(ctx, jobId);
  const execution = await latestExecution(ctx, jobId, job);
  if (!job && !execution) {
    throw new RemoteFailure(
      `There is no job ${jobId} in the job table ${ctx.deployment.jobTableName}, and no execution named after it; check --job-id (init prints it) and the deployment (${ctx.deploymentLabel}).`,
    );
  }
  if (request.status?.watch && execution?.status === 'RUNNING') {
    if (!ctx.json && job && !request.status.live) ctx.stdout(renderJob(job));
    const live =
      request.status.live && !ctx.json
        ? remoteLiveView({
            jobId,
            write: ctx.stdout,
            now: ctx.now,
            intervalSeconds: ctx.pollMs / 1000,
            columns: request.status.columns ?? 120,
            metrics: monitorMetrics({
              client: ctx.clients.cloudWatch,
              stackName: ctx.deployment.stackName,
              jobId,
              now: ctx.now,
              signal: ctx.signal,
            }),
          })
        : undefined;
    const { code } = await followAndReport(ctx, {
      command: 'status',
      workflow: workflowOf(ctx.deployment, execution.stateMachineArn),
      jobId,
      executionArn: execution.executionArn,
      ...(live ? { live } : {}),
    });
    return code;
  }
  let state: string | undefined;
  let failure: ExecutionFailure | undefined;
  if (execution) {
    state = currentState(await ctx.clients.executions.history(execution.executionArn, { maxResults: 100 }));
    if (!['RUNNING', 'SUCCEEDED'].includes(execution.status))
      failure = executionFailure(
        await ctx.clients.executions.history(execution.executionArn, { maxResults: 2000 }),
        execution,
      );
  }
  const ok = job?.state !== 'FAILED' && !failure;
  if (ctx.json) {
    const e = execution;
    const executionJson = e
      ? {
          executionArn: e.executionArn,
          name: e.name,
          workflow: workflowOf(ctx.deployment, e.stateMachineArn),
          status: e.status,
          startDate: e.startDate.toISOString(),
          ...(e.stopDate ? { stopDate: e.stopDate.toISOString() } : {}),
          state: state ?? null,
          consoleUrl: consoleUrl(e.executionArn),
          ...(failure ? { failure } : {}),
        }
      : null;
    ctx.stdout(
      redact(
        JSON.stringify(
          {
            command: 'status',
            mode: 'remote',
            ok,
            jobId,
            at: ctx.now().toISOString(),
            job: job ?? null,
            execution: executionJson,
          },
          null,
          2,
        ),
      ) + '\n',
    );
  } else {
    if (job) ctx.stdout(renderJob(job));
    else ctx.stdout(`Job ${jobId} has no record in the job table yet.\n`);
    if (execution) ctx.stdout(renderExecution(execution, state, ctx.now()));
    if (failure)
      ctx.stdout(
        redact(`  failed${failure.state ? ` in state "${failure.state}"` : ''}: ${failure.error}: ${failure.cause}\n`),
      );
  }
  return ok ? 0 : 1;
}
