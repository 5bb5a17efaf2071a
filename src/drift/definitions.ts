import type pg from 'pg';

export interface ColumnDefinition {
  name: string;
  /** format_type with schema-qualified names (read under an empty search_path). */
  type: string;
  notNull: boolean;
  /** The default expression, or null (generation expressions are in `generated`). */
  default: string | null;
  /** 'a' (ALWAYS) or 'd' (BY DEFAULT) for identity columns, else ''. */
  identity: string;
  /** The expression of a stored generated column, or null. */
  generated: string | null;
}

export interface IndexDefinition {
  name: string;
  /** pg_get_indexdef: CREATE [UNIQUE] INDEX ... ON schema.table ... */
  definition: string;
}

export interface TableDefinition {
  schema: string;
  name: string;
  /** 'r' plain or 'p' partitioned. */
  kind: string;
  columns: ColumnDefinition[];
  primaryKey: { name: string; columns: string[] } | null;
  /** Indexes that no constraint owns (a primary key's or unique constraint's index comes with it). */
  indexes: IndexDefinition[];
  /** Primary key, unique, check and exclusion constraints as pg_get_constraintdef prints them (foreign keys left out). */
  constraints: { name: string; type: string; definition: string }[];
  /** Sequences owned by columns of the table (serial), with the column owning each. */
  ownedSequences: { schema: string; name: string; column: string }[];
}

export const tableKey = (t: { schema: string; name: string }) => `${t.schema}.${t.name}`;

/**
 * Runs `read` under an empty search path, then puts the session's back: format_type and pg_get_expr leave
 * out the schema of names the search path finds, so both sides would print the same definition differently.
 */
export async function withQualifiedNames<T>(client: pg.Client, read: () => Promise<T>): Promise<T> {
  const { rows } = await client.query<{ path: string }>("SELECT current_setting('search_path') AS path");
  await client.query("SELECT set_config('search_path', '', false)");
  try {
    return await read();
  } finally {
    await client.query("SELECT set_config('search_path', $1, false)", [rows[0]!.path]);
  }
}

/** The definitions of the tables named (those that exist), keyed "schema.table". */
export async function readTableDefinitions(
  client: pg.Client,
  tables: { schema: string; name: string }[],
): Promise<Map<string, TableDefinition>> {
  const out = new Map<string, TableDefinition>();
  if (!tables.length) return out;
  return withQualifiedNames(client, async () => {
    const params = [tables.map((t) => t.schema), tables.map((t) => t.name)];
    const wanted = `SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     JOIN unnest($1::text[], $2::text[]) w(s, t) ON w.s = n.nspname AND w.t = c.relname WHERE c.relkind IN ('r', 'p')`;
    const rels = await client.query<{ oid: number; nspname: string; relname: string; relkind: string }>(wanted, params);
    for (const r of rels.rows)
      out.set(tableKey({ schema: r.nspname, name: r.relname }), {
        schema: r.nspname,
        name: r.relname,
        kind: r.relkind,
        columns: [],
        primaryKey: null,
        indexes: [],
        constraints: [],
        ownedSequences: [],
      });
    const byOid = new Map(rels.rows.map((r) => [r.oid, out.get(tableKey({ schema: r.nspname, name: r.relname }))!]));
    const oids = rels.rows.map((r) => r.oid);
    const cols = await client.query<{
      rel: number;
      name: string;
      type: string;
      notnull: boolean;
      def: string | null;
      identity: string;
      generated: string;
    }>(
      `SELECT a.attrelid::int AS rel, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
              pg_get_expr(d.adbin, d.adrelid) AS def, a.attidentity::text AS identity, a.attgenerated::text AS generated
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum`,
      [oids],
    );
    for (const c of cols.rows) {
      const generated = c.generated === 's' ? c.def : null;
      byOid.get(c.rel)!.columns.push({
        name: c.name,
        type: c.type,
        notNull: c.notnull,
        default: generated === null ? c.def : null,
        identity: c.identity,
        generated,
      });
    }
    const cons = await client.query<{ rel: number; name: string; type: string; def: string; cols: string[] }>(
      `SELECT c.conrelid::int AS rel, c.conname AS name, c.contype::text AS type, pg_get_constraintdef(c.oid) AS def,
              ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i)::text[] AS cols
         FROM pg_constraint c WHERE c.conrelid = ANY($1::oid[]) AND c.contype IN ('p', 'u', 'c', 'x') ORDER BY c.conname`,
      [oids],
    );
    for (const c of cons.rows) {
      const table = byOid.get(c.rel)!;
      table.constraints.push({ name: c.name, type: c.type, definition: c.def });
      if (c.type === 'p') table.primaryKey = { name: c.name, columns: c.cols };
    }
    const idx = await client.query<{ rel: number; name: string; def: string }>(
      `SELECT i.indrelid::int AS rel, ic.relname AS name, pg_get_indexdef(i.indexrelid) AS def
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indrelid = ANY($1::oid[]) AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)
        ORDER BY ic.relname`,
      [oids],
    );
    for (const i of idx.rows) byOid.get(i.rel)!.indexes.push({ name: i.name, definition: i.def });
    const seqs = await client.query<{ rel: number; schema: string; name: string; col: string }>(
      `SELECT d.refobjid::int AS rel, sn.nspname AS schema, s.relname AS name, a.attname AS col
         FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
         JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' AND d.refobjid = ANY($1::oid[])`,
      [oids],
    );
    for (const s of seqs.rows) byOid.get(s.rel)!.ownedSequences.push({ schema: s.schema, name: s.name, column: s.col });
    return out;
  });
}

