// Starting an execution named after the job, and following it to its end with progress on the way.
import { redact } from '../connection/redact.ts';
import { EXIT_DETACHED, type RemoteContext } from './context.ts';
import { executionName, type ExecutionDescription } from './executions.ts';
import { followExecution, type FollowResult, type FollowSnapshot } from './follow.ts';
import { renderResult, renderStarted, renderUpdate, resultJson, resumeCommand, type Workflow } from './render.ts';

/** Progress and start lines go to stdout, or to stderr when stdout carries the JSON document. */
function progress(ctx: RemoteContext): (text: string) => void {
  return ctx.json ? ctx.stderr : ctx.stdout;
}

/** Follows an execution, prints each change and the result; returns the exit code. */
export async function followAndReport(
  ctx: RemoteContext,
  o: {
    command: string;
    workflow: Workflow;
    jobId: string;
    executionArn: string;
    live?: (snapshot: FollowSnapshot) => void | Promise<void>;
  },
): Promise<{ code: number; result: FollowResult }> {
  const print = progress(ctx);
  const result = await followExecution({
    executions: ctx.clients.executions,
    store: ctx.clients.store,
    executionArn: o.executionArn,
    jobId: o.jobId,
    pollMs: ctx.pollMs,
    signal: ctx.signal,
    ...(ctx.sleep ? { sleep: ctx.sleep } : {}),
    onUpdate: o.live ?? ((snapshot) => print(renderUpdate(snapshot, ctx.now()))),
    ...(o.live ? { everyPoll: true } : {}),
    onStoreError: (error) =>
      ctx.logger.warn(
        `the job table cannot be read (${error.name}), so per-database progress is not shown; the execution is followed all the same.`,
      ),
  });
  const code = result.detached ? EXIT_DETACHED : result.failure ? 1 : 0;
  const resume = resumeCommand(o.jobId, ctx.deploymentFlags);
  if (ctx.json)
    ctx.stdout(redact(JSON.stringify(resultJson(o.command, o.workflow, o.jobId, result, resume), null, 2)) + '\n');
  else ctx.stdout(renderResult(o.workflow, o.jobId, result, ctx.now(), resume));
  if (ctx.json && result.detached) ctx.stderr(renderResult(o.workflow, o.jobId, result, ctx.now(), resume));
  return { code, result };
}

/** Starts an execution of `stateMachineArn` named `<jobId>-<command>-<time>-<hex>`, then follows it. */
export async function startAndFollow(
  ctx: RemoteContext,
  o: { command: string; workflow: Workflow; stateMachineArn: string; jobId: string; input: object },
): Promise<number> {
  const name = executionName(o.jobId, o.command, ctx.now());
  const input = JSON.stringify(o.input);
  const { executionArn } = await ctx.clients.executions.start({ stateMachineArn: o.stateMachineArn, name, input });
  progress(ctx)(renderStarted({ workflow: o.workflow, jobId: o.jobId, executionArn, name }));
  return (await followAndReport(ctx, { command: o.command, workflow: o.workflow, jobId: o.jobId, executionArn })).code;
}

/** Follows an execution that is already running instead of starting a second one for the same job. */
export async function followRunning(
  ctx: RemoteContext,
  o: { command: string; workflow: Workflow; jobId: string; running: ExecutionDescription },
): Promise<number> {
  progress(ctx)(
    renderStarted({
      workflow: o.workflow,
      jobId: o.jobId,
      executionArn: o.running.executionArn,
      name: o.running.name,
      reused: true,
    }),
  );
  return (
    await followAndReport(ctx, {
      command: o.command,
      workflow: o.workflow,
      jobId: o.jobId,
      executionArn: o.running.executionArn,
    })
  ).code;
}

/** The job's execution recorded in the job table, when it is still running. */
export async function runningExecution(
  ctx: RemoteContext,
  executionArn: string | undefined,
): Promise<ExecutionDescription | undefined> {
  if (!executionArn) return undefined;
  try {
    const d = await ctx.clients.executions.describe(executionArn);
    return d.status === 'RUNNING' ? d : undefined;
  } catch {
    return undefined;
  }
}
