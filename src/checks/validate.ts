import type pg from 'pg';
import { readDatabaseFacts, type DatabaseFacts } from '../catalog/database.ts';
import { listUserDatabases, readServerFacts, type ServerFacts } from '../catalog/server.ts';
import { openClient, type OpenClientOptions } from '../connection/client.ts';
import { ConnectionError } from '../connection/errors.ts';
import { describeEndpoint, withDatabase, type ConnectionSpec } from '../connection/url.ts';
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import { findPostgresBinDir } from '../pgtools/binaries.ts';
import type { FilterOptions } from '../plan/plan.ts';
import { planJob } from '../plan/job-plan.ts';
import {
  checkFullIdentityComparable,
  checkGeneratedColumns,
  checkLargeObjects,
  checkMaterializedViews,
  checkPartitionedTables,
  checkSequences,
  checkUnloggedTables,
} from './caveats.ts';
import { checkReplicationCapacity, checkReplicationPrivilege, checkSourceWalLevel } from './replication.ts';
import { checkDistinctDatabases, checkLocalPgDump, checkServerVersions } from './servers.ts';
import {
  checkExcludedReferencedTables,
  checkExtensionsAvailable,
  checkReplicaIdentity,
  checkSelectPrivileges,
  checkTableOwnership,
} from './tables.ts';
import { checkTargetPrivileges } from './target.ts';
import { checkDdlCapturePrivilege } from './ddl-capture.ts';
import { fail, pass, type Check, type CheckResult, type ValidationFacts } from './types.ts';

/** Every check validate runs, in the order the report lists them. */
export const VALIDATION_CHECKS: readonly Check[] = [
  checkDistinctDatabases,
  checkServerVersions,
  checkLocalPgDump,
  checkSourceWalLevel,
  checkReplicationPrivilege,
  checkReplicationCapacity,
  checkSelectPrivileges,
  checkTableOwnership,
  checkReplicaIdentity,
  checkFullIdentityComparable,
  checkExcludedReferencedTables,
  checkExtensionsAvailable,
  checkTargetPrivileges,
  checkLargeObjects,
  checkUnloggedTables,
  checkSequences,
  checkPartitionedTables,
  checkGeneratedColumns,
  checkMaterializedViews,
];

export interface ValidationRequest {
  source: ConnectionSpec;
  target: ConnectionSpec;
  allowSelfSignedCerts: boolean;
  /** The replication plan's filters, when given: validate checks what init would replicate. */
  filters?: FilterOptions;
  /** init --track-ddl: the source user must be able to create an event trigger. */
  trackDdl?: boolean;
}

export interface ValidationReport {
  ok: boolean;
  checks: CheckResult[];
}

export interface ValidationDependencies {
  openClient: (spec: ConnectionSpec, options: OpenClientOptions) => Promise<pg.Client>;
  findPgDump: () => { major: number; version: string; path: string } | { error: string };
  logger: Logger;
}

