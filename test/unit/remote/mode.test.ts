// Local or remote: --local, --remote, or neither with and without a configured deployment.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { findDeploymentHint } from '../../../src/remote/deployment.ts';
import { selectMode } from '../../../src/remote/mode.ts';
import { RemoteUsageError } from '../../../src/remote/errors.ts';
import { cli, deploymentEnv, REPLICATE_ARN, tempDir, testIo, useJobTable } from '../../support/remote.ts';

const sfn = mockClient(SFNClient);
const table = useJobTable();

beforeEach(() => {
  sfn.reset();
  sfn.on(ListExecutionsCommand).resolves({ executions: [] });
});

const hint = { origin: 'env' as const, label: 'DATABASE_REPLICATOR_STATE_MACHINE_ARN' };
const noDeployment = () => ({ DATABASE_REPLICATOR_CONFIG_DIR: tempDir() });

describe('selectMode', () => {
  it('follows the flags, and without one goes remote exactly when a deployment is configured, saying so', () => {
    expect(selectMode({ local: true }, hint)).toEqual({ remote: false });
    expect(selectMode({ remote: true }, hint)).toEqual({ remote: true });
    const implicitRemote = selectMode({}, hint);
    expect(implicitRemote.remote).toBe(true);
    expect(implicitRemote.line).toMatch(
      /^Running remotely on the AWS deployment \(DATABASE_REPLICATOR_STATE_MACHINE_ARN\); pass --local/,
    );
    const implicitLocal = selectMode({}, undefined);
    expect(implicitLocal.remote).toBe(false);
    expect(implicitLocal.line).toMatch(/^Running locally: no AWS deployment is configured/);
  });

  it('refuses --remote without a deployment, and --local with --remote', () => {
    expect(() => selectMode({ remote: true }, undefined)).toThrow(RemoteUsageError);
    expect(() => selectMode({ remote: true }, undefined)).toThrow(
      /--remote needs a deployed stack: pass --stack-name <stack>/,
    );
    expect(() => selectMode({ local: true, remote: true }, hint)).toThrow(/--local and --remote exclude each other/);
  });

  it('finds a deployment from --stack-name, its variable, the two variables, or a saved profile, in that order', () => {
    const dir = tempDir();
    expect(findDeploymentHint({ env: { DATABASE_REPLICATOR_CONFIG_DIR: dir } })).toBeUndefined();
    expect(findDeploymentHint({ stackName: 'Repl', env: { DATABASE_REPLICATOR_CONFIG_DIR: dir } })).toEqual({
      origin: 'stack',
      label: 'stack Repl',
    });
    expect(
      findDeploymentHint({ env: { DATABASE_REPLICATOR_CONFIG_DIR: dir, DATABASE_REPLICATOR_STACK_NAME: 'Other' } })
        ?.label,
    ).toBe('stack Other');
    expect(findDeploymentHint({ env: deploymentEnv('jobs') })?.origin).toBe('env');
    const deployment = {
      region: 'eu-west-1',
      stackName: 'Saved',
      replicateStateMachineArn: REPLICATE_ARN,
      jobTableName: 'jobs',
      secretsPrefix: 'database-replicator/',
    };
    writeFileSync(
      join(dir, 'remote.json'),
      JSON.stringify({ version: 1, savedAt: new Date().toISOString(), deployment }),
    );
    expect(findDeploymentHint({ env: { DATABASE_REPLICATOR_CONFIG_DIR: dir } })).toEqual({
      origin: 'profile',
      label: `stack Saved saved in ${join(dir, 'remote.json')}`,
    });
  });
});

