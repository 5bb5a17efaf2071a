import type pg from 'pg';
import { REPLICA_IDENTITY, RELATION_COLUMNS, USER_RELATIONS, type RelationRow } from './relations.ts';

export type TableKind = 'table' | 'partitioned' | 'partition';
export type ReplicaIdentity = 'default' | 'full' | 'index' | 'nothing';

export interface TableFacts {
  schema: string;
  name: string;
  kind: TableKind;
  /** A partition (leaf or sub-partitioned): false for the top-level root a publication lists. */
  isPartition: boolean;
  unlogged: boolean;
  replicaIdentity: ReplicaIdentity;
  hasPrimaryKey: boolean;
  /** A unique index over NOT NULL columns that could serve as REPLICA IDENTITY USING INDEX. */
  identityIndexCandidate: string | null;
  selectable: boolean;
  /** The table's owner, and whether the connected role has its rights (CREATE PUBLICATION ... FOR TABLE needs them). */
  owner: string;
  owned: boolean;
  generatedColumns: string[];
  /**
   * Columns the apply worker cannot compare (no equality operator: json, xml, geometric types). With
   * REPLICA IDENTITY FULL it compares whole rows to find the one an UPDATE or DELETE changes.
   */
  uncomparableColumns: string[];
  estimatedRows: number;
  /** False for a table the plan copies without replicating (schema-only): its replica identity does not matter. */
  published?: boolean;
}

export interface RelationName {
  schema: string;
  name: string;
}

export interface ForeignKeyFacts {
  name: string;
  table: RelationName;
  references: RelationName;
  /**
   * Set from the plan: the referencing table copies data and the referenced one does not (excluded or
   * schema-only), so adding the constraint on the target would fail after the whole copy.
   */
  referencesTableWithoutData: boolean;
}

export interface SequenceFacts extends RelationName {
  selectable: boolean;
}

/** Everything validate reads from inside one source database. */
export interface DatabaseFacts {
  name: string;
  tables: TableFacts[];
  sequences: SequenceFacts[];
  materializedViews: RelationName[];
  extensions: { name: string; version: string }[];
  largeObjects: number;
  /** Schemas holding replicated relations on which the role lacks USAGE. */
  schemasWithoutUsage: string[];
  foreignKeys: ForeignKeyFacts[];
}

export async function readDatabaseFacts(client: pg.Client, name: string): Promise<DatabaseFacts> {
  const tables = await client.query<
    RelationRow & {
      has_pk: boolean;
      candidate: string | null;
      selectable: boolean;
      owner: string;
      owned: boolean;
      generated: string[];
      uncomparable: string[];
      reltuples: string;
    }
  >(`
    SELECT ${RELATION_COLUMNS},
           EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
           (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
             WHERE i.indrelid = c.oid AND i.indisunique AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL
               AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey) AND NOT a.attnotnull)
             ORDER BY ic.relname LIMIT 1) AS candidate,
           has_table_privilege(c.oid, 'SELECT') AS selectable,
           pg_get_userbyid(c.relowner) AS owner, pg_has_role(c.relowner, 'USAGE') AS owned,
           ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attgenerated <> '' AND NOT a.attisdropped ORDER BY a.attnum) AS generated,
           ARRAY(SELECT a.attname::text FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                  LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                   AND COALESCE(e.typname, CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, NULL) ELSE t.typname END)
                       IN ('json', 'xml', 'point', 'line', 'lseg', 'box', 'path', 'polygon', 'circle')
                 ORDER BY a.attnum) AS uncomparable,
           c.reltuples::bigint::text AS reltuples
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND ${USER_RELATIONS}
     ORDER BY 1, 2`);

  const sequences = await client.query<{ schema: string; name: string; selectable: boolean }>(`
    SELECT n.nspname AS schema, c.relname AS name, has_sequence_privilege(c.oid, 'SELECT') AS selectable
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'S' AND ${USER_RELATIONS}
     ORDER BY 1, 2`);

  const matviews = await client.query<RelationName>(`
    SELECT n.nspname AS schema, c.relname AS name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'm' AND ${USER_RELATIONS}
     ORDER BY 1, 2`);

  const extensions = await client.query<{ name: string; version: string }>(
    `SELECT extname AS name, extversion AS version FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1`,
  );
  const largeObjects = await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_largeobject_metadata');
  const schemas = await client.query<{ schema: string }>(`
    SELECT DISTINCT n.nspname AS schema
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'S') AND ${USER_RELATIONS} AND NOT has_schema_privilege(n.oid, 'USAGE')
     ORDER BY 1`);

  // Partitions carry clones of their root's foreign keys (conparentid set): the root's one is enough.
  const foreignKeys = await client.query<{
    name: string;
    schema: string;
    table: string;
    ref_schema: string;
    ref_table: string;
  }>(`
    SELECT k.conname AS name, n.nspname AS schema, c.relname AS table, rn.nspname AS ref_schema, r.relname AS ref_table
      FROM pg_constraint k
      JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
     WHERE k.contype = 'f' AND k.conparentid = 0 AND ${USER_RELATIONS}
     ORDER BY 2, 3, 1`);

  return {
    name,
    tables: tables.rows.map((t) => ({
      schema: t.schema,
      name: t.name,
      kind: t.relkind === 'p' ? 'partitioned' : t.relispartition ? 'partition' : 'table',
      isPartition: t.relispartition,
      unlogged: t.relpersistence === 'u',
      replicaIdentity: REPLICA_IDENTITY[t.relreplident] ?? 'default',
      hasPrimaryKey: t.has_pk,
      identityIndexCandidate: t.candidate,
      selectable: t.selectable,
      owner: t.owner,
      owned: t.owned,
      generatedColumns: t.generated,
      uncomparableColumns: t.uncomparable,
      estimatedRows: Math.max(0, Number(t.reltuples)),
    })),
    sequences: sequences.rows,
    materializedViews: matviews.rows,
    extensions: extensions.rows,
    largeObjects: Number(largeObjects.rows[0]!.n),
    schemasWithoutUsage: schemas.rows.map((s) => s.schema),
    foreignKeys: foreignKeys.rows.map((k) => ({
      name: k.name,
      table: { schema: k.schema, name: k.table },
      references: { schema: k.ref_schema, name: k.ref_table },
      referencesTableWithoutData: false,
    })),
  };
}