export function findLocalPgDump(): { major: number; version: string; path: string } | { error: string } {
  try {
    const bin = findPostgresBinDir(['pg_dump']);
    return { major: bin.major, version: bin.version, path: `${bin.dir}/pg_dump` };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

const defaults: ValidationDependencies = { openClient, findPgDump: findLocalPgDump, logger: silentLogger };

interface Reached {
  client: pg.Client;
  facts: ServerFacts;
  result: CheckResult;
}

/**
 * Connects to one side. A target database that does not exist yet is fine (init creates it): the
 * checks then run against the server's `postgres` database.
 */
async function reach(
  role: 'source' | 'target',
  spec: ConnectionSpec,
  request: ValidationRequest,
  deps: ValidationDependencies,
): Promise<Reached | CheckResult> {
  const title = role === 'source' ? 'Source reachable' : 'Target reachable';
  const options = { role, allowSelfSignedCerts: request.allowSelfSignedCerts };
  try {
    let client: pg.Client;
    let note = '';
    try {
      client = await deps.openClient(spec, options);
    } catch (error) {
      if (!(
        role === 'target' &&
        error instanceof ConnectionError &&
        error.reason === 'database-missing' &&
        spec.database !== 'postgres'
      ))
        throw error;
      client = await deps.openClient(withDatabase(spec, 'postgres'), options);
      note = `; database ${spec.database} does not exist yet and init will create it`;
    }
    const facts = await readServerFacts(client).catch(async (error: unknown) => {
      await client.end().catch(() => undefined);
      throw error;
    });
    return {
      client,
      facts,
      result: pass(`${role}-reachable`, title, `PostgreSQL ${facts.version} at ${describeEndpoint(spec)}${note}`),
    };
  } catch (error) {
    if (error instanceof ConnectionError) return fail(`${role}-reachable`, title, error.message, error.remedy);
    throw error;
  }
}

/**
 * Reads every planned source database. With filters, the plan decides which databases and which of
 * their tables the checks look at (the same plan init, sync and verify use); excluded tables are
 * left out, and only tables that copy data are checked for a replica identity.
 */
async function readSourceDatabases(
  source: Reached,
  request: ValidationRequest,
  deps: ValidationDependencies,
): Promise<DatabaseFacts[] | CheckResult> {
  const spec = request.source;
  const open = (name: string) =>
    deps.openClient(withDatabase(spec, name), { role: 'source', allowSelfSignedCerts: request.allowSelfSignedCerts });
  const plans = request.filters
    ? (
        await planJob(
          source.client,
          open,
          { source: spec, target: request.target },
          request.filters,
          source.facts.major,
          undefined,
        )
      ).databases
    : undefined;
  const names = plans
    ? plans.map((p) => p.source)
    : spec.databaseGiven && spec.database !== 'postgres'
      ? [spec.database]
      : await listUserDatabases(source.client);
  const facts: DatabaseFacts[] = [];
  for (const name of names) {
    deps.logger.debug(`reading the catalog of source database ${name}`);
    let client = source.client;
    if (name !== source.facts.currentDatabase) {
      try {
        client = await open(name);
      } catch (error) {
        if (error instanceof ConnectionError)
          return fail('source-databases', 'Databases to replicate', error.message, error.remedy);
        throw error;
      }
    }
    try {
      const read = await readDatabaseFacts(client, name);
      const plan = plans?.find((p) => p.source === name);
      if (plan) {
        const mode = new Map(plan.tables.map((t) => [`${t.schema}.${t.name}`, t.mode]));
        const published = new Set(plan.publication.map((t) => `${t.schema}.${t.name}`));
        // A partitioned root copies data through its leaves and is listed in the publication.
        const copiesData = (t: { schema: string; name: string }) =>
          mode.get(`${t.schema}.${t.name}`) === 'data' || published.has(`${t.schema}.${t.name}`);
        read.foreignKeys = read.foreignKeys.map((k) => ({
          ...k,
          referencesTableWithoutData: copiesData(k.table) && !copiesData(k.references),
        }));
        read.tables = read.tables
          .filter(
            (t) =>
              (mode.get(`${t.schema}.${t.name}`) ?? (published.has(`${t.schema}.${t.name}`) ? 'data' : 'excluded')) !==
              'excluded',
          )
          .map((t) => ({ ...t, published: mode.get(`${t.schema}.${t.name}`) !== 'schema-only' }));
      }
      facts.push(read);
    } finally {
      if (client !== source.client) await client.end().catch(() => undefined);
    }
  }
  return facts;
}

/** Runs every check and returns the report; `ok` is false when any check failed (warnings pass). */
export async function runValidation(
  request: ValidationRequest,
  dependencies: Partial<ValidationDependencies> = {},
): Promise<ValidationReport> {
  const deps = { ...defaults, ...dependencies };
  // Both sides settle before anything is thrown, so a side that connected is ended whatever the other did.
  const reached = await Promise.allSettled([
    reach('source', request.source, request, deps),
    reach('target', request.target, request, deps),
  ]);
  const clients = reached.flatMap((r) => (r.status === 'fulfilled' && 'client' in r.value ? [r.value.client] : []));
  try {
    const [source, target] = reached.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    }) as [Reached | CheckResult, Reached | CheckResult];
    const reachability = [source, target].map((r) => ('client' in r ? r.result : r));
    if (!('client' in source) || !('client' in target)) return report(reachability);

    const databases = await readSourceDatabases(source, request, deps);
    if (!Array.isArray(databases)) return report([...reachability, databases]);
    const identity = (spec: ConnectionSpec, facts: ServerFacts) => ({
      host: spec.host,
      port: spec.port,
      database: facts.currentDatabase,
      user: spec.user,
    });
    const facts: ValidationFacts = {
      source: source.facts,
      target: target.facts,
      sourceEndpoint: identity(request.source, source.facts),
      targetEndpoint: { ...identity(request.target, target.facts), database: request.target.database },
      databases,
      localPgDump: deps.findPgDump(),
    };
    const databaseList: CheckResult = databases.length
      ? pass('source-databases', 'Databases to replicate', databases.map((d) => d.name).join(', '))
      : fail(
          'source-databases',
          'Databases to replicate',
          'The source has no user database to replicate.',
          'Name the database in the source URL, e.g. postgres://user@host:5432/mydb.',
        );
    return report([
      ...reachability,
      databaseList,
      ...VALIDATION_CHECKS.map((check) => check(facts)),
      ...(request.trackDdl ? [checkDdlCapturePrivilege(facts)] : []),
    ]);
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

function report(checks: CheckResult[]): ValidationReport {
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}
