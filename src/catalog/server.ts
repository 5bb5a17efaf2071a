import type pg from 'pg';
import { readDatabaseIdentity } from './identity.ts';

/** What validate needs to know about one server and the role we are connected as. */
export interface ServerFacts {
  version: string;
  versionNum: number;
  major: number;
  currentDatabase: string;
  walLevel: string;
  /** `rds.logical_replication` where the parameter exists (RDS and Aurora), otherwise null. */
  rdsLogicalReplication: string | null;
  isRds: boolean;
  maxReplicationSlots: number;
  maxWalSenders: number;
  replicationSlotsUsed: number;
  walSendersUsed: number;
  role: RoleFacts;
  /** Extensions the server could install, by name. */
  availableExtensions: Set<string>;
  /** pg_control's system identifier when this role may read it; with the start time, tells two names for one server apart. */
  systemIdentifier: string | null;
  /** The postmaster's start, to the microsecond (see catalog/identity.ts). */
  postmasterStartedAt: string;
  currentDatabaseOid: number;
}

export interface RoleFacts {
  name: string;
  superuser: boolean;
  replication: boolean;
  createdb: boolean;
  createrole: boolean;
  /** Roles this role is a member of, directly or indirectly (e.g. rds_replication, rds_superuser). */
  memberOf: string[];
  canCreateInCurrentDatabase: boolean;
}

export function majorOf(versionNum: number): number {
  return Math.floor(versionNum / 10000);
}

export function formatVersion(versionNum: number): string {
  if (versionNum >= 100000) return `${majorOf(versionNum)}.${versionNum % 10000}`;
  return `${Math.floor(versionNum / 10000)}.${Math.floor(versionNum / 100) % 100}.${versionNum % 100}`;
}

export async function readServerFacts(client: pg.Client): Promise<ServerFacts> {
  const { rows } = await client.query<{
    version_num: string;
    db: string;
    wal_level: string;
    rds_logical: string | null;
    max_slots: string;
    max_senders: string;
    slots_used: string;
    senders_used: string;
    has_rdsadmin: boolean;
  }>(`SELECT current_setting('server_version_num') AS version_num,
             current_database() AS db,
             current_setting('wal_level') AS wal_level,
             current_setting('rds.logical_replication', true) AS rds_logical,
             current_setting('max_replication_slots') AS max_slots,
             current_setting('max_wal_senders') AS max_senders,
             (SELECT count(*) FROM pg_replication_slots) AS slots_used,
             (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender') AS senders_used,
             EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rdsadmin') AS has_rdsadmin`);
  const r = rows[0]!;
  const versionNum = Number(r.version_num);

  const role = await client.query<{
    name: string;
    rolsuper: boolean;
    rolreplication: boolean;
    rolcreatedb: boolean;
    rolcreaterole: boolean;
    member_of: string[];
    can_create: boolean;
  }>(`SELECT r.rolname AS name, r.rolsuper, r.rolreplication, r.rolcreatedb, r.rolcreaterole,
             ARRAY(SELECT g.rolname FROM pg_roles g WHERE g.oid <> r.oid AND pg_has_role(r.oid, g.oid, 'MEMBER') ORDER BY 1) AS member_of,
             has_database_privilege(current_database(), 'CREATE') AS can_create
        FROM pg_roles r WHERE r.rolname = current_user`);
  const rr = role.rows[0]!;

  const extensions = await client.query<{ name: string }>('SELECT name FROM pg_available_extensions');

  const identity = await readDatabaseIdentity(client);

  return {
    // server_version carries distribution suffixes ("15.18 (Debian 15.18-0+deb12u1)"); the number does not.
    version: formatVersion(versionNum),
    versionNum,
    major: majorOf(versionNum),
    currentDatabase: r.db,
    walLevel: r.wal_level,
    rdsLogicalReplication: r.rds_logical,
    isRds: r.rds_logical !== null || r.has_rdsadmin,
    maxReplicationSlots: Number(r.max_slots),
    maxWalSenders: Number(r.max_senders),
    replicationSlotsUsed: Number(r.slots_used),
    walSendersUsed: Number(r.senders_used),
    role: {
      name: rr.name,
      superuser: rr.rolsuper,
      replication: rr.rolreplication,
      createdb: rr.rolcreatedb,
      createrole: rr.rolcreaterole,
      memberOf: rr.member_of,
      canCreateInCurrentDatabase: rr.can_create,
    },
    availableExtensions: new Set(extensions.rows.map((e) => e.name)),
    systemIdentifier: identity.systemIdentifier,
    postmasterStartedAt: identity.postmasterStartedAt,
    currentDatabaseOid: identity.databaseOid,
  };
}

/**
 * The databases a replication covers when the URL does not pick one: every database that accepts
 * connections except templates, `postgres` and RDS's own `rdsadmin`.
 */
export async function listUserDatabases(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ datname: string }>(
    `SELECT datname FROM pg_database
      WHERE datallowconn AND NOT datistemplate AND datname NOT IN ('postgres', 'rdsadmin')
      ORDER BY datname`,
  );
  return rows.map((r) => r.datname);
}
