import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import type { ArchiveEntry } from './post-data.ts';
import { fillMatviews, isMatviewData } from './matview-data.ts';
import { restoreArchiveEntries, type SchemaCopyOptions } from './schema.ts';

/**
 * The catalogs of post-data objects that a second CREATE would fail on ("multiple primary keys",
 * "relation already exists"), and how to name one on either server: schema, table (or '' for
 * objects not on a table) and the object's own name.
 */
const NAMED_OBJECTS = `
  SELECT 1259 AS catalog, c.oid::int8 AS oid, n.nspname AS schema, '' AS tbl, c.relname AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('i', 'I')
  UNION ALL
  SELECT 2606, k.oid::int8, n.nspname, t.relname, k.conname
    FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
  UNION ALL
  SELECT 2620, g.oid::int8, n.nspname, t.relname, g.tgname
    FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid JOIN pg_namespace n ON n.oid = t.relnamespace WHERE NOT g.tgisinternal
  UNION ALL
  SELECT 2618, r.oid::int8, n.nspname, t.relname, r.rulename
    FROM pg_rewrite r JOIN pg_class t ON t.oid = r.ev_class JOIN pg_namespace n ON n.oid = t.relnamespace WHERE r.rulename <> '_RETURN'
  UNION ALL
  SELECT 3256, p.oid::int8, n.nspname, t.relname, p.polname
    FROM pg_policy p JOIN pg_class t ON t.oid = p.polrelid JOIN pg_namespace n ON n.oid = t.relnamespace
  UNION ALL
  SELECT 3381, s.oid::int8, n.nspname, '', s.stxname FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
  UNION ALL
  SELECT 3466, e.oid::int8, '', '', e.evtname FROM pg_event_trigger e`;

interface NamedObject {
  catalog: number;
  oid: string;
  schema: string;
  tbl: string;
  name: string;
}

let listCount = 0;

const identity = (o: Omit<NamedObject, 'oid'>) => JSON.stringify([Number(o.catalog), o.schema, o.tbl, o.name]);

/**
 * Entries of a post-data archive whose object the target already has: an earlier run built them
 * before it was stopped. Restoring the rest makes post-data safe to run again. Entries of other kinds
 * (comments, index attachments, materialized view data) are not listed: running them again is harmless.
 */
export async function entriesOnTarget(
  source: pg.Client,
  target: pg.Client,
  entries: ArchiveEntry[],
): Promise<Set<number>> {
  if (entries.length === 0) return new Set();
  const { rows: onSource } = await source.query<NamedObject>(
    `SELECT * FROM (${NAMED_OBJECTS}) o WHERE (catalog, oid) IN (SELECT * FROM unnest($1::int[], $2::int8[]))`,
    [entries.map((e) => e.catalog), entries.map((e) => e.oid)],
  );
  if (onSource.length === 0) return new Set();
  const { rows: onTarget } = await target.query<NamedObject>(
    `SELECT catalog, schema, tbl, name FROM (${NAMED_OBJECTS}) o`,
  );
  const present = new Set(onTarget.map(identity));
  const byKey = new Map(onSource.map((o) => [`${Number(o.catalog)}:${o.oid}`, o]));
  const result = new Set<number>();
  for (const e of entries) {
    const object = byKey.get(`${e.catalog}:${e.oid}`);
    if (object && present.has(identity(object))) result.add(e.dumpId);
  }
  return result;
}

/**
 * Restores the given archive entries the target does not have yet (pg_restore --use-list), so a
 * rerun after a stop in the middle of post-data builds only what is missing.
 */
export async function restoreMissingEntries(
  options: RestoreMissingOptions,
  entries: ArchiveEntry[],
): Promise<ArchiveEntry[]> {
  // A foreign key built while a subscription applies changes to its tables can lose a deadlock to the
  // apply worker; the entries still missing are simply built again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await restoreMissingOnce(options, entries);
    } catch (error) {
      if (attempt >= 3 || !/deadlock detected/.test((error as Error).message)) throw error;
    }
  }
}

async function restoreMissingOnce(options: RestoreMissingOptions, entries: ArchiveEntry[]): Promise<ArchiveEntry[]> {
  const present = await entriesOnTarget(options.source, options.target, entries);
  const missing = entries.filter((e) => !present.has(e.dumpId));
  await restoreEntries(options, missing);
  return missing;
}

/** Restores archive entries (pg_restore --use-list, on `jobs` sessions), materialized views last. */
export async function restoreEntries(
  options: Omit<RestoreMissingOptions, 'source' | 'target'>,
  entries: ArchiveEntry[],
): Promise<void> {
  const restored = entries.filter((e) => !isMatviewData(e));
  if (restored.length) {
    const list = join(options.workDir, `post-data.${process.pid}.missing.${++listCount}.list`);
    writeFileSync(list, restored.map((e) => e.line).join('\n') + '\n', { mode: 0o600 });
    try {
      await restoreArchiveEntries(options.schema, options.archive, list, options.jobs);
    } finally {
      rmSync(list, { force: true });
    }
  }
  // Materialized views last, filled again (harmless) with the source's search path, not pg_restore's empty one.
  await fillMatviews(options.schema, entries.filter(isMatviewData));
}

export interface RestoreMissingOptions {
  schema: SchemaCopyOptions;
  archive: string;
  workDir: string;
  source: pg.Client;
  target: pg.Client;
  jobs: number;
}
