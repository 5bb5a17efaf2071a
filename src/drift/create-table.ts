import { qualifiedName as qualified, quoteIdent } from '../catalog/ident.ts';
import type { ColumnDefinition, TableDefinition } from './definitions.ts';

export function columnSql(c: ColumnDefinition): string {
  const parts = [quoteIdent(c.name), c.type];
  if (c.generated !== null) parts.push(`GENERATED ALWAYS AS (${c.generated}) STORED`);
  else if (c.identity) parts.push(`GENERATED ${c.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`);
  else if (c.default !== null) parts.push(`DEFAULT ${c.default}`);
  if (c.notNull && !c.identity) parts.push('NOT NULL');
  return parts.join(' ');
}

/**
 * The statements that create a source table on the target as it is now: owned sequences first (a serial
 * column's default names one), the table with its constraints (foreign keys left out: they may name tables
 * not yet there, and the apply worker does not need them), then its indexes. Null for a partitioned table,
 * whose partitions it cannot describe: pg_dump --schema-only --table does that.
 */
export function createTableStatements(t: TableDefinition): string[] | null {
  if (t.kind !== 'r') return null;
  const table = qualified(t.schema, t.name);
  const sequences = t.ownedSequences.filter((s) => !t.columns.find((c) => c.name === s.column)?.identity);
  const seqSql = (s: { schema: string; name: string }) => qualified(s.schema, s.name);
  const elements = [
    ...t.columns.map(columnSql),
    ...t.constraints.map((c) => `CONSTRAINT ${quoteIdent(c.name)} ${c.definition}`),
  ];
  return [
    ...sequences.map((s) => `CREATE SEQUENCE IF NOT EXISTS ${seqSql(s)}`),
    `CREATE TABLE ${table} (${elements.join(', ')})`,
    ...sequences.map((s) => `ALTER SEQUENCE ${seqSql(s)} OWNED BY ${table}.${quoteIdent(s.column)}`),
    ...t.indexes.map((i) => i.definition),
  ];
}
