import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../catalog/ident.ts';
import { publicationTableList, type PublishedTable } from '../catalog/publishable.ts';

export async function publicationExists(client: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [name]);
  return (rowCount ?? 0) > 0;
}

/**
 * Creates the publication for exactly the planned tables. It must exist before the slot: decoding
 * reads publication membership as of each change, so a slot made first would miss changes.
 */
export async function createPublication(
  client: pg.Client,
  name: string,
  tables: PublishedTable[],
  major: number,
): Promise<void> {
  const viaRoot = major >= 13 ? ' WITH (publish_via_partition_root = true)' : '';
  const what = tables.length ? ` FOR TABLE ${publicationTableList(tables)}` : '';
  await client.query(`CREATE PUBLICATION ${quoteIdent(name)}${what}${viaRoot}`);
}

export async function addTablesToPublication(client: pg.Client, name: string, tables: PublishedTable[]): Promise<void> {
  if (tables.length)
    await client.query(`ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${publicationTableList(tables)}`);
}

export async function dropTablesFromPublication(
  client: pg.Client,
  name: string,
  tables: { schema: string; name: string }[],
): Promise<void> {
  if (tables.length)
    await client.query(
      `ALTER PUBLICATION ${quoteIdent(name)} DROP TABLE ${tables.map((t) => qualifiedName(t.schema, t.name)).join(', ')}`,
    );
}

export async function dropPublication(client: pg.Client, name: string): Promise<void> {
  await client.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(name)}`);
}
