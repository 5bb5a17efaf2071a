import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../catalog/ident.ts';

export interface PublishedTable {
  schema: string;
  name: string;
  rowFilter: string | null;
}

export function tableList(tables: PublishedTable[]): string {
  return tables.map((t) => `${qualifiedName(t.schema, t.name)}${t.rowFilter ? ` WHERE (${t.rowFilter})` : ''}`).join(', ');
}

export async function publicationExists(client: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [name]);
  return (rowCount ?? 0) > 0;
}

/**
 * Creates the publication for exactly the planned tables. It must exist before the slot: decoding
 * reads publication membership as of each change, so a slot made first would miss changes.
 */
export async function createPublication(client: pg.Client, name: string, tables: PublishedTable[], major: number): Promise<void> {
  const viaRoot = major >= 13 ? ' WITH (publish_via_partition_root = true)' : '';
  const what = tables.length ? ` FOR TABLE ${tableList(tables)}` : '';
  await client.query(`CREATE PUBLICATION ${quoteIdent(name)}${what}${viaRoot}`);
}

export async function addTablesToPublication(client: pg.Client, name: string, tables: PublishedTable[]): Promise<void> {
  if (tables.length) await client.query(`ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${tableList(tables)}`);
}

export async function dropTablesFromPublication(client: pg.Client, name: string, tables: { schema: string; name: string }[]): Promise<void> {
  if (tables.length) await client.query(`ALTER PUBLICATION ${quoteIdent(name)} DROP TABLE ${tables.map((t) => qualifiedName(t.schema, t.name)).join(', ')}`);
}

export async function dropPublication(client: pg.Client, name: string): Promise<void> {
  await client.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(name)}`);
}

/**
 * Once a table with a row filter is published, UPDATE and DELETE on it fail unless the replica
 * identity covers the filter's columns. PostgreSQL checks this when a statement starts, so an
 * UPDATE that touches no row inside a rolled-back transaction tells us before the source app finds out.
 */
export async function checkPublishable(client: pg.Client, tables: PublishedTable[], anyColumn: (t: PublishedTable) => string): Promise<{ table: PublishedTable; problem: string }[]> {
  const problems: { table: PublishedTable; problem: string }[] = [];
  const probe = `dbr_probe_${process.pid}`;
  for (const table of tables) {
    await client.query('BEGIN');
    try {
      await client.query(`CREATE PUBLICATION ${quoteIdent(probe)} FOR TABLE ${tableList([table])}`);
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

