import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  paginateDescribeDBClusterParameters,
  paginateDescribeDBClusters,
  paginateDescribeDBInstances,
  paginateDescribeDBParameters,
  type DBCluster,
  type DBInstance,
  type Parameter,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { isAccessDenied, MissingPermission } from '../connection/secrets.ts';

// The RDS control-plane side of validate: what only the RDS API can tell (the parameter group, a
// pending reboot, whether the instance is a read replica, Multi-AZ). Each problem is its own error
// class whose `name` a Step Functions Catch can match, with a message that says what to do.

export { MissingPermission };

/** rds.logical_replication is off in the parameter group that applies to the source. */
export class LogicalReplicationOff extends Error {
  override name = 'LogicalReplicationOff';
}

/** The parameter group says on, but the change waits for a reboot of the instance. */
export class RebootPending extends Error {
  override name = 'RebootPending';
}

/** The source is a read replica (or an Aurora reader): logical replication needs the primary. */
export class ReadReplicaSource extends Error {
  override name = 'ReadReplicaSource';
}

/** No PostgreSQL instance or cluster matches the identifier or endpoint. */
export class SourceNotFound extends Error {
  override name = 'SourceNotFound';
}

export interface RdsSourceLookup {
  /** A DB instance identifier, or an Aurora / Multi-AZ DB cluster identifier. */
  identifier?: string;
  /** The host name the source URL uses: an instance endpoint, or a cluster (writer) or custom endpoint. */
  endpoint?: string;
}

export interface RdsSourceCheck {
  instanceIdentifier: string;
  clusterIdentifier: string | null;
  engine: string;
  engineVersion: string;
  majorVersion: number;
  /** The group rds.logical_replication was read from. */
  parameterGroup: string;
  parameterGroupKind: 'db-parameter-group' | 'db-cluster-parameter-group';
  multiAz: boolean;
  warnings: string[];
}

const PARAMETER = 'rds.logical_replication';
const POSTGRES_ENGINES = new Set(['postgres', 'aurora-postgresql']);
/** From this major on, RDS keeps logical slots across a Multi-AZ failover. */
const SLOTS_SURVIVE_FAILOVER_FROM = 16;

/** Runs one RDS call; an authorization failure becomes MissingPermission naming the IAM action. */
async function call<T>(action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isAccessDenied(error)) {
      throw new MissingPermission(
        `rds:${action}`,
        `This role may not call rds:${action} (${(error as Error).name}); grant it rds:${action} in the IAM policy of the role that runs the check.`,
      );
    }
    throw error;
  }
}

function normalizeHost(endpoint: string): string {
  let host = endpoint
    .trim()
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, '');
  host = host.replace(/^[^@/]*@/, '').replace(/[/?].*$/, '');
  host = host.replace(/:\d+$/, '').replace(/\.$/, '');
  return host;
}

const sameHost = (a: string | undefined, host: string) => a !== undefined && normalizeHost(a) === host;

/** Runs one RDS describe call; the fault it raises for an unknown identifier means there is none. */
async function describeOrNone<T>(action: string, notFound: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call(action, fn);
  } catch (error) {
    if ((error as Error).name === notFound) return undefined;
    throw error;
  }
}

async function describeInstance(rds: RDSClient, identifier: string): Promise<DBInstance | undefined> {
  const out = await describeOrNone('DescribeDBInstances', 'DBInstanceNotFoundFault', () =>
    rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier })),
  );
  return out?.DBInstances?.[0];
}

async function describeCluster(rds: RDSClient, identifier: string): Promise<DBCluster | undefined> {
  const out = await describeOrNone('DescribeDBClusters', 'DBClusterNotFoundFault', () =>
    rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: identifier })),
  );
  return out?.DBClusters?.[0];
}

interface Located {
  instance: DBInstance;
  cluster: DBCluster | undefined;
  warnings: string[];
}

async function writerOf(rds: RDSClient, cluster: DBCluster): Promise<DBInstance> {
  const writer = cluster.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;
  const instance = writer === undefined ? undefined : await describeInstance(rds, writer);
  if (!instance)
    throw new SourceNotFound(
      `The DB cluster ${cluster.DBClusterIdentifier} has no writer instance; add or start its writer, then run the check again.`,
    );
  return instance;
}

async function locateByIdentifier(rds: RDSClient, identifier: string): Promise<Located> {
  const instance = await describeInstance(rds, identifier);
  if (instance) return { instance, cluster: undefined, warnings: [] };
  const cluster = await describeCluster(rds, identifier);
  if (cluster) return { instance: await writerOf(rds, cluster), cluster, warnings: [] };
  throw new SourceNotFound(
    `No DB instance or DB cluster named ${identifier} exists in this account and region; check the identifier and the region the workflow runs in.`,
  );
}

