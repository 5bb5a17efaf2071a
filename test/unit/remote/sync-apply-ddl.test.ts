// sync --apply-ddl in remote mode: a new replicate execution with the job's last input and
// plan.applyDdl, followed to its end. Step Functions and Secrets Manager are mocked at the SDK client;
// the job table is dynalite.
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { assertNoSecrets } from '../../support/no-secrets.ts';
import {
  cli,
  deploymentEnv,
  executionArn,
  REPLICATE_ARN,
  SOURCE_SECRET,
  TARGET_SECRET,
  testIo,
  useJobTable,
} from '../../support/remote.ts';

const sfn = mockClient(SFNClient);
const sm = mockClient(SecretsManagerClient);
const table = useJobTable();
let env: Record<string, string>;
let jobCount = 0;
let jobId: string;
let failedArn: string;
let newArn: string;

afterAll(() => {
  sm.restore();
});
beforeEach(() => {
  sfn.reset();
  sm.reset();
  env = deploymentEnv(table.tableName);
  jobId = `ddl${++jobCount}`;
  failedArn = executionArn('Replicate', `${jobId}-init-x`);
  newArn = executionArn('Replicate', `${jobId}-sync-y`);
  sfn.on(StartExecutionCommand).resolves({ executionArn: newArn, startDate: new Date() });
  sfn.on(ListExecutionsCommand).resolves({ executions: [] });
  sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
});

const t = new Date('2026-03-01T10:00:00Z');
/** The input the job's first execution started with (remote init). */
const firstInput = () => ({
  jobId,
  sourceSecretArn: SOURCE_SECRET,
  targetSecretArn: TARGET_SECRET,
  databases: ['shop'],
  plan: { filters: { excludeTables: ['shop.public.audit'] }, jobs: 4, trackDdl: true },
});
const described = (arn: string, status: string, extra: object = {}) => ({
  executionArn: arn,
  stateMachineArn: REPLICATE_ARN,
  name: arn.split(':').pop()!,
  status: status as 'RUNNING',
  startDate: t,
  ...extra,
});

/** A job whose replicate execution failed on schema drift. */
async function driftedJob(): Promise<void> {
  await table.store.createJob({
    jobId,
    state: 'RUNNING',
    phase: 'Checks',
    source: { description: 'shop-db:5432', secretArn: SOURCE_SECRET },
    target: { description: 'secret t', secretArn: TARGET_SECRET },
    executionArn: failedArn,
  });
  await table.store.transition(jobId, 'FAILED', {
    phase: 'Replicating',
    error:
      'ReplicationBroken: schema drift stops replication: column c was added to public.orders on the source; the target lacks it',
  });
}

describe('init --track-ddl in remote mode', () => {
  it('starts the replicate workflow with plan.trackDdl', async () => {
    sfn.on(DescribeExecutionCommand).resolves(described(newArn, 'SUCCEEDED', { stopDate: t }));
    const io = testIo(env, { table });
    expect(
      await cli(
        [
          'init',
          '--remote',
          '--job-id',
          jobId,
          '--source-secret',
          SOURCE_SECRET,
          '--target-secret',
          TARGET_SECRET,
          '--include-databases',
          'shop',
          '--track-ddl',
          '--yes',
        ],
        io,
      ),
    ).toBe(0);
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!) as {
      plan: object;
      databases: string[];
    };
    expect(input.databases).toEqual(['shop']);
    expect(input.plan).toMatchObject({ trackDdl: true });
  });
});

