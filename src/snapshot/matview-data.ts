import type pg from 'pg';
import { qualifiedName } from '../catalog/ident.ts';
import { openClient, withConnection } from '../connection/client.ts';
import type { TlsPolicy } from '../connection/tls.ts';
import type { ConnectionSpec } from '../connection/url.ts';
import { readMatviewDependencies, refreshOrder } from '../replication/matviews.ts';

/**
 * A post-data archive entry that fills a materialized view (`REFRESH MATERIALIZED VIEW`). pg_dump writes
 * one for each view populated on the source, none for one left WITH NO DATA.
 */
export function isMatviewData(entry: { line: string }): boolean {
  return /^\d+; \d+ \d+ MATERIALIZED VIEW DATA /.test(entry.line);
}

/** The data entries of a `pg_restore --list` listing, with their views' oids on the source. */
export function matviewDataEntries(listing: string): { line: string; oid: number }[] {
  return listing
    .split('\n')
    .filter((line) => isMatviewData({ line }))
    .map((line) => ({ line, oid: Number(/^\d+; \d+ (\d+) /.exec(line)![1]) }));
}

/**
 * The search path a session of ours gets on the source database (its ALTER DATABASE / ALTER ROLE
 * settings included), the one under which the source's own views were filled, and the names of the
 * views behind the entries: a data entry carries its view's oid on the source, while the list line
 * spells names unquoted, so "a b" "c" and "a" "b c" would read alike.
 */
async function readSource(
  client: pg.Client,
  entries: { oid: number }[],
): Promise<{ searchPath: string; names: Set<string> }> {
  const { rows } = await client.query<{ path: string }>(
    "SELECT reset_val AS path FROM pg_settings WHERE name = 'search_path'",
  );
  const named = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[]) AND c.relkind = 'm'`,
    [entries.map((e) => e.oid)],
  );
  return { searchPath: rows[0]!.path, names: new Set(named.rows.map((r) => `${r.schema}.${r.name}`)) };
}

export interface MatviewFillSides {
  source: ConnectionSpec;
  target: ConnectionSpec;
  tls: TlsPolicy;
}

/**
 * Fills on the target the materialized views whose data entries are given, inputs first. pg_restore
 * would run the same REFRESH with an empty search_path, so a view over a function whose body names a
 * table without its schema fails there ("relation does not exist"); here the session has the source
 * database's search path, as the application that filled the view on the source had. Returns the views.
 */
export async function fillMatviews(
  sides: MatviewFillSides,
  entries: { line: string; oid: number }[],
): Promise<string[]> {
  const data = entries.filter(isMatviewData);
  if (data.length === 0) return [];
  const { searchPath, names } = await withConnection(sides.source, { role: 'source', ...sides.tls }, (source) =>
    readSource(source, data),
  );
  const target = await openClient(sides.target, { role: 'target', ...sides.tls });
  try {
    await target.query("SELECT set_config('search_path', $1, false)", [searchPath]);
    const toFill = refreshOrder(await readMatviewDependencies(target, { populatedOnly: false })).filter((m) =>
      names.has(`${m.schema}.${m.name}`),
    );
    for (const m of toFill) await target.query(`REFRESH MATERIALIZED VIEW ${qualifiedName(m.schema, m.name)}`);
    return toFill.map((m) => `${m.schema}.${m.name}`);
  } finally {
    await target.end().catch(() => undefined);
  }
}