async function locateByEndpoint(rds: RDSClient, endpoint: string): Promise<Located> {
  const host = normalizeHost(endpoint);
  const instance = await call('DescribeDBInstances', async () => {
    for await (const page of paginateDescribeDBInstances({ client: rds }, {})) {
      const found = page.DBInstances?.find((i) => sameHost(i.Endpoint?.Address, host));
      if (found) return found;
    }
    return undefined;
  });
  if (instance) return { instance, cluster: undefined, warnings: [] };
  const cluster = await call('DescribeDBClusters', async () => {
    for await (const page of paginateDescribeDBClusters({ client: rds }, {})) {
      const found = page.DBClusters?.find(
        (c) =>
          sameHost(c.Endpoint, host) ||
          sameHost(c.ReaderEndpoint, host) ||
          c.CustomEndpoints?.some((e) => sameHost(e, host)),
      );
      if (found) return found;
    }
    return undefined;
  });
  if (!cluster) {
    throw new SourceNotFound(
      `No DB instance or DB cluster in this account and region has the endpoint ${host}; check the source host name and the region the workflow runs in.`,
    );
  }
  if (sameHost(cluster.ReaderEndpoint, host)) {
    throw new ReadReplicaSource(
      `${host} is the reader endpoint of the DB cluster ${cluster.DBClusterIdentifier}, which reaches only replicas; use the cluster (writer) endpoint ${cluster.Endpoint} as the source.`,
    );
  }
  const warnings = sameHost(cluster.Endpoint, host)
    ? []
    : [
        `${host} is a custom endpoint of the DB cluster ${cluster.DBClusterIdentifier} and may route to readers; use the cluster (writer) endpoint ${cluster.Endpoint} as the source.`,
      ];
  return { instance: await writerOf(rds, cluster), cluster, warnings };
}

async function findParameter(pages: AsyncIterable<{ Parameters?: Parameter[] }>): Promise<Parameter | undefined> {
  for await (const page of pages) {
    // The filter should return only this parameter; matching the name keeps us right if it is ignored.
    const found = page.Parameters?.find((p) => p.ParameterName === PARAMETER);
    if (found) return found;
  }
  return undefined;
}

function majorOf(version: string): number {
  return Number.parseInt(version.split('.')[0] ?? '', 10);
}

const isOn = (value: string | undefined) => value === '1' || value?.toLowerCase() === 'on';

function refuseReplicas(instance: DBInstance, cluster: DBCluster | undefined): void {
  const id = instance.DBInstanceIdentifier;
  const primary = instance.ReadReplicaSourceDBInstanceIdentifier ?? instance.ReadReplicaSourceDBClusterIdentifier;
  if (primary) {
    throw new ReadReplicaSource(
      `The DB instance ${id} is a read replica of ${primary}; logical replication needs the primary, so use ${primary} (its endpoint) as the source.`,
    );
  }
  if (cluster?.ReplicationSourceIdentifier) {
    throw new ReadReplicaSource(
      `The DB cluster ${cluster.DBClusterIdentifier} is a replica of ${cluster.ReplicationSourceIdentifier}; logical replication needs the primary cluster, so use its writer endpoint as the source.`,
    );
  }
  const member = cluster?.DBClusterMembers?.find((m) => m.DBInstanceIdentifier === id);
  if (member && !member.IsClusterWriter) {
    throw new ReadReplicaSource(
      `The DB instance ${id} is a reader of the DB cluster ${cluster!.DBClusterIdentifier}; use the cluster (writer) endpoint ${cluster!.Endpoint} as the source.`,
    );
  }
}

/**
 * Finds the source on RDS (by identifier or endpoint) and checks what the RDS API knows about it:
 * not a read replica, rds.logical_replication = 1 in the parameter group that applies (the DB
 * cluster parameter group for Aurora and Multi-AZ DB clusters), no reboot pending. Multi-AZ on
 * PostgreSQL before 16 is a warning: a failover loses the logical replication slot.
 */
