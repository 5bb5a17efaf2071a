// cutover in remote mode: the cut-over workflow (stack output CutoverStateMachineArn) started with the
// job's databases, secret ARNs and endpoints from the job table, and followed to its end. Step
// Functions and Secrets Manager are mocked at the SDK client; the job table is dynalite.
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ACCOUNT,
  cli,
  deploymentEnv,
  executionArn,
  REGION,
  REPLICATE_ARN,
  SOURCE_SECRET,
  TARGET_SECRET,
  testIo,
  useJobTable,
} from '../../support/remote.ts';

const CUTOVER_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Cutover`;
const sfn = mockClient(SFNClient);
const sm = mockClient(SecretsManagerClient);
const table = useJobTable();
let env: Record<string, string>;
let jobCount = 0;
let jobId: string;
let arn: string;

afterAll(() => {
  sm.restore();
});
beforeEach(() => {
  sfn.reset();
  sm.reset();
  env = deploymentEnv(table.tableName, { DATABASE_REPLICATOR_CUTOVER_STATE_MACHINE_ARN: CUTOVER_ARN });
  jobId = `cut${++jobCount}`;
  arn = executionArn('Cutover', `${jobId}-cutover-x`);
  sfn.on(StartExecutionCommand).resolves({ executionArn: arn, startDate: new Date() });
  sfn.on(ListExecutionsCommand).resolves({ executions: [] });
});

const t = new Date('2026-03-01T10:00:00Z');
const described = (status: string, extra: object = {}) => ({
  executionArn: arn,
  stateMachineArn: CUTOVER_ARN,
  name: `${jobId}-cutover-x`,
  status: status as 'RUNNING',
  startDate: t,
  ...extra,
});
const entered = (id: number, type: string, name: string): HistoryEvent => ({
  id,
  type: type as HistoryEvent['type'],
  timestamp: t,
  stateEnteredEventDetails: { name },
});
const progress = {
  state: 'RUNNING' as const,
  phase: 'Replicating',
  tablesDone: 5,
  tablesTotal: 5,
  rowsCopied: 5000,
  bytesCopied: 40960,
};

/** A job the replicate workflow finished: replicating, in sync, with its secrets and the source endpoint recorded. */
async function replicatingJob(): Promise<void> {
  await table.store.createJob({
    jobId,
    state: 'RUNNING',
    phase: 'Checks',
    source: { description: 'shop-db.abc123.eu-west-1.rds.amazonaws.com:5432', secretArn: SOURCE_SECRET },
    target: { description: 'secret database-replicator/target', secretArn: TARGET_SECRET },
    executionArn: executionArn('Replicate', `${jobId}-init-x`),
  });
  for (const db of ['shop', 'crm']) await table.store.updateDatabaseProgress(jobId, db, progress);
  await table.store.transition(jobId, 'SUCCEEDED', { phase: 'Replicating: every database is in sync' });
}

describe('cutover in remote mode', () => {
  it("starts the cut-over workflow with the job's databases and secret ARNs, and follows it to success", async () => {
    await replicatingJob();
    // The job's replicate execution, whose input names the target databases (the same names here); the cut-over's runs, then succeeds.
    const replicateArn = executionArn('Replicate', `${jobId}-init-x`);
    const cutover = [described('RUNNING'), described('RUNNING')];
    sfn.on(DescribeExecutionCommand).callsFake((input: { executionArn: string }) =>
      input.executionArn === replicateArn
        ? {
            executionArn: replicateArn,
            stateMachineArn: REPLICATE_ARN,
            status: 'SUCCEEDED',
            startDate: t,
            input: JSON.stringify({ jobId, databases: ['shop', 'crm'] }),
          }
        : (cutover.shift() ?? described('SUCCEEDED', { stopDate: new Date(t.getTime() + 42_000) })),
    );
    sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: [entered(4, 'MapStateEntered', 'Cut over each database')] })
      .resolves({
        events: [
          entered(12, 'TaskStateEntered', 'Record job succeeded'),
          entered(5, 'TaskStateEntered', 'Run cutover'),
        ],
      });
    const io = testIo(env, { table });
    expect(
      await cli(['cutover', '--remote', '--job-id', jobId, '--read-only-source', '--sequence-margin', '100'], io),
    ).toBe(0);

    const start = sfn.commandCalls(StartExecutionCommand);
    expect(start).toHaveLength(1);
    const { stateMachineArn, name, input } = start[0]!.args[0].input;
    expect(stateMachineArn).toBe(CUTOVER_ARN);
    expect(name).toMatch(new RegExp(`^${jobId}-cutover-\\d{8}T\\d{6}Z-[0-9a-f]{4}$`));
    expect(JSON.parse(input!)).toEqual({
      jobId,
      databases: ['shop', 'crm'],
      sourceSecretArn: SOURCE_SECRET,
      targetSecretArn: TARGET_SECRET,
      sourceEndpoint: 'shop-db.abc123.eu-west-1.rds.amazonaws.com:5432',
      plan: { cutover: { maxLagBytes: 1048576, timeoutSeconds: 600, readOnlySource: true, sequenceMargin: 100 } },
    });
    // The recorded secrets are used as they are: nothing is stored.
    expect(sm.calls()).toHaveLength(0);

    const out = io.out.join('');
    expect(out).toContain(`Started ${name} (cutover workflow, job ${jobId}).`);
    expect(out).toMatch(/RUNNING: Cut over each database \(job: Replicating: every database is in sync\)\n/);
    expect(out).toMatch(/RUNNING: Record job succeeded/);
    expect(out).toContain(
      `${jobId}-cutover-x succeeded after 42 s. Cut over: point your applications at the target, then run cleanup.`,
    );
    expect(sfn.commandCalls(DescribeExecutionCommand).filter((c) => c.args[0].input.executionArn === arn)).toHaveLength(
      3,
    );
  });

  it('reports the failed state and cause with --json, and exits 1', async () => {
    await replicatingJob();
    const cause =
      'Database crm: The replicator task 0af3 stopped: Essential container in task exited; container replicator exited with code 1. Its log stream in CloudWatch Logs says why. The task recorded: crm: CutoverError: Timed out after 600 s waiting for the lag of crm to drop under 1048576 bytes.';
    sfn.on(DescribeExecutionCommand).resolves(described('FAILED', { stopDate: t, error: 'States.TaskFailed', cause }));
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        { ...entered(20, 'FailStateEntered', 'Cut-over failed'), previousEventId: 19 },
        entered(15, 'TaskStateEntered', 'Record job failed'),
      ],
    });
    const io = testIo(env, { table });
    expect(await cli(['cutover', '--remote', '--job-id', jobId, '--json'], io)).toBe(1);
    expect(JSON.parse(io.out.join(''))).toMatchObject({
      command: 'cutover',
      mode: 'remote',
      ok: false,
      workflow: 'cutover',
      executionArn: arn,
      status: 'FAILED',
      failure: { state: 'Cut-over failed', error: 'States.TaskFailed', cause },
      job: { jobId, state: 'SUCCEEDED' },
    });
    expect(JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!)).toMatchObject({
      plan: { cutover: { readOnlySource: false, sequenceMargin: 0 } },
    });
  });

  it('says how to get a cut-over workflow when the deployment has none, and calls nothing', async () => {
    const { DATABASE_REPLICATOR_CUTOVER_STATE_MACHINE_ARN: _none, ...older } = env;
    const io = testIo(older, { table });
    expect(await cli(['cutover', '--remote', '--job-id', jobId], io)).toBe(1);
    expect(io.err.join('')).toContain(
      'The deployment has no cut-over workflow (the stack output CutoverStateMachineArn, which older stacks lack); deploy the current stack and run remote configure again, or set DATABASE_REPLICATOR_CUTOVER_STATE_MACHINE_ARN',
    );
    expect(sfn.calls()).toHaveLength(0);
  });
});
