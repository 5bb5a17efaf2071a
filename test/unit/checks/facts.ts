import type { DatabaseFacts, TableFacts } from '../../../src/catalog/database.ts';
import type { ServerFacts } from '../../../src/catalog/server.ts';
import type { ValidationFacts } from '../../../src/checks/types.ts';

/** A healthy pair of PostgreSQL 15 servers; tests override what they exercise. */
export function server(overrides: Partial<ServerFacts> = {}, role: Partial<ServerFacts['role']> = {}): ServerFacts {
  return {
    version: '15.18',
    versionNum: 150018,
    major: 15,
    currentDatabase: 'shop',
    walLevel: 'logical',
    rdsLogicalReplication: null,
    isRds: false,
    maxReplicationSlots: 10,
    maxWalSenders: 10,
    replicationSlotsUsed: 0,
    walSendersUsed: 0,
    availableExtensions: new Set(['plpgsql', 'citext']),
    systemIdentifier: null,
    postmasterStartedAt: '2026-01-01T00:00:00.000001Z',
    currentDatabaseOid: 16384,
    ...overrides,
    role: {
      name: 'app',
      superuser: true,
      replication: false,
      createdb: false,
      createrole: false,
      memberOf: [],
      canCreateInCurrentDatabase: true,
      ...role,
    },
  };
}

export function table(overrides: Partial<TableFacts> = {}): TableFacts {
  return {
    schema: 'public',
    name: 'items',
    kind: 'table',
    isPartition: false,
    unlogged: false,
    replicaIdentity: 'default',
    hasPrimaryKey: true,
    identityIndexCandidate: null,
    selectable: true,
    owner: 'app',
    owned: true,
    generatedColumns: [],
    uncomparableColumns: [],
    estimatedRows: 0,
    ...overrides,
  };
}

export function database(overrides: Partial<DatabaseFacts> = {}): DatabaseFacts {
  return {
    name: 'shop',
    tables: [table()],
    sequences: [],
    materializedViews: [],
    extensions: [],
    largeObjects: 0,
    schemasWithoutUsage: [],
    foreignKeys: [],
    ...overrides,
  };
}

export function facts(overrides: Partial<ValidationFacts> = {}): ValidationFacts {
  return {
    source: server(),
    target: server({ systemIdentifier: null, postmasterStartedAt: '2026-01-02T00:00:00.000002Z' }),
    sourceEndpoint: { host: 'source.example.com', port: 5432, database: 'shop', user: 'app' },
    targetEndpoint: { host: 'target.example.com', port: 5432, database: 'shop', user: 'app' },
    databases: [database()],
    localPgDump: { major: 15, version: '15.18', path: '/usr/bin/pg_dump' },
    ...overrides,
  };
}
