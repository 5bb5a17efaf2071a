import {
  DBClusterNotFoundFault,
  DBInstanceNotFoundFault,
  DescribeDBClusterParametersCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBParametersCommand,
  RDSClient,
  RDSServiceException,
  type DBCluster,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  checkRdsParameterGroup,
  LogicalReplicationOff,
  MissingPermission,
  ReadReplicaSource,
  RebootPending,
  SourceNotFound,
} from '../../../src/checks/rds.ts';

const rdsMock = mockClient(RDSClient);
const rds = new RDSClient({ region: 'eu-west-1' });

function instance(overrides: Partial<DBInstance> = {}): DBInstance {
  return {
    DBInstanceIdentifier: 'shop-db',
    Engine: 'postgres',
    EngineVersion: '16.3',
    DBInstanceStatus: 'available',
    MultiAZ: false,
    Endpoint: { Address: 'shop-db.abc123.eu-west-1.rds.amazonaws.com', Port: 5432 },
    DBParameterGroups: [{ DBParameterGroupName: 'shop-pg16', ParameterApplyStatus: 'in-sync' }],
    ...overrides,
  };
}

function auroraCluster(overrides: Partial<DBCluster> = {}): DBCluster {
  return {
    DBClusterIdentifier: 'orders',
    Engine: 'aurora-postgresql',
    Endpoint: 'orders.cluster-abc123.eu-west-1.rds.amazonaws.com',
    ReaderEndpoint: 'orders.cluster-ro-abc123.eu-west-1.rds.amazonaws.com',
    CustomEndpoints: ['reporting.cluster-custom-abc123.eu-west-1.rds.amazonaws.com'],
    DBClusterParameterGroup: 'orders-cluster-pg15',
    DBClusterMembers: [
      { DBInstanceIdentifier: 'orders-1', IsClusterWriter: true, DBClusterParameterGroupStatus: 'in-sync' },
      { DBInstanceIdentifier: 'orders-2', IsClusterWriter: false, DBClusterParameterGroupStatus: 'in-sync' },
    ],
    ...overrides,
  };
}

function auroraInstance(id: string): DBInstance {
  return instance({
    DBInstanceIdentifier: id,
    Engine: 'aurora-postgresql',
    EngineVersion: '15.4',
    DBClusterIdentifier: 'orders',
    Endpoint: { Address: `${id}.abc123.eu-west-1.rds.amazonaws.com`, Port: 5432 },
    DBParameterGroups: [{ DBParameterGroupName: 'default.aurora-postgresql15', ParameterApplyStatus: 'in-sync' }],
  });
}

function logicalReplication(value: string | undefined) {
  return { Parameters: [{ ParameterName: 'rds.logical_replication', ParameterValue: value, ApplyType: 'static' }] };
}

const denied = (name: string) =>
  new RDSServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
    message: 'User: arn:aws:sts::123456789012:assumed-role/x is not authorized',
  });

beforeEach(() => {
  rdsMock.reset();
});

