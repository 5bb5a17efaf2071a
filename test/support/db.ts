import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { clusterUrl, type ClusterInfo } from '../../scripts/support/cluster.ts';

const run = promisify(execFile);

/** Opens a client as the cluster's superuser; the caller ends it (or use `withClient`). */
export async function connectAs(
  cluster: ClusterInfo,
  database = 'postgres',
  user = cluster.user,
  password = cluster.password,
): Promise<pg.Client> {
  const client = new pg.Client({ host: cluster.host, port: cluster.port, user, password, database });
  // A server restart or pg_terminate_backend emits 'error' on idle clients; the next query reports it.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export async function withClient<T>(
  cluster: ClusterInfo,
  database: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = await connectAs(cluster, database);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** Creates an empty database with a unique name, so test files can share the clusters. */
export async function createTestDatabase(
  cluster: ClusterInfo,
  prefix = 'test',
): Promise<{ name: string; url: string }> {
  const name = uniqueName(prefix);
  await withClient(cluster, 'postgres', (c) => c.query(`CREATE DATABASE "${name}"`));
  return { name, url: clusterUrl(cluster, name) };
}

export async function dropTestDatabase(cluster: ClusterInfo, name: string): Promise<void> {
  await withClient(cluster, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/** Creates a login role with a password and the given attributes (e.g. 'REPLICATION'); returns its name. */
export async function createTestRole(cluster: ClusterInfo, password: string, attributes = ''): Promise<string> {
  const name = uniqueName('role');
  await withClient(cluster, 'postgres', (c) =>
    c.query(`CREATE ROLE "${name}" LOGIN PASSWORD '${password.replace(/'/g, "''")}' ${attributes}`),
  );
  return name;
}

/** Runs a psql script (ON_ERROR_STOP) against a database, the password passed through the environment. */
export async function runPsqlFile(cluster: ClusterInfo, database: string, file: string): Promise<void> {
  await run(
    join(cluster.bindir, 'psql'),
    [
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-h',
      cluster.host,
      '-p',
      String(cluster.port),
      '-U',
      cluster.user,
      '-d',
      database,
      '-f',
      file,
    ],
    {
      env: { ...process.env, PGPASSWORD: cluster.password },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
}

/**
 * The shared edge-case fixture (every type and object kind that breaks replication tools). It lives in
 * the shared folder beside the repository; DATABASE_REPLICATOR_EDGE_CASES_SQL points elsewhere.
 * Missing, it fails the test that needs it with this message rather than skipping it.
 */
export function edgeCasesSql(): string {
  const path =
    process.env.DATABASE_REPLICATOR_EDGE_CASES_SQL ??
    fileURLToPath(new URL('../../../shared/fixtures/edge-cases.sql', import.meta.url));
  if (!existsSync(path)) {
    throw new Error(
      `The edge-case fixture ${path} is missing; check out the shared folder beside the repository or set DATABASE_REPLICATOR_EDGE_CASES_SQL to the file.`,
    );
  }
  return path;
}

/**
 * pg_stat_subscription and pg_stat_subscription_stats list the subscriptions of every database of the
 * cluster, and other test files subscribe on the shared clusters at the same time: a condition that
 * keeps the rows to the subscriptions of the connected database.
 */
export const SUBSCRIPTIONS_OF_THIS_DATABASE =
  'subid IN (SELECT oid FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()))';

/** Runs `sql(i)` on the source database over and over until stopped; counts the statements that committed. */
export function startWriter(
  cluster: ClusterInfo,
  db: string,
  sql: (i: number) => string,
): { stop: () => Promise<number> } {
  let writing = true;
  let committed = 0;
  const done = (async () => {
    const client = await connectAs(cluster, db);
    try {
      for (let i = 1; writing; i++) {
        await client.query(sql(i));
        committed++;
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      await client.end();
    }
  })();
  return {
    stop: async () => {
      writing = false;
      await done;
      return committed;
    },
  };
}
