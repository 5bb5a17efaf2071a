import type pg from 'pg';

export interface SchemaSnapshot {
  /** "schema.table" -> column name -> type */
  columns: Map<string, Map<string, string>>;
  indexes: Set<string>;
  constraints: Set<string>;
}

const USER = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;

/**
 * Reads under an empty search path, then puts the session's back: format_type and pg_get_constraintdef
 * leave out the schema of names the search path finds, so both sides would otherwise print the same
 * object differently whenever their search paths differ (a database-level setting, say).
 */
export async function readSchema(client: pg.Client): Promise<SchemaSnapshot> {
  const { rows } = await client.query<{ path: string }>("SELECT current_setting('search_path') AS path");
  await client.query("SELECT set_config('search_path', '', false)");
  try {
    return await readSchemaQualified(client);
  } finally {
    await client.query("SELECT set_config('search_path', $1, false)", [rows[0]!.path]);
  }
}

async function readSchemaQualified(client: pg.Client): Promise<SchemaSnapshot> {
  const cols = await client.query<{ t: string; c: string; type: string }>(`
    SELECT n.nspname || '.' || c.relname AS t, a.attname AS c, format_type(a.atttypid, a.atttypmod) AS type
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relkind IN ('r', 'p') AND ${USER}`);
  const columns = new Map<string, Map<string, string>>();
  for (const r of cols.rows) {
    if (!columns.has(r.t)) columns.set(r.t, new Map());
    columns.get(r.t)!.set(r.c, r.type);
  }
  const idx = await client.query<{ x: string }>(
    `SELECT schemaname || '.' || indexname || ': ' || regexp_replace(indexdef, ' ON (ONLY )?', ' ON ') AS x FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`,
  );
  const con = await client.query<{ x: string }>(`
    SELECT n.nspname || '.' || cl.relname || '.' || c.conname || ': ' || pg_get_constraintdef(c.oid) AS x
      FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE ${USER}`);
  return { columns, indexes: new Set(idx.rows.map((r) => r.x)), constraints: new Set(con.rows.map((r) => r.x)) };
}

/** Differences that matter for replication, in words: missing tables and columns, other types, missing indexes and constraints. */
export function compareSchemas(source: SchemaSnapshot, target: SchemaSnapshot, tables: Set<string>): string[] {
  const diffs: string[] = [];
  for (const table of tables) {
    const s = source.columns.get(table);
    const t = target.columns.get(table);
    if (!s) continue;
    if (!t) {
      diffs.push(`table ${table} is missing on the target`);
      continue;
    }
    for (const [column, type] of s) {
      if (!t.has(column)) diffs.push(`column ${table}.${column} is missing on the target`);
      else if (t.get(column) !== type)
        diffs.push(`column ${table}.${column} is ${type} on the source but ${t.get(column)} on the target`);
    }
    for (const column of t.keys())
      if (!s.has(column)) diffs.push(`column ${table}.${column} exists only on the target`);
  }
  for (const i of source.indexes)
    if (!target.indexes.has(i)) diffs.push(`index ${i.split(':')[0]} is missing or different on the target`);
  for (const c of source.constraints)
    if (!target.constraints.has(c)) diffs.push(`constraint ${c.split(':')[0]} is missing or different on the target`);
  return diffs;
}
