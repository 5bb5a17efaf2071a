import type pg from 'pg';

export interface SchemaSnapshot {
  /** "schema.table" -> column name -> type */
  columns: Map<string, Map<string, string>>;
  indexes: Set<string>;
  constraints: Set<string>;
}

const USER = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;

export async function readSchema(client: pg.Client): Promise<SchemaSnapshot> {
  const cols = await client.query<{ t: string; c: string; type: string }>(`
    SELECT n.nspname || '.' || c.relname AS t, a.attname AS c, format_type(a.atttypid, a.atttypmod) AS type
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relkind IN ('r', 'p') AND ${USER}`);
  const columns = new Map<string, Map<string, string>>();
  for (const r of cols.rows) {
    if (!columns.has(r.t)) columns.set(r.t, new Map());
    columns.get(r.t)!.set(r.c, r.type);
  }
  const idx = await client.query<{ x: string }>(`SELECT schemaname || '.' || indexname || ': ' || regexp_replace(indexdef, ' ON (ONLY )?', ' ON ') AS x FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`);
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
      else if (t.get(column) !== type) diffs.push(`column ${table}.${column} is ${type} on the source but ${t.get(column)} on the target`);
    }
    for (const column of t.keys()) if (!s.has(column)) diffs.push(`column ${table}.${column} exists only on the target`);
  }
  for (const i of source.indexes) if (!target.indexes.has(i)) diffs.push(`index ${i.split(':')[0]} is missing or different on the target`);
  for (const c of source.constraints) if (!target.constraints.has(c)) diffs.push(`constraint ${c.split(':')[0]} is missing or different on the target`);
  return diffs;
}