export async function checkRdsParameterGroup(rds: RDSClient, lookup: RdsSourceLookup): Promise<RdsSourceCheck> {
  let located: Located;
  if (lookup.identifier) located = await locateByIdentifier(rds, lookup.identifier);
  else if (lookup.endpoint) located = await locateByEndpoint(rds, lookup.endpoint);
  else
    throw new SourceNotFound(
      'No source instance identifier or endpoint was given; pass the DB instance identifier or the host name of the source.',
    );
  const { instance, warnings } = located;
  const id = instance.DBInstanceIdentifier ?? '(unnamed)';
  const engine = instance.Engine ?? '';
  if (!POSTGRES_ENGINES.has(engine)) {
    throw new SourceNotFound(
      `The DB instance ${id} runs ${engine || 'an unknown engine'}, not PostgreSQL; point the source at a postgres or aurora-postgresql instance.`,
    );
  }
  const clusterId = instance.DBClusterIdentifier ?? located.cluster?.DBClusterIdentifier;
  const cluster = located.cluster ?? (clusterId ? await describeCluster(rds, clusterId) : undefined);
  refuseReplicas(instance, cluster);

  const engineVersion = instance.EngineVersion ?? '';
  const majorVersion = majorOf(engineVersion);
  const useCluster = engine === 'aurora-postgresql' || clusterId !== undefined;
  let parameterGroup: string;
  let parameter: Parameter | undefined;
  let pendingReboot: boolean;
  let applying: boolean;
  let where: string;
  if (useCluster) {
    if (!cluster?.DBClusterParameterGroup)
      throw new SourceNotFound(
        `The DB cluster ${clusterId} of instance ${id} was not found or has no DB cluster parameter group; check the cluster in the RDS console.`,
      );
    parameterGroup = cluster.DBClusterParameterGroup;
    where = `the DB cluster parameter group ${parameterGroup} of cluster ${cluster.DBClusterIdentifier}`;
    parameter = await call('DescribeDBClusterParameters', () =>
      findParameter(
        paginateDescribeDBClusterParameters(
          { client: rds },
          { DBClusterParameterGroupName: parameterGroup, Filters: [{ Name: 'parameter-name', Values: [PARAMETER] }] },
        ),
      ),
    );
    const member = cluster.DBClusterMembers?.find((m) => m.DBInstanceIdentifier === id);
    pendingReboot = member?.DBClusterParameterGroupStatus === 'pending-reboot';
    applying = member?.DBClusterParameterGroupStatus === 'applying';
  } else {
    const group = instance.DBParameterGroups?.[0];
    if (!group?.DBParameterGroupName)
      throw new SourceNotFound(`The DB instance ${id} reports no DB parameter group; check it in the RDS console.`);
    parameterGroup = group.DBParameterGroupName;
    where = `the DB parameter group ${parameterGroup} of instance ${id}`;
    parameter = await call('DescribeDBParameters', () =>
      findParameter(
        paginateDescribeDBParameters(
          { client: rds },
          { DBParameterGroupName: parameterGroup, Filters: [{ Name: 'parameter-name', Values: [PARAMETER] }] },
        ),
      ),
    );
    pendingReboot = instance.DBParameterGroups!.some((g) => g.ParameterApplyStatus === 'pending-reboot');
    applying = instance.DBParameterGroups!.some((g) => g.ParameterApplyStatus === 'applying');
  }

  const value = parameter?.ParameterValue;
  if (!isOn(value)) {
    const current = `rds.logical_replication is ${value ?? '0 (the default)'} in ${where}`;
    const todo = parameterGroup.startsWith('default.')
      ? `a default group cannot be changed: create a ${useCluster ? 'DB cluster' : 'DB'} parameter group of the family ${parameterGroup.slice('default.'.length)} with rds.logical_replication = 1, attach it to ${useCluster ? `the cluster ${cluster!.DBClusterIdentifier}` : id} and reboot ${id}`
      : `set rds.logical_replication = 1 in ${parameterGroup} and reboot ${id} (the parameter is static)`;
    throw new LogicalReplicationOff(`${current}; ${todo}.`);
  }
  if (pendingReboot) {
    throw new RebootPending(
      `rds.logical_replication = 1 is set in ${where}, but the instance has not been rebooted since the group changed (pending-reboot), so it is not active yet; reboot ${id} and run the check again.`,
    );
  }
  if (applying)
    warnings.push(
      `Changes to ${parameterGroup} are still being applied to ${id}; run the check again once its parameter group status is in-sync.`,
    );

  const multiAz = instance.MultiAZ === true;
  if (multiAz && !useCluster && Number.isFinite(majorVersion) && majorVersion < SLOTS_SURVIVE_FAILOVER_FROM) {
    warnings.push(
      `${id} is Multi-AZ on PostgreSQL ${engineVersion}: before PostgreSQL ${SLOTS_SURVIVE_FAILOVER_FROM} a failover loses the logical replication slot, and replication must then be set up again (cleanup, then init); upgrade to ${SLOTS_SURVIVE_FAILOVER_FROM}+ or plan for it.`,
    );
  }
  if (instance.DBInstanceStatus && instance.DBInstanceStatus !== 'available') {
    warnings.push(
      `${id} is ${instance.DBInstanceStatus}, not available; replication can start only once it is available.`,
    );
  }
  return {
    instanceIdentifier: id,
    clusterIdentifier: clusterId ?? null,
    engine,
    engineVersion,
    majorVersion,
    parameterGroup,
    parameterGroupKind: useCluster ? 'db-cluster-parameter-group' : 'db-parameter-group',
    multiAz,
    warnings,
  };
}
