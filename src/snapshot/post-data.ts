import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { faultPoint } from './fault-points.ts';
import { fillMatviews, isMatviewData } from './matview-data.ts';
import { listArchive, restoreArchiveEntries, type SchemaCopyOptions } from './schema.ts';

/** One line of `pg_restore --list`: its dump id, and the catalog and oid of the object on the source. */
export interface ArchiveEntry {
  dumpId: number;
  catalog: number;
  oid: number;
  line: string;
  /** Estimated cost of building it (see entriesByTable); pg_restore starts list entries in list order. */
  weight?: number;
  /**
   * A primary key, unique constraint or index, or the REPLICA IDENTITY index: what the apply worker finds
   * rows by and what foreign keys point at.
   */
  uniqueKey?: boolean;
}

const PG_CLASS = 1259;
/**
 * Builds that run beside the copy use no parallel workers: the copy's sessions keep the target's
 * cores busy already, and a parallel build sorts in each worker, spills every run to temporary files
 * and merges them in the leader, more work in all than one process sorting in memory.
 */
const BESIDE_THE_COPY: Record<string, string> = { max_parallel_maintenance_workers: '0' };
const PG_CONSTRAINT = 2606;

export function parseArchiveList(listing: string): ArchiveEntry[] {
  const entries: ArchiveEntry[] = [];
  for (const line of listing.split('\n')) {
    const m = /^(\d+); (\d+) (\d+) /.exec(line);
    if (m) entries.push({ dumpId: Number(m[1]), catalog: Number(m[2]), oid: Number(m[3]), line });
  }
  return entries;
}

/** A foreign key of the archive, with the two tables it joins (the same table for a self-reference). */
export interface ForeignKeyEntry {
  entry: ArchiveEntry;
  tables: string[];
}

export interface EntriesByTable {
  /** Per table: its indexes and its primary key, unique and exclusion constraints (need only its own rows). */
  own: Map<string, ArchiveEntry[]>;
  /** Foreign keys between plain tables: ready once both tables are copied and their own entries built. */
  foreignKeys: ForeignKeyEntry[];
}

/**
 * Sorts the archive's entries by what they wait for. Entries of partitioned tables, triggers,
 * comments and index attachments are in neither list: they wait for the final pass.
 */
export async function entriesByTable(source: pg.Client, entries: ArchiveEntry[]): Promise<EntriesByTable> {
  // weight: a guess at the build's cost (the table's size, more for expressions and non-btree methods),
  // so the longest builds start first and the last ones do not run alone.
  const { rows } = await source.query<{
    catalog: number;
    oid: number;
    key: string;
    ref: string | null;
    weight: string;
    unique_key: boolean;
  }>(`
    SELECT ${PG_CLASS} AS catalog, i.indexrelid::int8 AS oid, format('%s.%s', n.nspname, t.relname) AS key, NULL AS ref,
           (pg_relation_size(t.oid) * (1 + (i.indexprs IS NOT NULL)::int + (a.amname <> 'btree')::int))::text AS weight,
           i.indisunique OR i.indisreplident AS unique_key
      FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am a ON a.oid = ic.relam
     WHERE t.relkind = 'r'
    UNION ALL
    SELECT ${PG_CONSTRAINT}, c.oid::int8, format('%s.%s', n.nspname, t.relname),
           CASE WHEN c.contype = 'f' THEN format('%s.%s', rn.nspname, r.relname) END, pg_relation_size(t.oid)::text,
           c.contype IN ('p', 'u')
      FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      LEFT JOIN pg_class r ON r.oid = c.confrelid LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
     WHERE t.relkind = 'r' AND (c.contype IN ('p', 'u', 'x') OR (c.contype = 'f' AND r.relkind = 'r'))`);
  const owner = new Map(rows.map((r) => [`${r.catalog}:${r.oid}`, r]));
  const result: EntriesByTable = { own: new Map(), foreignKeys: [] };
  for (const entry of entries) {
    const row = owner.get(`${entry.catalog}:${entry.oid}`);
    if (!row) continue;
    if (row.ref) {
      result.foreignKeys.push({ entry, tables: [...new Set([row.key, row.ref])] });
      continue;
    }
    const list = result.own.get(row.key) ?? [];
    list.push({ ...entry, weight: Number(row.weight), uniqueKey: row.unique_key });
    result.own.set(row.key, list);
  }
  return result;
}