describe('mode selection in the CLI', () => {
  // status needs a job id remotely and URLs locally: which error comes back tells which mode ran.
  const LOCAL = /The source database is missing/;
  const REMOTE = /There is no job nojob in the job table jobs/;

  it('without a deployment and without a flag runs locally and says so on stderr', async () => {
    const io = testIo(noDeployment(), { table });
    expect(await cli(['status', '--job-id', 'nojob'], io)).toBe(2);
    expect(io.err.join('')).toMatch(/^Running locally: no AWS deployment is configured/);
    expect(io.err.join('')).toMatch(LOCAL);
  });

  it('with a deployment and without a flag runs remotely and says so', async () => {
    const io = testIo(deploymentEnv(table.tableName), { table });
    expect(await cli(['status', '--job-id', 'nojob'], io)).toBe(1);
    expect(io.err.join('')).toMatch(/^Running remotely on the AWS deployment/);
    expect(io.err.join('')).toMatch(REMOTE);
    // It looked for the job's executions on the replicate workflow.
    expect(sfn.commandCalls(ListExecutionsCommand).map((c) => c.args[0].input.stateMachineArn)).toContain(
      REPLICATE_ARN,
    );
  });

  it('with a deployment, --local runs locally without a line about the mode', async () => {
    const io = testIo(deploymentEnv(table.tableName), { table });
    expect(await cli(['status', '--local', '--job-id', 'nojob'], io)).toBe(2);
    expect(io.err.join('')).not.toMatch(/Running (locally|remotely)/);
    expect(io.err.join('')).toMatch(LOCAL);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('with a saved profile and no flag runs remotely', async () => {
    const env = noDeployment();
    const deployment = {
      region: 'eu-west-1',
      stackName: 'Saved',
      replicateStateMachineArn: REPLICATE_ARN,
      jobTableName: table.tableName,
      secretsPrefix: 'database-replicator/',
    };
    writeFileSync(
      join(env.DATABASE_REPLICATOR_CONFIG_DIR, 'remote.json'),
      JSON.stringify({ version: 1, savedAt: new Date().toISOString(), deployment }),
    );
    const io = testIo(env, { table });
    expect(await cli(['status', '--job-id', 'nojob'], io)).toBe(1);
    expect(io.err.join('')).toMatch(/Running remotely on the AWS deployment \(stack Saved saved in/);
    expect(io.err.join('')).toMatch(REMOTE);
  });

  it('a broken saved profile is reported, except with --local, which never reads it', async () => {
    const env = noDeployment();
    writeFileSync(join(env.DATABASE_REPLICATOR_CONFIG_DIR, 'remote.json'), '{ not json');
    const implicit = testIo(env, { table });
    expect(await cli(['status', '--job-id', 'nojob'], implicit)).toBe(2);
    expect(implicit.err.join('')).toContain(
      `The remote profile ${join(env.DATABASE_REPLICATOR_CONFIG_DIR, 'remote.json')} is not valid; run remote configure again or delete the file.`,
    );
    const local = testIo(env, { table });
    expect(await cli(['status', '--local', '--job-id', 'nojob'], local)).toBe(2);
    expect(local.err.join('')).toMatch(LOCAL);
  });

  it('--remote without a deployment, --local with --remote, and remote-only flags locally are usage errors', async () => {
    const remote = testIo(noDeployment(), { table });
    expect(await cli(['status', '--remote', '--job-id', 'nojob'], remote)).toBe(2);
    expect(remote.err.join('')).toMatch(/--remote needs a deployed stack/);
    const both = testIo(deploymentEnv(table.tableName), { table });
    expect(await cli(['status', '--local', '--remote'], both)).toBe(2);
    expect(both.err.join('')).toMatch(/--local and --remote exclude each other/);
    const secret = testIo(noDeployment(), { table });
    expect(
      await cli(
        [
          'verify',
          '--source-secret',
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:s-AbCdEf',
          '--schedule',
          'rate(1 hour)',
        ],
        secret,
      ),
    ).toBe(2);
    expect(secret.err.join('')).toMatch(/--source-secret, --schedule need remote mode/);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('the remote --json status of a running job reads its execution', async () => {
    await table.store.createJob({
      jobId: 'modejob',
      state: 'RUNNING',
      phase: 'Copy snapshot',
      source: { description: 'db.example.com:5432' },
      target: { description: 'secret t' },
      executionArn: `${REPLICATE_ARN.replace(':stateMachine:', ':execution:')}:modejob-init-x`,
    });
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: 'x',
      stateMachineArn: REPLICATE_ARN,
      name: 'modejob-init-x',
      status: 'RUNNING',
      startDate: new Date(),
    });
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        {
          id: 7,
          type: 'TaskStateEntered',
          timestamp: new Date(),
          stateEnteredEventDetails: { name: 'Copy snapshot' },
        },
      ],
    });
    const io = testIo(deploymentEnv(table.tableName), { table });
    expect(await cli(['status', '--remote', '--json', '--job-id', 'modejob'], io)).toBe(0);
    const doc = JSON.parse(io.out.join(''));
    expect(doc).toMatchObject({
      command: 'status',
      mode: 'remote',
      ok: true,
      jobId: 'modejob',
      job: { state: 'RUNNING', phase: 'Copy snapshot' },
      execution: { status: 'RUNNING', state: 'Copy snapshot', workflow: 'replicate' },
    });
  });
});
