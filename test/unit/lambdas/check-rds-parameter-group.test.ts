import { DescribeDBInstancesCommand, DescribeDBParametersCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { checkRdsSource, handler } from '../../../lambdas/check-rds-parameter-group.ts';
import { assertNoSecrets } from '../../support/no-secrets.ts';
import { lambdaContext, withLogs } from '../../support/lambda.ts';

const rdsMock = mockClient(RDSClient);

const shopDb = {
  DBInstanceIdentifier: 'shop-db',
  Engine: 'postgres',
  EngineVersion: '15.7',
  DBInstanceStatus: 'available',
  MultiAZ: true,
  Endpoint: { Address: 'shop-db.abc123.eu-west-1.rds.amazonaws.com', Port: 5432 },
  DBParameterGroups: [{ DBParameterGroupName: 'shop-pg15', ParameterApplyStatus: 'in-sync' }],
};

beforeEach(() => {
  rdsMock.reset();
  rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [shopDb] });
});

describe('check-rds-parameter-group', () => {
  it('returns the instance, its parameter group and the Multi-AZ warning, logging the warning', async () => {
    rdsMock
      .on(DescribeDBParametersCommand)
      .resolves({ Parameters: [{ ParameterName: 'rds.logical_replication', ParameterValue: '1' }] });
    const { result, logs, lines } = await withLogs(() =>
      handler(
        { jobId: 'job-1', source: { instanceIdentifier: 'shop-db' } },
        lambdaContext('check-rds-parameter-group'),
      ),
    );
    expect(result).toMatchObject({
      jobId: 'job-1',
      instanceIdentifier: 'shop-db',
      parameterGroup: 'shop-pg15',
      multiAz: true,
      warnings: [expect.stringMatching(/failover loses the logical replication slot/)],
    });
    expect(lines.find((l) => l.level === 'WARN')).toMatchObject({
      jobId: 'job-1',
      function_name: 'check-rds-parameter-group',
      message: expect.stringMatching(/Multi-AZ/),
    });
    assertNoSecrets(result);
    assertNoSecrets(logs);
  });

  it('finds the source by endpoint through the plain function', async () => {
    rdsMock
      .on(DescribeDBParametersCommand)
      .resolves({ Parameters: [{ ParameterName: 'rds.logical_replication', ParameterValue: '1' }] });
    const rds = new RDSClient({ region: 'eu-west-1' });
    const result = await checkRdsSource(
      { jobId: 'job-1', source: { endpoint: 'shop-db.abc123.eu-west-1.rds.amazonaws.com:5432' } },
      { rds },
    );
    expect(result.instanceIdentifier).toBe('shop-db');
  });

  it('fails with the typed error name Step Functions matches', async () => {
    rdsMock
      .on(DescribeDBParametersCommand)
      .resolves({ Parameters: [{ ParameterName: 'rds.logical_replication', ParameterValue: '0' }] });
    const { error, lines } = await withLogs(() =>
      handler({ jobId: 'job-1', source: { instanceIdentifier: 'shop-db' } }, lambdaContext()),
    );
    expect(error).toMatchObject({
      name: 'LogicalReplicationOff',
      message: expect.stringContaining('set rds.logical_replication = 1 in shop-pg15 and reboot shop-db'),
    });
    expect(lines.at(-1)).toMatchObject({ level: 'ERROR', errorName: 'LogicalReplicationOff' });
  });

  it('refuses a URL in place of the endpoint as InvalidEvent, without echoing its password', async () => {
    const password = 'Rds-Event-Pw-9';
    const { error, logs } = await withLogs(() =>
      handler(
        {
          jobId: 'job-1',
          source: { endpoint: `postgres://master:${password}@shop-db.abc123.eu-west-1.rds.amazonaws.com/shop` },
        },
        lambdaContext(),
      ),
    );
    expect(error).toMatchObject({
      name: 'InvalidEvent',
      message: expect.stringContaining('source.endpoint: must be a host name'),
    });
    expect(error!.message + (error!.stack ?? '') + logs).not.toContain(password);
    expect(rdsMock.calls()).toHaveLength(0);
  });

  it('asks for an identifier or an endpoint', async () => {
    const { error } = await withLogs(() => handler({ jobId: 'job-1', source: {} }, lambdaContext()));
    expect(error).toMatchObject({
      name: 'InvalidEvent',
      message: expect.stringContaining('give instanceIdentifier or endpoint'),
    });
  });
});