describe('checkRdsParameterGroup: a PostgreSQL instance', () => {
  it('passes with rds.logical_replication = 1, reading the instance group with a name filter', async () => {
    rdsMock.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'shop-db' }).resolves({ DBInstances: [instance()] });
    rdsMock.on(DescribeDBParametersCommand).resolves(logicalReplication('1'));
    const result = await checkRdsParameterGroup(rds, { identifier: 'shop-db' });
    expect(result).toEqual({
      instanceIdentifier: 'shop-db',
      clusterIdentifier: null,
      engine: 'postgres',
      engineVersion: '16.3',
      majorVersion: 16,
      parameterGroup: 'shop-pg16',
      parameterGroupKind: 'db-parameter-group',
      multiAz: false,
      warnings: [],
    });
    const call = rdsMock.commandCalls(DescribeDBParametersCommand)[0]!.args[0].input;
    expect(call).toMatchObject({
      DBParameterGroupName: 'shop-pg16',
      Filters: [{ Name: 'parameter-name', Values: ['rds.logical_replication'] }],
    });
    expect(rdsMock.commandCalls(DescribeDBClusterParametersCommand)).toHaveLength(0);
  });

  it('refuses rds.logical_replication = 0 as LogicalReplicationOff, naming the group and the reboot', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    rdsMock.on(DescribeDBParametersCommand).resolves(logicalReplication('0'));
    const error = await checkRdsParameterGroup(rds, { identifier: 'shop-db' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogicalReplicationOff);
    expect((error as Error).name).toBe('LogicalReplicationOff');
    expect((error as Error).message).toBe(
      'rds.logical_replication is 0 in the DB parameter group shop-pg16 of instance shop-db; set rds.logical_replication = 1 in shop-pg16 and reboot shop-db (the parameter is static).',
    );
  });

  it('tells a default parameter group apart: it cannot be changed, so a new group is needed', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        instance({
          DBParameterGroups: [{ DBParameterGroupName: 'default.postgres16', ParameterApplyStatus: 'in-sync' }],
        }),
      ],
    });
    // A parameter with no value set is at its default (0), and the API returns it without ParameterValue.
    rdsMock.on(DescribeDBParametersCommand).resolves(logicalReplication(undefined));
    await expect(checkRdsParameterGroup(rds, { identifier: 'shop-db' })).rejects.toThrow(
      /rds\.logical_replication is 0 \(the default\) in the DB parameter group default\.postgres16 .*create a DB parameter group of the family postgres16 with rds\.logical_replication = 1, attach it to shop-db and reboot shop-db/,
    );
  });

  it('finds the parameter on a later page when the filter is not applied', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    // The paginator reuses one input object, so the markers are recorded as each call is made.
    const markers: (string | undefined)[] = [];
    rdsMock.on(DescribeDBParametersCommand).callsFake((input: { Marker?: string }) => {
      markers.push(input.Marker);
      return input.Marker === undefined
        ? { Parameters: [{ ParameterName: 'max_connections', ParameterValue: '100' }], Marker: 'page-2' }
        : logicalReplication('1');
    });
    await expect(checkRdsParameterGroup(rds, { identifier: 'shop-db' })).resolves.toMatchObject({
      parameterGroup: 'shop-pg16',
    });
    expect(markers).toEqual([undefined, 'page-2']);
  });

  it('refuses a group set to 1 that waits for a reboot as RebootPending', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        instance({
          DBParameterGroups: [{ DBParameterGroupName: 'shop-pg16', ParameterApplyStatus: 'pending-reboot' }],
        }),
      ],
    });
    rdsMock.on(DescribeDBParametersCommand).resolves(logicalReplication('1'));
    const error = await checkRdsParameterGroup(rds, { identifier: 'shop-db' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RebootPending);
    expect((error as Error).name).toBe('RebootPending');
    expect((error as Error).message).toMatch(/shop-pg16 .*pending-reboot.*reboot shop-db and run the check again\.$/);
  });

  it('refuses a read replica, naming its primary', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        instance({ DBInstanceIdentifier: 'shop-replica', ReadReplicaSourceDBInstanceIdentifier: 'shop-db' }),
      ],
    });
    const error = await checkRdsParameterGroup(rds, { identifier: 'shop-replica' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReadReplicaSource);
    expect((error as Error).name).toBe('ReadReplicaSource');
    expect((error as Error).message).toBe(
      'The DB instance shop-replica is a read replica of shop-db; logical replication needs the primary, so use shop-db (its endpoint) as the source.',
    );
    expect(rdsMock.commandCalls(DescribeDBParametersCommand)).toHaveLength(0);
  });

  it('refuses a read replica of a DB cluster', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        instance({ ReadReplicaSourceDBClusterIdentifier: 'arn:aws:rds:eu-west-1:123456789012:cluster:orders' }),
      ],
    });
    await expect(checkRdsParameterGroup(rds, { identifier: 'shop-db' })).rejects.toThrow(ReadReplicaSource);
  });

  it('warns about Multi-AZ before PostgreSQL 16, not from 16 on', async () => {
    rdsMock.on(DescribeDBParametersCommand).resolves(logicalReplication('1'));
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [instance({ MultiAZ: true, EngineVersion: '15.7' })] });
    const old = await checkRdsParameterGroup(rds, { identifier: 'shop-db' });
    expect(old.multiAz).toBe(true);
    expect(old.warnings).toHaveLength(1);
    expect(old.warnings[0]).toMatch(
      /^shop-db is Multi-AZ on PostgreSQL 15\.7: before PostgreSQL 16 a failover loses the logical replication slot/,
    );

    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [instance({ MultiAZ: true, EngineVersion: '16.3' })] });
    const current = await checkRdsParameterGroup(rds, { identifier: 'shop-db' });
    expect(current).toMatchObject({ multiAz: true, warnings: [] });
  });

  it('refuses a non-PostgreSQL instance', async () => {
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [instance({ Engine: 'mysql', EngineVersion: '8.0.35' })] });
    await expect(checkRdsParameterGroup(rds, { identifier: 'shop-db' })).rejects.toThrow(/runs mysql, not PostgreSQL/);
  });
});

