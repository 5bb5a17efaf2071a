// Finding the deployment: a stack's outputs (CloudFormation mocked), environment variables, and the
// profile `remote configure` saves; and the clients following the deployment's region.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { deploymentFromEnv, deploymentFromStack } from '../../../src/remote/deployment.ts';
import { cli, SOURCE_SECRET, TARGET_SECRET, tempDir, testIo, useJobTable } from '../../support/remote.ts';

const cfn = mockClient(CloudFormationClient);
const sfn = mockClient(SFNClient);
const table = useJobTable();

const STACK_REGION = 'us-west-2';
const machine = (name: string) => `arn:aws:states:${STACK_REGION}:123456789012:stateMachine:${name}`;
const outputs = (extra: Record<string, string> = {}) =>
  Object.entries({
    ReplicateStateMachineArn: machine('Replicate'),
    VerifyStateMachineArn: machine('Verify'),
    CleanupStateMachineArn: machine('Cleanup'),
    JobTableName: 'jobs',
    ScheduleGroupName: 'grp',
    AlarmTopicArn: 'arn:aws:sns:x',
    ...extra,
  }).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue }));
const stack = (name: string, extra?: Record<string, string>) => ({
  Stacks: [
    {
      StackName: name,
      StackId: `arn:aws:cloudformation:${STACK_REGION}:123456789012:stack/${name}/abc`,
      CreationTime: new Date(),
      StackStatus: 'CREATE_COMPLETE' as const,
      Outputs: outputs(extra),
    },
  ],
});

beforeEach(() => {
  cfn.reset();
  sfn.reset();
});

describe('the deployment', () => {
  it('is read from the stack outputs, with the region of the stack and the default secrets prefix', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'Repl' }).resolves(stack('Repl'));
    const deployment = await deploymentFromStack(new CloudFormationClient({ region: 'eu-west-1' }), 'Repl', {
      DATABASE_REPLICATOR_SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/r',
    });
    expect(deployment).toEqual({
      stackName: 'Repl',
      region: STACK_REGION,
      replicateStateMachineArn: machine('Replicate'),
      verifyStateMachineArn: machine('Verify'),
      cleanupStateMachineArn: machine('Cleanup'),
      jobTableName: 'jobs',
      scheduleGroupName: 'grp',
      secretsPrefix: 'database-replicator/',
      schedulerRoleArn: 'arn:aws:iam::123456789012:role/r',
    });
  });

  it('takes SchedulerRoleArn, SecretsPrefix and CutoverStateMachineArn outputs when the stack has them', async () => {
    cfn.on(DescribeStacksCommand).resolves(
      stack('Next', {
        SchedulerRoleArn: 'arn:aws:iam::123456789012:role/s',
        SecretsPrefix: 'repl/',
        CutoverStateMachineArn: machine('Cutover'),
      }),
    );
    expect(await deploymentFromStack(new CloudFormationClient({ region: STACK_REGION }), 'Next')).toMatchObject({
      schedulerRoleArn: 'arn:aws:iam::123456789012:role/s',
      secretsPrefix: 'repl/',
      cutoverStateMachineArn: machine('Cutover'),
    });
  });

  it('says what is wrong with a missing stack, one without the outputs, or half the variables', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'Gone' }).rejects(
      new CloudFormationServiceException({
        name: 'ValidationError',
        $fault: 'client',
        message: 'Stack with id Gone does not exist',
        $metadata: {},
      }),
    );
    cfn.on(DescribeStacksCommand, { StackName: 'Other' }).resolves({
      Stacks: [{ StackName: 'Other', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] }],
    });
    const client = new CloudFormationClient({ region: STACK_REGION });
    await expect(deploymentFromStack(client, 'Gone')).rejects.toThrow(
      'The stack Gone does not exist in this account and region; check --stack-name and --region (or AWS_REGION).',
    );
    await expect(deploymentFromStack(client, 'Other')).rejects.toThrow(
      /has no ReplicateStateMachineArn or JobTableName output/,
    );
    expect(() => deploymentFromEnv({ DATABASE_REPLICATOR_STATE_MACHINE_ARN: machine('R') })).toThrow(
      /Set both DATABASE_REPLICATOR_STATE_MACHINE_ARN and DATABASE_REPLICATOR_JOB_TABLE/,
    );
    expect(() =>
      deploymentFromEnv({ DATABASE_REPLICATOR_STATE_MACHINE_ARN: 'not-an-arn', DATABASE_REPLICATOR_JOB_TABLE: 'jobs' }),
    ).toThrow(/replicateStateMachineArn must be an states ARN/);
  });
});

