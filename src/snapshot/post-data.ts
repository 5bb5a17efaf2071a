import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { listArchive, restoreArchiveEntries, type SchemaCopyOptions } from './schema.ts';

/** One line of `pg_restore --list`: its dump id, and the catalog and oid of the object on the source. */
export interface ArchiveEntry {
  dumpId: number;
  catalog: number;
  oid: number;
  line: string;
}

const PG_CLASS = 1259;
const PG_CONSTRAINT = 2606;

export function parseArchiveList(listing: string): ArchiveEntry[] {
  const entries: ArchiveEntry[] = [];
  for (const line of listing.split('\n')) {
    const m = /^(\d+); (\d+) (\d+) /.exec(line);
    if (m) entries.push({ dumpId: Number(m[1]), catalog: Number(m[2]), oid: Number(m[3]), line });
  }
  return entries;
}

/**
 * The entries that only need their own table's rows: its indexes and its primary key, unique and
 * exclusion constraints. They can be built as soon as that table's copy commits, while other tables
 * are still copying. Foreign keys, triggers, comments and index attachments wait for the final pass.
 */
export async function entriesByTable(source: pg.Client, entries: ArchiveEntry[]): Promise<Map<string, ArchiveEntry[]>> {
  const { rows } = await source.query<{ catalog: number; oid: number; key: string }>(`
    SELECT ${PG_CLASS} AS catalog, i.indexrelid::int8 AS oid, format('%s.%s', n.nspname, t.relname) AS key
      FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE t.relkind = 'r'
    UNION ALL
    SELECT ${PG_CONSTRAINT}, c.oid::int8, format('%s.%s', n.nspname, t.relname)
      FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE t.relkind = 'r' AND c.contype IN ('p', 'u', 'x')`);
  const owner = new Map(rows.map((r) => [`${r.catalog}:${r.oid}`, r.key]));
  const byTable = new Map<string, ArchiveEntry[]>();
  for (const entry of entries) {
    const key = owner.get(`${entry.catalog}:${entry.oid}`);
    if (!key) continue;
    const list = byTable.get(key) ?? [];
    list.push(entry);
    byTable.set(key, list);
  }
  return byTable;
}

export interface PostDataSchedulerOptions {
  schema: SchemaCopyOptions;
  archive: string;
  /** A folder for the list files handed to pg_restore. */
  workDir: string;
  entries: ArchiveEntry[];
  byTable: Map<string, ArchiveEntry[]>;
  /** Runs after a table's own indexes are built (ANALYZE), so that too leaves the final pass. */
  afterTable?: (key: string) => Promise<void>;
}

/**
 * Builds each table's indexes while the other tables are still copying, one table at a time so the
 * copy keeps most of the machine; the rest of the post-data section follows once every table is in.
 * The copy of the biggest table is usually the last to finish, and its tail would otherwise leave a
 * core idle.
 */
export class PostDataScheduler {
  /** Tables whose own entries are built (and analyzed, with `afterTable`). */
  readonly built = new Set<string>();
  private readonly options: PostDataSchedulerOptions;
  private readonly queue: string[] = [];
  private building: string | null = null;
  private running: Promise<void> | null = null;
  private failure: unknown = null;
  private closed = false;
  private listCount = 0;

  constructor(options: PostDataSchedulerOptions) {
    this.options = options;
  }

  /** Called when a table's copy has committed; its own entries are queued for an early build. */
  tableCopied(key: string): void {
    if (this.closed || !this.options.byTable.has(key)) return;
    this.queue.push(key);
    this.running ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (!this.closed && this.queue.length > 0) {
        const key = this.queue.shift()!;
        this.building = key;
        await this.restore(this.options.byTable.get(key)!, 1);
        await this.options.afterTable?.(key);
        this.built.add(key);
        this.building = null;
      }
    } catch (error) {
      this.failure = error;
    } finally {
      this.running = null;
    }
  }

  private async restore(entries: ArchiveEntry[], jobs: number): Promise<void> {
    if (entries.length === 0) return;
    const list = join(this.options.workDir, `post-data.${process.pid}.${this.listCount++}.list`);
    writeFileSync(list, entries.map((e) => e.line).join('\n') + '\n', { mode: 0o600 });
    try {
      await restoreArchiveEntries(this.options.schema, this.options.archive, list, jobs);
    } finally {
      rmSync(list, { force: true });
    }
  }

  /** After a failed copy: no new builds, and the one running (if any) is let finish. */
  async abandon(): Promise<void> {
    this.closed = true;
    await this.running;
  }

  /**
   * After the last copy: the other tables' own entries beside the one table still being built (if
   * any), then everything else; foreign keys need the referenced keys, attachments both indexes.
   */
  async finish(jobs: number): Promise<void> {
    this.closed = true;
    const inFlight = this.running;
    const pending = [...this.options.byTable.keys()].filter((k) => !this.built.has(k) && k !== this.building);
    const results = await Promise.allSettled([inFlight, this.restore(pending.flatMap((k) => this.options.byTable.get(k)!), jobs)]);
    if (this.failure) throw this.failure;
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    const done = new Set([...this.options.byTable.values()].flatMap((list) => list.map((e) => e.dumpId)));
    await this.restore(this.options.entries.filter((e) => !done.has(e.dumpId)), jobs);
  }
}

export async function readArchiveEntries(schema: SchemaCopyOptions, archive: string): Promise<ArchiveEntry[]> {
  return parseArchiveList(await listArchive(schema, archive));
}