describe('checkRdsParameterGroup: finding the source', () => {
  it('finds an instance by its endpoint across pages of DescribeDBInstances (host with port and upper case)', async () => {
    const markers: (string | undefined)[] = [];
    rdsMock.on(DescribeDBInstancesCommand).callsFake((input: { Marker?: string }) => {
      markers.push(input.Marker);
      return input.Marker === undefined
        ? {
            DBInstances: [
              instance({
                DBInstanceIdentifier: 'other',
                Endpoint: { Address: 'other.abc123.eu-west-1.rds.amazonaws.com' },
              }),
            ],
            Marker: 'm2',
          }
        : { DBInstances: [instance()] };
    });
    rdsMock.on(DescribeDBParametersCommand).resolves(logicalReplication('1'));
    const result = await checkRdsParameterGroup(rds, { endpoint: 'Shop-DB.abc123.eu-west-1.rds.amazonaws.com:5432' });
    expect(result.instanceIdentifier).toBe('shop-db');
    expect(markers).toEqual([undefined, 'm2']);
    expect(rdsMock.commandCalls(DescribeDBClustersCommand)).toHaveLength(0);
  });

  it('reports SourceNotFound for an unknown endpoint after looking at instances and clusters', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [auroraCluster()] });
    const error = await checkRdsParameterGroup(rds, { endpoint: 'nowhere.abc123.eu-west-1.rds.amazonaws.com' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SourceNotFound);
    expect((error as Error).name).toBe('SourceNotFound');
    expect((error as Error).message).toBe(
      'No DB instance or DB cluster in this account and region has the endpoint nowhere.abc123.eu-west-1.rds.amazonaws.com; check the source host name and the region the workflow runs in.',
    );
  });

  it('reports SourceNotFound for an unknown identifier (neither instance nor cluster)', async () => {
    rdsMock
      .on(DescribeDBInstancesCommand)
      .rejects(new DBInstanceNotFoundFault({ message: 'DBInstance nope not found.', $metadata: {} }));
    rdsMock
      .on(DescribeDBClustersCommand)
      .rejects(new DBClusterNotFoundFault({ message: 'DBCluster nope not found.', $metadata: {} }));
    await expect(checkRdsParameterGroup(rds, { identifier: 'nope' })).rejects.toThrow(
      new SourceNotFound(
        'No DB instance or DB cluster named nope exists in this account and region; check the identifier and the region the workflow runs in.',
      ),
    );
  });

  it('asks for an identifier or an endpoint when given neither', async () => {
    await expect(checkRdsParameterGroup(rds, {})).rejects.toThrow(SourceNotFound);
    expect(rdsMock.calls()).toHaveLength(0);
  });
});