export interface PostDataSchedulerOptions {
  schema: SchemaCopyOptions;
  archive: string;
  /** A folder for the list files handed to pg_restore. */
  workDir: string;
  entries: ArchiveEntry[];
  byTable: EntriesByTable;
  /** Runs after a table's own entries are built (ANALYZE), so that too leaves the final pass. */
  afterTable?: (key: string) => Promise<void>;
  /** Restores archive entries; pg_restore --use-list unless a test replaces it. */
  restoreEntries?: (entries: ArchiveEntry[], jobs: number, settings: Record<string, string>) => Promise<void>;
  /** Fills the materialized views of these data entries; fillMatviews unless a test replaces it. */
  fillMatviews?: (entries: ArchiveEntry[]) => Promise<unknown>;
}

/**
 * Builds each table's indexes while the other tables are still copying, one table at a time so the
 * copy keeps most of the machine, and each foreign key once both its tables are ready; the rest of
 * the post-data section follows once every table is in. The copy of the biggest table is usually the
 * last to finish, and its tail would otherwise leave a core idle.
 */
export class PostDataScheduler {
  /** Tables copied, with their own entries built and `afterTable` run. */
  readonly built = new Set<string>();
  private readonly options: PostDataSchedulerOptions;
  private readonly queue: string[] = [];
  /** Dump ids restored, and those whose restore has started (a foreign key the copy-time builds are on). */
  private readonly restored = new Set<number>();
  private readonly claimed = new Set<number>();
  private building: string | null = null;
  private running: Promise<void> | null = null;
  private failure: unknown = null;
  private closed = false;
  private listCount = 0;

  constructor(options: PostDataSchedulerOptions) {
    this.options = options;
  }