describe('sync --apply-ddl in remote mode', () => {
  it("starts the replicate workflow again with the job's input and plan.applyDdl, follows it, and exits 0", async () => {
    await driftedJob();
    sfn
      .on(DescribeExecutionCommand, { executionArn: failedArn })
      .resolves(described(failedArn, 'FAILED', { input: JSON.stringify(firstInput()) }));
    sfn
      .on(DescribeExecutionCommand, { executionArn: newArn })
      .resolvesOnce(described(newArn, 'RUNNING'))
      .resolves(described(newArn, 'SUCCEEDED', { stopDate: new Date(t.getTime() + 30_000) }));
    const io = testIo(env, { table });
    expect(await cli(['sync', '--remote', '--job-id', jobId, '--apply-ddl'], io)).toBe(0);

    const start = sfn.commandCalls(StartExecutionCommand);
    expect(start).toHaveLength(1);
    const { stateMachineArn, name, input } = start[0]!.args[0].input;
    expect(stateMachineArn).toBe(REPLICATE_ARN);
    expect(name).toMatch(new RegExp(`^${jobId}-sync-\\d{8}T\\d{6}Z-[0-9a-f]{4}$`));
    expect(JSON.parse(input!)).toEqual({ ...firstInput(), plan: { ...firstInput().plan, applyDdl: true } });
    assertNoSecrets(input);
    // The secrets are the job's, used by ARN: nothing is stored or read.
    expect(sm.calls()).toHaveLength(0);
    const out = io.out.join('');
    expect(out).toContain(
      `Starting the replicate workflow for job ${jobId} with plan.applyDdl: it applies the source's additive schema changes to the target, lists the others, and enables replication again.`,
    );
    expect(out).toContain(`Started ${name} (replicate workflow, job ${jobId}).`);
  });

  it('with --json, stdout is the result document and the start line goes to stderr', async () => {
    await driftedJob();
    sfn
      .on(DescribeExecutionCommand, { executionArn: failedArn })
      .resolves(described(failedArn, 'FAILED', { input: JSON.stringify(firstInput()) }));
    sfn
      .on(DescribeExecutionCommand, { executionArn: newArn })
      .resolves(described(newArn, 'SUCCEEDED', { stopDate: t }));
    const io = testIo(env, { table });
    expect(await cli(['sync', '--remote', '--job-id', jobId, '--apply-ddl', '--json'], io)).toBe(0);
    expect(JSON.parse(io.out.join(''))).toMatchObject({
      command: 'sync',
      mode: 'remote',
      ok: true,
      workflow: 'replicate',
      executionArn: newArn,
      status: 'SUCCEEDED',
    });
    expect(io.err.join('')).toContain('with plan.applyDdl');
  });

  it('refuses beside a running execution, which would not apply the changes, and starts nothing', async () => {
    await table.store.createJob({
      jobId,
      state: 'RUNNING',
      phase: 'Replicating',
      source: { description: 'shop-db:5432', secretArn: SOURCE_SECRET },
      target: { description: 'secret t', secretArn: TARGET_SECRET },
      executionArn: failedArn,
    });
    sfn
      .on(DescribeExecutionCommand, { executionArn: failedArn })
      .resolves(described(failedArn, 'RUNNING', { input: JSON.stringify(firstInput()) }));
    const io = testIo(env, { table });
    expect(await cli(['sync', '--remote', '--job-id', jobId, '--apply-ddl'], io)).toBe(2);
    expect(io.err.join('')).toContain(
      `Execution ${jobId}-init-x of job ${jobId} is still running and does not apply schema changes; wait for it to end (status shows it), then run sync --apply-ddl again.`,
    );
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('a plain sync afterwards resumes without plan.applyDdl', async () => {
    await driftedJob();
    sfn.on(DescribeExecutionCommand, { executionArn: failedArn }).resolves(
      described(failedArn, 'FAILED', {
        input: JSON.stringify({ ...firstInput(), plan: { ...firstInput().plan, applyDdl: true } }),
      }),
    );
    sfn
      .on(DescribeExecutionCommand, { executionArn: newArn })
      .resolves(described(newArn, 'SUCCEEDED', { stopDate: t }));
    const io = testIo(env, { table });
    expect(await cli(['sync', '--remote', '--job-id', jobId], io)).toBe(0);
    expect(JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!)).toEqual(firstInput());
  });

  it('refuses a job that is not in the job table', async () => {
    const io = testIo(env, { table });
    expect(await cli(['sync', '--remote', '--job-id', jobId, '--apply-ddl'], io)).toBe(2);
    expect(io.err.join('')).toContain(`Job ${jobId} is not in the job table; run init first.`);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});