describe('remote configure, show and forget', () => {
  it("saves the stack's deployment without secrets; commands then run remotely on it", async () => {
    cfn.on(DescribeStacksCommand).resolves(stack('Repl'));
    const env = { DATABASE_REPLICATOR_CONFIG_DIR: join(tempDir(), 'nested') };
    const regions: (string | undefined)[] = [];
    const io = testIo(env, { table, regions });
    expect(await cli(['remote', 'configure', '--stack-name', 'Repl', '--region', STACK_REGION], io)).toBe(0);
    expect(regions).toEqual([STACK_REGION]);
    const file = join(env.DATABASE_REPLICATOR_CONFIG_DIR, 'remote.json');
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved).toMatchObject({
      version: 1,
      deployment: {
        stackName: 'Repl',
        region: STACK_REGION,
        replicateStateMachineArn: machine('Replicate'),
        jobTableName: 'jobs',
      },
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(io.out.join('')).toContain(`Saved in ${file}; commands now run remotely unless --local`);

    const show = testIo(env, { table });
    expect(await cli(['remote', 'show', '--json'], show)).toBe(0);
    expect(JSON.parse(show.out.join('')).deployment.replicateStateMachineArn).toBe(machine('Replicate'));
    expect(cfn.calls()).toHaveLength(1);

    // Without any flag, init now starts the saved stack's workflow, through clients in the stack's region.
    const arn = `arn:aws:states:${STACK_REGION}:123456789012:execution:Replicate:x`;
    sfn.on(StartExecutionCommand).resolves({ executionArn: arn, startDate: new Date() });
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: arn,
      stateMachineArn: machine('Replicate'),
      name: 'x',
      status: 'SUCCEEDED',
      startDate: new Date(),
      stopDate: new Date(),
    });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    const used: (string | undefined)[] = [];
    const init = testIo({ ...env, AWS_REGION: 'eu-central-1' }, { table, regions: used });
    expect(
      await cli(
        [
          'init',
          '--yes',
          '--job-id',
          'cfg',
          '--source-secret',
          SOURCE_SECRET,
          '--target-secret',
          TARGET_SECRET,
          '--include-databases',
          'shop',
        ],
        init,
      ),
    ).toBe(0);
    expect(init.err.join('')).toMatch(/^Running remotely on the AWS deployment \(stack Repl saved in/);
    expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.stateMachineArn).toBe(machine('Replicate'));
    expect(used).toEqual([STACK_REGION]);
    expect(init.out.join('')).toContain(
      `https://${STACK_REGION}.console.aws.amazon.com/states/home?region=${STACK_REGION}#/v2/executions/details/${arn}`,
    );

    const forget = testIo(env, { table });
    expect(await cli(['remote', 'forget'], forget)).toBe(0);
    expect(forget.out.join('')).toBe(`Deleted ${file}.\n`);
  });

  it('--stack-name on a command reads the stack each time; configure without a stack or variables is a usage error', async () => {
    cfn.on(DescribeStacksCommand).resolves(stack('Live'));
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    const io = testIo({ DATABASE_REPLICATOR_CONFIG_DIR: tempDir() }, { table });
    expect(await cli(['status', '--stack-name', 'Live', '--job-id', 'none'], io)).toBe(1);
    expect(io.err.join('')).toMatch(/^Running remotely on the AWS deployment \(stack Live\)/);
    expect(io.err.join('')).toContain('There is no job none in the job table jobs');
    expect(sfn.commandCalls(ListExecutionsCommand).map((c) => c.args[0].input.stateMachineArn)).toContain(
      machine('Replicate'),
    );

    // Stopped following: the way back names the same stack, which no profile remembers.
    const arn = `arn:aws:states:${STACK_REGION}:123456789012:execution:Replicate:live-init-x`;
    sfn.on(StartExecutionCommand).resolves({ executionArn: arn, startDate: new Date() });
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: arn,
      stateMachineArn: machine('Replicate'),
      name: 'live-init-x',
      status: 'RUNNING',
      startDate: new Date(),
    });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    const stop = new AbortController();
    stop.abort();
    const init = testIo({ DATABASE_REPLICATOR_CONFIG_DIR: tempDir() }, { table, runtime: { interrupt: stop.signal } });
    expect(
      await cli(
        [
          'init',
          '--stack-name',
          'Live',
          '--yes',
          '--job-id',
          'live',
          '--source-secret',
          SOURCE_SECRET,
          '--target-secret',
          TARGET_SECRET,
          '--include-databases',
          'shop',
        ],
        init,
      ),
    ).toBe(130);
    expect(init.out.join('')).toContain(
      `follow it again: database-replicator status --remote --stack-name Live --region ${STACK_REGION} --job-id live --watch`,
    );

    const bare = testIo({ DATABASE_REPLICATOR_CONFIG_DIR: tempDir() }, { table });
    expect(await cli(['remote', 'configure'], bare)).toBe(2);
    expect(bare.err.join('')).toContain(
      'Pass --stack-name <stack> (and --region), or set DATABASE_REPLICATOR_STATE_MACHINE_ARN and DATABASE_REPLICATOR_JOB_TABLE',
    );
  });
});
