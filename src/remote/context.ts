// What every remote command runs with: the deployment, the AWS clients (passed in, so tests mock
// them), where output goes, and the Ctrl-C signal that stops following.
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { JobStore } from '../jobs/store.ts';
import type { JobRecord } from '../jobs/types.ts';
import type { Logger } from '../log/logger.ts';
import type { FilterOptions } from '../plan/plan.ts';
import type { Deployment } from './deployment.ts';
import { describeAwsError } from './errors.ts';
import type { Executions } from './executions.ts';

export interface RemoteClients {
  executions: Executions;
  secrets: SecretsManagerClient;
  scheduler: SchedulerClient;
  /** The monitor's metrics for `status --remote --watch` (GetMetricData). */
  cloudWatch: CloudWatchClient;
  /** The job table (DynamoDbJobStore on the deployment's JobTableName). */
  store: JobStore;
}

export interface RemoteContext {
  deployment: Deployment;
  /** For messages: "stack X", "the environment variables", ... */
  deploymentLabel: string;
  /** `--stack-name X --region R` when the deployment came from that flag: repeated in the resume hint. */
  deploymentFlags?: string;
  clients: RemoteClients;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  json: boolean;
  logger: Logger;
  /** Aborted on Ctrl-C: following stops, the execution goes on. */
  signal: AbortSignal;
  pollMs: number;
  now: () => Date;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Asks yes/no (or refuses without a terminal); not called with `yes`. */
  confirm: (question: string) => Promise<boolean>;
}

export type RemoteCommand = 'init' | 'sync' | 'verify' | 'cutover' | 'cleanup' | 'status';

/** One command's request, from flags and environment: plain data, no commander. */
export interface RemoteRequest {
  command: RemoteCommand;
  jobId?: string | undefined;
  source: {
    url?: string | undefined;
    secretArn?: string | undefined;
    endpoint?: string | undefined;
    instanceIdentifier?: string | undefined;
  };
  target: { url?: string | undefined; secretArn?: string | undefined; endpoint?: string | undefined };
  /** --include-databases. */
  databases?: string[] | undefined;
  filters?: FilterOptions | undefined;
  allowSelfSignedCerts: boolean;
  yes: boolean;
  init?: {
    jobs?: number | undefined;
    sync: boolean;
    dropExisting: boolean;
    copyRoles: boolean;
    splitBytes?: number | undefined;
    maxRetainedWalGb?: number | undefined;
    trackDdl?: boolean | undefined;
  };
  /** sync --apply-ddl: a new replicate execution with plan.applyDdl. */
  sync?: { applyDdl: boolean };
  verify?: {
    jobs?: number | undefined;
    maxDiffs?: number | undefined;
    rowsPerChunk?: number | undefined;
    recheckTimeoutSeconds?: number | undefined;
    schedule?: string | undefined;
    unschedule: boolean;
  };
  cutover?: { maxLagBytes: number; timeoutSeconds: number; readOnlySource: boolean; sequenceMargin: number };
  /** `live`: --watch on a terminal, drawn as the live view `columns` wide. */
  status?: { watch: boolean; live?: boolean; columns?: number };
}

/** Exit code when the user stopped following (128 + SIGINT), the execution still running. */
export const EXIT_DETACHED = 130;

/** Reads the job record; an AWS failure becomes one sentence. */
export async function readJob(ctx: RemoteContext, jobId: string): Promise<JobRecord | undefined> {
  try {
    return await ctx.clients.store.getJob(jobId);
  } catch (error) {
    if ((error as Error).name === 'InvalidJobRecordError') throw error;
    throw describeAwsError(
      error,
      `dynamodb:GetItem on the table ${ctx.deployment.jobTableName}`,
      `read job ${jobId} from the job table`,
    );
  }
}
