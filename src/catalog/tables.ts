import type pg from 'pg';
import { REPLICA_IDENTITY, RELATION_COLUMNS, USER_RELATIONS, type RelationRow } from './relations.ts';
import type { ReplicaIdentity, TableKind } from './database.ts';

export interface ColumnFacts {
  name: string;
  type: string;
  generated: boolean;
}

/** A table as planning and copying see it. */
export interface CatalogTable {
  oid: number;
  schema: string;
  name: string;
  kind: TableKind;
  /** Holds rows itself (a plain table or a leaf partition), so it is a unit of copy. */
  hasStorage: boolean;
  /** For a partition: its top-level partitioned ancestor, whose filters and publication it follows. */
  root: { schema: string; name: string } | null;
  unlogged: boolean;
  /** Heap bytes of the table itself (0 for a partitioned parent). */
  bytes: number;
  estimatedRows: number;
  columns: ColumnFacts[];
  primaryKey: string[];
  replicaIdentity: ReplicaIdentity;
}

export async function readCatalogTables(client: pg.Client): Promise<CatalogTable[]> {
  const { rows } = await client.query<
    RelationRow & {
      oid: number;
      bytes: string;
      reltuples: string;
      root_schema: string | null;
      root_name: string | null;
      columns: ColumnFacts[];
      pk: string[] | null;
    }
  >(`
    WITH RECURSIVE ancestry AS (
      SELECT i.inhrelid AS leaf, i.inhparent AS ancestor FROM pg_inherits i
      UNION ALL
      SELECT a.leaf, i.inhparent FROM ancestry a JOIN pg_inherits i ON i.inhrelid = a.ancestor
    ), roots AS (
      SELECT a.leaf, a.ancestor AS root FROM ancestry a JOIN pg_class p ON p.oid = a.ancestor
       WHERE NOT p.relispartition AND p.relkind = 'p'
    )
    SELECT c.oid::int AS oid, ${RELATION_COLUMNS},
           pg_relation_size(c.oid)::text AS bytes, GREATEST(c.reltuples, 0)::bigint::text AS reltuples,
           rn.nspname AS root_schema, rc.relname AS root_name,
           COALESCE((SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'generated', a.attgenerated <> '') ORDER BY a.attnum)
                       FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]') AS columns,
           (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i
              CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
             WHERE i.indrelid = c.oid AND i.indisprimary) AS pk
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN roots r ON r.leaf = c.oid
      LEFT JOIN pg_class rc ON rc.oid = r.root
      LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
     WHERE c.relkind IN ('r', 'p') AND ${USER_RELATIONS}
     ORDER BY 2, 3`);
  return rows.map((r) => ({
    oid: r.oid,
    schema: r.schema,
    name: r.name,
    kind: r.relkind === 'p' && !r.relispartition ? 'partitioned' : r.relispartition ? 'partition' : 'table',
    hasStorage: r.relkind === 'r',
    root: r.root_schema && r.root_name ? { schema: r.root_schema, name: r.root_name } : null,
    unlogged: r.relpersistence === 'u',
    bytes: Number(r.bytes),
    estimatedRows: Number(r.reltuples),
    columns: r.columns,
    primaryKey: r.pk ?? [],
    replicaIdentity: REPLICA_IDENTITY[r.relreplident] ?? 'default',
  }));
}