/** The tables a publication lists (partitioned roots as themselves when published via the root). */
export function readPublishedTables(source: pg.Client, publication: string): Promise<RelationRow[]> {
  return readRelations(
    source,
    'SELECT schemaname AS schema, tablename AS name FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2',
    publication,
  );
}

/**
 * Top-level permanent tables in the schemas the publication replicates that it does not list. Those
 * missing on the target were created on the source since init (init restores every table's definition,
 * excluded ones too), and logical replication silently leaves them out.
 */
export function readUnpublishedTables(source: pg.Client, publication: string): Promise<RelationRow[]> {
  return readRelations(
    source,
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p'
        AND n.nspname IN (SELECT DISTINCT schemaname FROM pg_publication_tables WHERE pubname = $1)
        AND NOT EXISTS (SELECT 1 FROM pg_publication_tables p WHERE p.pubname = $1 AND p.schemaname = n.nspname AND p.tablename = c.relname)
        AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)
        -- A partitioned table published through its leaves (no publish_via_partition_root) is replicated.
        AND NOT EXISTS (SELECT 1 FROM pg_publication_tables p JOIN pg_namespace pn ON pn.nspname = p.schemaname
                          JOIN pg_class pc ON pc.relnamespace = pn.oid AND pc.relname = p.tablename
                         WHERE p.pubname = $1 AND pc.relispartition AND pg_partition_root(pc.oid) = c.oid)
      ORDER BY 1, 2`,
    publication,
  );
}

type RelationRow = { schema: string; name: string };

/** The (schema, name) rows a query about one publication ($1) returns. */
async function readRelations(source: pg.Client, sql: string, publication: string): Promise<RelationRow[]> {
  const { rows } = await source.query<RelationRow>(sql, [publication]);
  return rows;
}

/** The subscription's publication names, read on the target (the one place both the CLI and the workflow can find them). */
export async function readSubscriptionPublications(target: pg.Client, subscription: string): Promise<string[] | null> {
  const { rows } = await target.query<{ pubs: string[] }>(
    'SELECT subpublications::text[] AS pubs FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())',
    [subscription],
  );
  return rows[0]?.pubs ?? null;
}
