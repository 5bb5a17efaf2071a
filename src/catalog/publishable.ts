// Whether tables can be published as planned, asked of PostgreSQL itself inside a transaction that
// is rolled back: the row-filter rule depends on replica identities, which the catalog alone does not settle.
import type pg from 'pg';
import { qualifiedName, quoteIdent } from './ident.ts';

export interface PublishedTable {
  schema: string;
  name: string;
  rowFilter: string | null;
}

/** The FOR TABLE list of CREATE / ALTER PUBLICATION, with each table's row filter. */
export function publicationTableList(tables: PublishedTable[]): string {
  return tables
    .map((t) => `${qualifiedName(t.schema, t.name)}${t.rowFilter ? ` WHERE (${t.rowFilter})` : ''}`)
    .join(', ');
}

/**
 * Once a table with a row filter is published, UPDATE and DELETE on it fail unless the replica
 * identity covers the filter's columns. PostgreSQL checks this when a statement starts, so an
 * UPDATE that touches no row inside a rolled-back transaction tells us before the source app finds out.
 */
export async function checkPublishable(
  client: pg.Client,
  tables: PublishedTable[],
  anyColumn: (t: PublishedTable) => string,
): Promise<{ table: PublishedTable; problem: string }[]> {
  const problems: { table: PublishedTable; problem: string }[] = [];
  const probe = `dbr_probe_${process.pid}`;
  for (const table of tables) {
    await client.query('BEGIN');
    try {
      await client.query(`CREATE PUBLICATION ${quoteIdent(probe)} FOR TABLE ${publicationTableList([table])}`);
      const col = quoteIdent(anyColumn(table));
      await client.query(`UPDATE ${qualifiedName(table.schema, table.name)} SET ${col} = ${col} WHERE false`);
      await client.query(`DELETE FROM ${qualifiedName(table.schema, table.name)} WHERE false`);
    } catch (error) {
      problems.push({ table, problem: (error as Error).message });
    } finally {
      await client.query('ROLLBACK');
    }
  }
  return problems;
}
