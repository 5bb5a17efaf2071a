// Shared by the remote-mode tests: the job table on dynalite (job-table.ts), a CLI io that captures output and injects
// AWS clients, and the environment of a deployment.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { AwsClients, RemoteCliIo, RemoteRuntime } from '../../src/cli/commands/remote.ts';
import { runCli } from '../../src/cli/program.ts';
import { DynamoDbJobStore, type NewJob } from '../../src/jobs/index.ts';
import { sfnExecutions, type Executions } from '../../src/remote/executions.ts';
import { startJobTable, TEST_REGION, type JobTable } from './job-table.ts';

export const REGION = TEST_REGION;
export const ACCOUNT = '123456789012';
export const REPLICATE_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Replicate`;
export const VERIFY_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Verify`;
export const CLEANUP_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Cleanup`;
export const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/VerifyScheduleRole`;
export const SOURCE_SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:rds!db-1234-AbCdEf`;
export const TARGET_SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:database-replicator/target-GhIjKl`;
export const executionArn = (machine: string, name: string) =>
  `arn:aws:states:${REGION}:${ACCOUNT}:execution:${machine}:${name}`;

/**
 * The remote-mode test file's job table on dynalite: started before its first test, closed with the
 * file's temporary folders after its last. The fields are filled in by then.
 */
export function useJobTable(): JobTable {
  const table = {} as JobTable;
  beforeAll(async () => {
    Object.assign(table, await startJobTable());
  });
  afterAll(async () => {
    await table.close?.();
    removeTempDirs();
  });
  return table;
}

/** A job as the replicate workflow records it: RUNNING, with placeholder endpoints and whatever `more` sets. */
export function runningJob(jobId: string, more: Omit<Partial<NewJob>, 'jobId'> = {}): NewJob {
  return { jobId, state: 'RUNNING', source: { description: 's' }, target: { description: 't' }, ...more };
}

/** The environment of a deployment named by variables, with a config folder of its own (no saved profile). */
export function deploymentEnv(table: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_REPLICATOR_CONFIG_DIR: tempDir(),
    DATABASE_REPLICATOR_STATE_MACHINE_ARN: REPLICATE_ARN,
    DATABASE_REPLICATOR_JOB_TABLE: table,
    DATABASE_REPLICATOR_VERIFY_STATE_MACHINE_ARN: VERIFY_ARN,
    DATABASE_REPLICATOR_CLEANUP_STATE_MACHINE_ARN: CLEANUP_ARN,
    DATABASE_REPLICATOR_SCHEDULE_GROUP: 'replicator-schedules',
    DATABASE_REPLICATOR_SCHEDULER_ROLE_ARN: ROLE_ARN,
    ...extra,
  };
}

const dirs: string[] = [];
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dbr-remote-'));
  dirs.push(dir);
  return dir;
}
export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface TestIo extends RemoteCliIo {
  out: string[];
  err: string[];
  text: () => string;
}

/**
 * The clients are the SDK's (mocked by the test with aws-sdk-client-mock) except the job table, which
 * is dynalite; `executions` replaces the Step Functions client (the end-to-end test's local runner).
 */
export function testIo(
  env: Record<string, string>,
  o: {
    table?: JobTable;
    executions?: Executions;
    runtime?: Partial<RemoteRuntime>;
    regions?: (string | undefined)[];
  } = {},
): TestIo {
  const out: string[] = [];
  const err: string[] = [];
  const clients = async (region: string | undefined): Promise<AwsClients> => {
    o.regions?.push(region);
    const config = { region: region ?? REGION, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };
    return {
      cloudFormation: new CloudFormationClient(config),
      secrets: new SecretsManagerClient(config),
      scheduler: new SchedulerClient(config),
      cloudWatch: new CloudWatchClient(config),
      executions: o.executions ?? sfnExecutions(new SFNClient(config)),
      store: (tableName) => new DynamoDbJobStore({ client: o.table!.doc, tableName }),
    };
  };
  return {
    out,
    err,
    text: () => out.join('') + err.join(''),
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    env,
    isTty: false,
    columns: 120,
    remote: { clients, pollMs: 0, sleep: async () => undefined, ...o.runtime },
  };
}

export async function cli(args: string[], io: TestIo): Promise<number> {
  return runCli(args, io);
}
