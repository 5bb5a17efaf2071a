import type pg from 'pg';

/**
 * Who a connection really reached, read from the server rather than from the URL: `localhost` and
 * `127.0.0.1`, a DNS alias, a pooler or another user of the same database all read the same values.
 */
export interface DatabaseIdentity {
  /** pg_control's system identifier, or null where this role may not read it. */
  systemIdentifier: string | null;
  /**
   * When the running postmaster started, to the microsecond. A copy of a cluster (a restored RDS
   * snapshot, a clone, a physical replica) keeps the system identifier; it never has the same start.
   */
  postmasterStartedAt: string;
  databaseOid: number;
  databaseName: string;
}

export async function readDatabaseIdentity(client: pg.Client): Promise<DatabaseIdentity> {
  const { rows } = await client.query<{ started: string; oid: number; name: string }>(
    `SELECT to_char(pg_postmaster_start_time() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS started,
            d.oid::int AS oid, d.datname AS name
       FROM pg_database d WHERE d.datname = current_database()`,
  );
  let systemIdentifier: string | null = null;
  try {
    const sys = await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    systemIdentifier = sys.rows[0]?.id ?? null;
  } catch {
    // Not granted to every role on every server; the postmaster's start time still tells servers apart.
  }
  const r = rows[0]!;
  return { systemIdentifier, postmasterStartedAt: r.started, databaseOid: r.oid, databaseName: r.name };
}

/** One running server: the same system identifier (where both could read it) and the same postmaster start. */
export function sameServer(
  a: Pick<DatabaseIdentity, 'systemIdentifier' | 'postmasterStartedAt'>,
  b: Pick<DatabaseIdentity, 'systemIdentifier' | 'postmasterStartedAt'>,
): boolean {
  if (a.systemIdentifier !== null && b.systemIdentifier !== null && a.systemIdentifier !== b.systemIdentifier)
    return false;
  return a.postmasterStartedAt === b.postmasterStartedAt;
}

export function sameDatabase(a: DatabaseIdentity, b: DatabaseIdentity): boolean {
  return sameServer(a, b) && a.databaseOid === b.databaseOid && a.databaseName === b.databaseName;
}

function describeServer(id: Pick<DatabaseIdentity, 'systemIdentifier' | 'postmasterStartedAt'>): string {
  return id.systemIdentifier ? `server ${id.systemIdentifier}` : `the server started at ${id.postmasterStartedAt}`;
}

/** The target of a writing command is the source itself: nothing may be written. */
export class SameDatabaseError extends Error {
  override name = 'SameDatabaseError';
}

/**
 * Refuses before any write when `target` is the database `source` reads from. `action` says what
 * would have been done ("init", "drop target database shop"), so the sentence names it.
 */
export async function assertNotSameDatabase(source: pg.Client, target: pg.Client, action: string): Promise<void> {
  const [s, t] = await Promise.all([readDatabaseIdentity(source), readDatabaseIdentity(target)]);
  if (sameDatabase(s, t))
    throw sameDatabaseError(`database ${s.databaseName} (OID ${s.databaseOid}) on ${describeServer(s)}`, action);
}

function sameDatabaseError(what: string, action: string): SameDatabaseError {
  return new SameDatabaseError(
    `The target is the source itself (${what}), so ${action} was refused and nothing was changed; point --target at another database or server.`,
  );
}

/**
 * For a job of several databases: `source` and `target` are sessions on each server (in any
 * database); on one server, a source database copied to the database of the same name is itself.
 */
export function refuseSameDatabases(
  source: DatabaseIdentity,
  target: DatabaseIdentity,
  pairs: { source: string; target: string }[],
  action: string,
): void {
  if (!sameServer(source, target)) return;
  const same = pairs.find((p) => p.source === p.target);
  if (same) throw sameDatabaseError(`database ${same.source} on ${describeServer(source)}`, action);
}
