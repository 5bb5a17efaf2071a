// What the remote commands send their workflows: the job's id, the secret ARN of each side, the
// databases and their target names, the endpoints, from flags or what the job table recorded.
import type { JobRecord } from '../jobs/types.ts';
import { parseConnectionUrl } from '../connection/url.ts';
import { readJob, type RemoteContext, type RemoteRequest } from './context.ts';
import { refuseLocalFiles, secretArnFor, secretName, type Side } from './credentials.ts';
import {
  checkedPlan,
  checkEndpoint,
  endpointFromDescription,
  jobInput,
  plannedDatabases,
  plannedTargetDatabases,
  remoteJobId,
  type ReplicateInput,
} from './inputs.ts';

export const jobIdOf = (request: RemoteRequest) => remoteJobId(request.jobId, request.source, request.target);

/**
 * The secret ARN of each side: an ARN given is used as it is; a URL is stored under the deployment's
 * prefix (init and sync store a URL given over the recorded secret, so a changed password is used;
 * the other commands prefer the job's recorded secret).
 */
export async function secretArns(
  ctx: RemoteContext,
  request: RemoteRequest,
  jobId: string,
  job: JobRecord | undefined,
): Promise<{ sourceSecretArn: string; targetSecretArn: string }> {
  const storeFirst = request.command === 'init' || request.command === 'sync';
  const usesRecorded = (side: Side) =>
    !request[side].secretArn && job?.[side].secretArn !== undefined && (!storeFirst || !request[side].url);
  // Both URLs are checked before either is stored: a file named on this machine means nothing to the workflow.
  for (const side of ['source', 'target'] as const) {
    const url = request[side].url;
    if (url && !request[side].secretArn && !usesRecorded(side)) refuseLocalFiles(parseConnectionUrl(url), side);
  }
  const one = async (side: Side): Promise<string> => {
    const given = request[side];
    const recorded = job?.[side].secretArn;
    if (usesRecorded(side) && recorded) return recorded;
    const result = await secretArnFor(ctx.clients.secrets, {
      side,
      jobId,
      prefix: ctx.deployment.secretsPrefix,
      given,
    });
    if (result.stored)
      ctx.logger.info(
        `The ${side} URL is ${result.stored === 'created' ? 'stored' : 'updated'} in Secrets Manager as ${secretName(ctx.deployment.secretsPrefix, jobId, side)}; the workflow gets its ARN only.`,
      );
    if (result.noPassword)
      ctx.logger.warn(
        `the ${side} URL has no password, and the workflow has no ~/.pgpass or PGPASSWORD to fall back on: put it in the URL (through DATABASE_REPLICATOR_${side.toUpperCase()}_URL) or pass --${side}-secret.`,
      );
    return result.secretArn;
  };
  return { sourceSecretArn: await one('source'), targetSecretArn: await one('target') };
}

/** --include-databases, else the databases the job record holds, else the one the source URL names. */
export function databasesFor(request: RemoteRequest, job: JobRecord | undefined): string[] {
  if (request.databases?.length) return [...new Set(request.databases)];
  const recorded = Object.keys(job?.databases ?? {});
  return recorded.length ? recorded : plannedDatabases(undefined, request.source);
}

export function endpoints(
  request: RemoteRequest,
  job: JobRecord | undefined,
): { sourceEndpoint?: string | undefined; targetEndpoint?: string | undefined } {
  return {
    sourceEndpoint:
      checkEndpoint(request.source.endpoint, '--source-endpoint') ?? endpointFromDescription(job?.source.description),
    targetEndpoint:
      checkEndpoint(request.target.endpoint, '--target-endpoint') ?? endpointFromDescription(job?.target.description),
  };
}

export const selfSigned = (request: RemoteRequest) =>
  request.allowSelfSignedCerts ? { allowSelfSignedCerts: true } : {};

/** The input of the job's last replicate execution, when it can be read back (sync restarts with it). */
export async function previousInput(ctx: RemoteContext, job: JobRecord): Promise<ReplicateInput | undefined> {
  if (!job.executionArn) return undefined;
  try {
    const input = JSON.parse(
      (await ctx.clients.executions.describe(job.executionArn)).input ?? 'null',
    ) as ReplicateInput | null;
    return input?.jobId === job.jobId ? input : undefined;
  } catch {
    return undefined;
  }
}

/** The verify / clean-up / cut-over input of a job: ARNs, databases and endpoints, from flags or the job record. */
export async function jobWorkflowInput(
  request: RemoteRequest,
  ctx: RemoteContext,
  jobId: string,
  plan: Record<string, unknown>,
) {
  const job = await readJob(ctx, jobId);
  const databases = databasesFor(request, job);
  const arns = await secretArns(ctx, request, jobId, job);
  // The target's names: from the target URL as init had them, else from the job's replicate input.
  const previous = job && !request.target.url ? await previousInput(ctx, job) : undefined;
  const sameDatabases = previous?.databases.join('\n') === databases.join('\n');
  const targetDatabases =
    plannedTargetDatabases(databases, request.target) ?? (sameDatabases ? previous?.targetDatabases : undefined);
  return jobInput({
    jobId,
    databases,
    targetDatabases,
    ...arns,
    ...endpoints(request, job),
    plan: checkedPlan({ ...plan, ...selfSigned(request) }),
  });
}
