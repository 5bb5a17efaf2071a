import { OWN_SCHEMA_REGEX } from '../jobs/naming.ts';
import type { ReplicaIdentity } from './database.ts';

/**
 * SQL condition on `pg_class c JOIN pg_namespace n`: the user's own relations. System schemas and
 * objects that belong to extensions are left out: CREATE EXTENSION recreates those on the target.
 * So is the schema of init --track-ddl (jobs/naming.ts): its log is published, but it is not the
 * user's data to plan, copy, verify or bring sequences of across.
 */
export const USER_RELATIONS = `
  n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  AND n.nspname !~ '${OWN_SCHEMA_REGEX}'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`;

/** pg_class.relreplident in words. */
export const REPLICA_IDENTITY: Record<string, ReplicaIdentity> = { d: 'default', f: 'full', i: 'index', n: 'nothing' };

/** The `pg_class c JOIN pg_namespace n` columns both readers of the user's tables select, and their row type. */
export const RELATION_COLUMNS =
  'n.nspname AS schema, c.relname AS name, c.relkind, c.relispartition, c.relpersistence, c.relreplident';
export interface RelationRow {
  schema: string;
  name: string;
  relkind: string;
  relispartition: boolean;
  relpersistence: string;
  relreplident: string;
}