describe('checkRdsParameterGroup: Aurora', () => {
  function aurora(clusterOverrides: Partial<DBCluster> = {}) {
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [instance(), auroraInstance('orders-1'), auroraInstance('orders-2')] });
    rdsMock
      .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders-1' })
      .resolves({ DBInstances: [auroraInstance('orders-1')] });
    rdsMock
      .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders-2' })
      .resolves({ DBInstances: [auroraInstance('orders-2')] });
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [auroraCluster(clusterOverrides)] });
    rdsMock
      .on(DescribeDBParametersCommand)
      .rejects(new Error('the instance parameter group must not be read for Aurora'));
  }

  it('reads rds.logical_replication from the cluster parameter group when found by the cluster endpoint', async () => {
    aurora();
    rdsMock.on(DescribeDBClusterParametersCommand).resolves(logicalReplication('1'));
    const result = await checkRdsParameterGroup(rds, { endpoint: 'orders.cluster-abc123.eu-west-1.rds.amazonaws.com' });
    expect(result).toMatchObject({
      instanceIdentifier: 'orders-1',
      clusterIdentifier: 'orders',
      engine: 'aurora-postgresql',
      parameterGroup: 'orders-cluster-pg15',
      parameterGroupKind: 'db-cluster-parameter-group',
      warnings: [],
    });
    expect(rdsMock.commandCalls(DescribeDBClusterParametersCommand)[0]!.args[0].input).toMatchObject({
      DBClusterParameterGroupName: 'orders-cluster-pg15',
      Filters: [{ Name: 'parameter-name', Values: ['rds.logical_replication'] }],
    });
  });

  it('reports LogicalReplicationOff for the cluster group by the cluster identifier', async () => {
    aurora();
    rdsMock
      .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders' })
      .rejects(new DBInstanceNotFoundFault({ message: 'not found', $metadata: {} }));
    rdsMock.on(DescribeDBClusterParametersCommand).resolves(logicalReplication('0'));
    await expect(checkRdsParameterGroup(rds, { identifier: 'orders' })).rejects.toThrow(
      new LogicalReplicationOff(
        'rds.logical_replication is 0 in the DB cluster parameter group orders-cluster-pg15 of cluster orders; set rds.logical_replication = 1 in orders-cluster-pg15 and reboot orders-1 (the parameter is static).',
      ),
    );
  });

  it("reports a pending reboot from the writer member's cluster parameter group status", async () => {
    aurora({
      DBClusterMembers: [
        { DBInstanceIdentifier: 'orders-1', IsClusterWriter: true, DBClusterParameterGroupStatus: 'pending-reboot' },
        { DBInstanceIdentifier: 'orders-2', IsClusterWriter: false, DBClusterParameterGroupStatus: 'in-sync' },
      ],
    });
    rdsMock.on(DescribeDBClusterParametersCommand).resolves(logicalReplication('1'));
    await expect(checkRdsParameterGroup(rds, { identifier: 'orders-1' })).rejects.toThrow(RebootPending);
  });

  it('refuses the reader endpoint and a reader instance as ReadReplicaSource', async () => {
    aurora();
    rdsMock.on(DescribeDBClusterParametersCommand).resolves(logicalReplication('1'));
    await expect(
      checkRdsParameterGroup(rds, { endpoint: 'orders.cluster-ro-abc123.eu-west-1.rds.amazonaws.com' }),
    ).rejects.toThrow(
      new ReadReplicaSource(
        'orders.cluster-ro-abc123.eu-west-1.rds.amazonaws.com is the reader endpoint of the DB cluster orders, which reaches only replicas; use the cluster (writer) endpoint orders.cluster-abc123.eu-west-1.rds.amazonaws.com as the source.',
      ),
    );
    await expect(checkRdsParameterGroup(rds, { identifier: 'orders-2' })).rejects.toThrow(
      /orders-2 is a reader of the DB cluster orders; use the cluster \(writer\) endpoint/,
    );
  });

  it('refuses a replica cluster (cross-region or global secondary)', async () => {
    aurora({ ReplicationSourceIdentifier: 'arn:aws:rds:us-east-1:123456789012:cluster:orders-primary' });
    await expect(checkRdsParameterGroup(rds, { identifier: 'orders-1' })).rejects.toThrow(ReadReplicaSource);
  });

  it('warns that a custom endpoint may reach readers, and checks the writer', async () => {
    aurora();
    rdsMock.on(DescribeDBClusterParametersCommand).resolves(logicalReplication('1'));
    const result = await checkRdsParameterGroup(rds, {
      endpoint: 'reporting.cluster-custom-abc123.eu-west-1.rds.amazonaws.com',
    });
    expect(result.instanceIdentifier).toBe('orders-1');
    expect(result.warnings).toEqual([
      expect.stringMatching(/custom endpoint of the DB cluster orders and may route to readers/),
    ]);
  });
});

describe('checkRdsParameterGroup: permissions', () => {
  it.each([
    ['AccessDenied', DescribeDBInstancesCommand, 'rds:DescribeDBInstances'],
    ['AccessDeniedException', DescribeDBParametersCommand, 'rds:DescribeDBParameters'],
    ['UnauthorizedOperation', DescribeDBParametersCommand, 'rds:DescribeDBParameters'],
  ] as const)('maps %s on %s to MissingPermission naming %s', async (code, command, action) => {
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    rdsMock.on(DescribeDBParametersCommand).resolves(logicalReplication('1'));
    rdsMock.on(command as typeof DescribeDBInstancesCommand).rejects(denied(code));
    const error = await checkRdsParameterGroup(rds, { identifier: 'shop-db' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingPermission);
    expect((error as MissingPermission).name).toBe('MissingPermission');
    expect((error as MissingPermission).action).toBe(action);
    expect((error as Error).message).toBe(
      `This role may not call ${action} (${code}); grant it ${action} in the IAM policy of the role that runs the check.`,
    );
  });

  it('names rds:DescribeDBClusterParameters for an Aurora source', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [auroraInstance('orders-1')] });
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [auroraCluster()] });
    rdsMock.on(DescribeDBClusterParametersCommand).rejects(denied('AccessDenied'));
    await expect(checkRdsParameterGroup(rds, { identifier: 'orders-1' })).rejects.toMatchObject({
      name: 'MissingPermission',
      action: 'rds:DescribeDBClusterParameters',
    });
  });

  it("passes other AWS errors through unchanged, for the workflow's Retry", async () => {
    const throttled = new RDSServiceException({
      name: 'Throttling',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      message: 'Rate exceeded',
    });
    rdsMock.on(DescribeDBInstancesCommand).rejects(throttled);
    await expect(checkRdsParameterGroup(rds, { identifier: 'shop-db' })).rejects.toMatchObject({ name: 'Throttling' });
  });
});