  /** Called when a table's copy has committed. */
  tableCopied(key: string): void {
    if (this.closed) return;
    this.queue.push(key);
    this.running ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (!this.closed && this.queue.length > 0) {
        const key = this.queue.shift()!;
        this.building = key;
        const own = this.options.byTable.own.get(key) ?? [];
        await this.restore(own, 1, BESIDE_THE_COPY);
        await this.options.afterTable?.(key);
        this.built.add(key);
        this.building = null;
        const ready = this.options.byTable.foreignKeys.filter(
          (fk) => !this.claimed.has(fk.entry.dumpId) && fk.tables.every((t) => this.built.has(t)),
        );
        if (!this.closed && ready.length)
          await this.restore(
            ready.map((fk) => fk.entry),
            1,
            BESIDE_THE_COPY,
          );
      }
    } catch (error) {
      this.failure = error;
    } finally {
      this.running = null;
    }
  }

  private async restore(entries: ArchiveEntry[], jobs: number, settings: Record<string, string> = {}): Promise<void> {
    if (entries.length === 0) return;
    for (const e of entries) this.claimed.add(e.dumpId);
    await (this.options.restoreEntries ?? this.restoreWithPgRestore)(entries, jobs, settings);
    for (const e of entries) this.restored.add(e.dumpId);
    faultPoint('post-data:entry');
  }

  private readonly restoreWithPgRestore = async (
    entries: ArchiveEntry[],
    jobs: number,
    settings: Record<string, string>,
  ): Promise<void> => {
    const list = join(this.options.workDir, `post-data.${process.pid}.${this.listCount++}.list`);
    writeFileSync(list, entries.map((e) => e.line).join('\n') + '\n', { mode: 0o600 });
    try {
      await restoreArchiveEntries(this.options.schema, this.options.archive, list, jobs, settings);
    } finally {
      rmSync(list, { force: true });
    }
  };

  /** After a failed copy: no new builds, and the one running (if any) is let finish. */
  async abandon(): Promise<void> {
    this.closed = true;
    await this.running;
  }

  /**
   * After the last copy: the other tables' own entries beside the one table still being built (if
   * any), each foreign key once both its tables are ready, then everything else (attachments,
   * triggers, comments, keys of partitioned tables).
   */
  async finish(jobs: number): Promise<void> {
    this.closed = true;
    const inFlight = this.running;
    const pending = [...this.options.byTable.own.keys()].filter((k) => !this.built.has(k) && k !== this.building);
    const results = await Promise.allSettled([inFlight, this.finalBuilds(pending, this.building, inFlight, jobs)]);
    if (this.failure) throw this.failure;
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    const rest = this.options.entries.filter((e) => !this.restored.has(e.dumpId));
    await this.restore(
      rest.filter((e) => !isMatviewData(e)),
      jobs,
    );
    // Materialized views last, as pg_restore orders them, but not through it (see fillMatviews).
    const matviewData = rest.filter(isMatviewData);
    await (this.options.fillMatviews ?? ((data) => fillMatviews(this.options.schema, data)))(matviewData);
    for (const e of matviewData) this.restored.add(e.dumpId);
  }

  /**
   * The pending tables' own entries, costliest first, one pg_restore each and `jobs` at once
   * (pg_restore -j orders by table size alone, so the last table's longest build started last);
   * each table's `afterTable` once its entries are in; each foreign key as soon as both its tables
   * are ready, beside the builds still running rather than after all of them.
   */
  private async finalBuilds(
    pending: string[],
    building: string | null,
    inFlight: Promise<void> | null,
    jobs: number,
  ): Promise<void> {
    const own = this.options.byTable.own;
    const left = new Map(pending.map((k) => [k, own.get(k)!.length]));
    const waiting = new Set([...pending, ...(building ? [building] : [])]);
    const list: Array<{ needs: string[]; run: () => Promise<void> }> = pending
      .flatMap((table) => own.get(table)!.map((entry) => ({ table, entry })))
      .sort((a, b) => (b.entry.weight ?? 0) - (a.entry.weight ?? 0))
      .map(({ table, entry }) => ({
        needs: [],
        run: async () => {
          await this.restore([entry], 1);
          left.set(table, left.get(table)! - 1);
          if (left.get(table) === 0) {
            await this.options.afterTable?.(table);
            this.built.add(table);
            waiting.delete(table);
          }
        },
      }));
    for (const fk of this.options.byTable.foreignKeys) {
      if (!this.claimed.has(fk.entry.dumpId)) list.push({ needs: fk.tables, run: () => this.restore([fk.entry], 1) });
    }

    let wake = () => {};
    let changed = new Promise<void>((resolve) => (wake = resolve));
    const signal = () => {
      wake();
      changed = new Promise<void>((resolve) => (wake = resolve));
    };
    let inFlightDone = inFlight === null;
    const inFlightEnded = () => {
      inFlightDone = true;
      if (building) waiting.delete(building);
      signal();
    };
    inFlight?.then(inFlightEnded, inFlightEnded);
    let active = 0;
    let failed = false;
    const worker = async () => {
      while (!failed && !this.failure) {
        const next = list.findIndex((job) => job.needs.every((t) => !waiting.has(t)));
        if (next >= 0) {
          const [job] = list.splice(next, 1);
          active++;
          try {
            await job!.run();
          } catch (error) {
            failed = true;
            throw error;
          } finally {
            active--;
            signal();
          }
        } else if (list.length === 0 || (active === 0 && inFlightDone)) {
          // Nothing left, or nothing that can become ready: the final restore takes what remains.
          return;
        } else {
          await changed;
        }
      }
    };
    const results = await Promise.allSettled(Array.from({ length: Math.max(1, jobs) }, worker));
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }
}

export async function readArchiveEntries(schema: SchemaCopyOptions, archive: string): Promise<ArchiveEntry[]> {
  // The event trigger of init --track-ddl belongs to the source alone (pg_dump dumps every event trigger).
  return parseArchiveList(await listArchive(schema, archive)).filter((e) => !OWN_EVENT_TRIGGER.test(e.line));
}

const OWN_EVENT_TRIGGER = /^\d+; 3466 \d+ EVENT TRIGGER - dbr_\S+_ddl /;
