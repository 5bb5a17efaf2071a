// Remote mode copies one database into a database of another name as local mode does: the target URL
// names it, and the workflows' inputs carry it as targetDatabases (init, then verify and cleanup).
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConnectionUrl } from '../../../src/connection/url.ts';
import { deriveJobId } from '../../../src/jobs/naming.ts';
import { plannedTargetDatabases } from '../../../src/remote/inputs.ts';
import { cli, deploymentEnv, executionArn, REPLICATE_ARN, testIo, useJobTable } from '../../support/remote.ts';

const sm = mockClient(SecretsManagerClient);
const sfn = mockClient(SFNClient);
const table = useJobTable();
const SOURCE_URL = 'postgresql://repl:pw-source-1@shop-db.example.internal:5432/shop';
const secretArn = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`;

beforeEach(() => {
  sm.reset();
  sfn.reset();
  sm.on(CreateSecretCommand).callsFake((input: { Name: string }) => ({ ARN: secretArn(input.Name), Name: input.Name }));
  sm.on(PutSecretValueCommand).callsFake((input: { SecretId: string }) => ({
    ARN: secretArn(input.SecretId),
    Name: input.SecretId,
  }));
  sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
});

/** Starts a command remotely and returns the input of the execution it started. */
async function startedInput(
  args: string[],
  targetUrl: string,
): Promise<{ databases: string[]; targetDatabases?: string[] }> {
  const jobId = deriveJobId(parseConnectionUrl(SOURCE_URL), parseConnectionUrl(targetUrl));
  const arn = executionArn('Replicate', `${jobId}-x`);
  sfn.on(StartExecutionCommand).resolves({ executionArn: arn, startDate: new Date() });
  sfn.on(DescribeExecutionCommand).resolves({
    executionArn: arn,
    stateMachineArn: REPLICATE_ARN,
    name: `${jobId}-x`,
    status: 'SUCCEEDED',
    startDate: new Date(),
    stopDate: new Date(),
    output: '{}',
  });
  const io = testIo(
    deploymentEnv(table.tableName, {
      DATABASE_REPLICATOR_SOURCE_URL: SOURCE_URL,
      DATABASE_REPLICATOR_TARGET_URL: targetUrl,
    }),
    { table },
  );
  await cli([...args, '--remote', '--yes'], io);
  const calls = sfn.commandCalls(StartExecutionCommand);
  expect(calls.length, io.text()).toBeGreaterThan(0);
  return JSON.parse(calls.at(-1)!.args[0].input.input!) as { databases: string[]; targetDatabases?: string[] };
}

describe('target database names in remote mode', () => {
  it("init and verify carry the target URL's database when it differs from the source's", async () => {
    const target = 'postgresql://admin:pw-target-2@10.0.0.12:5432/shop_copy';
    expect(await startedInput(['init', '--no-roles'], target)).toMatchObject({
      databases: ['shop'],
      targetDatabases: ['shop_copy'],
    });
    expect(await startedInput(['verify'], target)).toMatchObject({
      databases: ['shop'],
      targetDatabases: ['shop_copy'],
    });
  });

  it('leaves the names alone when the target URL names the same database or only the server (postgres)', async () => {
    for (const target of [
      'postgresql://admin:pw-target-2@10.0.0.12:5432/shop',
      'postgresql://admin:pw-target-2@10.0.0.12:5432/postgres',
    ]) {
      const input = await startedInput(['init', '--no-roles'], target);
      expect(input.databases).toEqual(['shop']);
      expect(input).not.toHaveProperty('targetDatabases');
    }
  });

  it('names no target database for several databases, or without a target URL', () => {
    expect(plannedTargetDatabases(['a', 'b'], { url: 'postgresql://u@h/other' })).toBeUndefined();
    expect(plannedTargetDatabases(['a'], { secretArn: secretArn('t') })).toBeUndefined();
    expect(plannedTargetDatabases(['a'], { url: 'postgresql://u@h/other' })).toEqual(['other']);
  });
});
