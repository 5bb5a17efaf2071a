import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseConnectionUrl } from '../../src/connection/url.ts';
import {
  entriesByTable,
  parseArchiveList,
  PostDataScheduler,
  readArchiveEntries,
} from '../../src/snapshot/post-data.ts';
import { copyPreDataSchema, dumpPostDataSchema, type SchemaCopyOptions } from '../../src/snapshot/schema.ts';
import { restoreMissingEntries } from '../../src/snapshot/post-data-present.ts';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { connectAs, createTestDatabase, dropTestDatabase, withClient } from '../support/db.ts';

const { source, target } = inject('clusters');
const work = mkdtempSync(join(tmpdir(), 'dbr-post-data-'));
const created: { cluster: typeof source; name: string }[] = [];
afterAll(async () => {
  for (const c of created) await dropTestDatabase(c.cluster, c.name).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

/** Creates the target database, restores the pre-data section there and dumps the post-data archive. */
async function copySchema(name: string, file: string): Promise<{ options: SchemaCopyOptions; archive: string }> {
  await withClient(target, 'postgres', (c) => c.query(`CREATE DATABASE "${name}"`));
  const options: SchemaCopyOptions = {
    source: parseConnectionUrl(clusterUrl(source, name)),
    target: parseConnectionUrl(clusterUrl(target, name)),
    tls: { allowSelfSignedCerts: false },
    snapshotName: null,
    sourceMajor: 15,
    keepOwnership: false,
  };
  const archive = join(work, file);
  await copyPreDataSchema(options);
  await dumpPostDataSchema(options, archive);
  return { options, archive };
}

describe('parseArchiveList', () => {
  it('reads dump id, catalog and oid of each entry and skips comments', () => {
    const listing = [
      ';',
      '; Archive created at 2026-11-25 14:00:00 UTC',
      '3215; 2606 16406 CONSTRAINT public pgbench_accounts pgbench_accounts_pkey postgres',
      '3218; 1259 16439 INDEX public "odd name" postgres',
      '',
    ].join('\n');
    expect(parseArchiveList(listing).map(({ dumpId, catalog, oid }) => [dumpId, catalog, oid])).toEqual([
      [3215, 2606, 16406],
      [3218, 1259, 16439],
    ]);
  });
});

describe('PostDataScheduler', () => {
  it("builds a copied table's own indexes at once, a foreign key once both its tables are in, the rest at the end", async () => {
    const db = await createTestDatabase(source, 'postdata');
    created.push({ cluster: source, name: db.name });
    created.push({ cluster: target, name: db.name });
    await withClient(source, db.name, (c) =>
      c.query(`
      CREATE TABLE parent (id int PRIMARY KEY, code text UNIQUE);
      CREATE TABLE "child table" (id int PRIMARY KEY, parent_id int REFERENCES parent (id), note text);
      CREATE INDEX "child note" ON "child table" (note);
      CREATE INDEX "child upper" ON "child table" (upper(note));
      CREATE TABLE late (id int PRIMARY KEY, parent_id int REFERENCES parent (id), up int REFERENCES late (id) DEFERRABLE INITIALLY DEFERRED);
      COMMENT ON INDEX "child note" IS 'comments wait for the final pass';
      INSERT INTO parent SELECT i, 'c' || i FROM generate_series(1, 50) i;
      INSERT INTO "child table" SELECT i, 1 + i % 50, 'n' || i FROM generate_series(1, 500) i;
      INSERT INTO late SELECT i, 1 + i % 50, NULLIF(i - 1, 0) FROM generate_series(1, 20) i;`),
    );
    const { options, archive } = await copySchema(db.name, 'post-data.dump');
    // The rows as a copy would leave them (the scheduler only builds what follows the copy).
    await withClient(target, db.name, (c) =>
      c.query(`
      INSERT INTO parent SELECT i, 'c' || i FROM generate_series(1, 50) i;
      INSERT INTO "child table" SELECT i, 1 + i % 50, 'n' || i FROM generate_series(1, 500) i;
      INSERT INTO late SELECT i, 1 + i % 50, NULLIF(i - 1, 0) FROM generate_series(1, 20) i;`),
    );
    const entries = await readArchiveEntries(options, archive);
    const sourceClient = await connectAs(source, db.name);
    const byTable = await entriesByTable(sourceClient, entries).finally(() => sourceClient.end());
    expect([...byTable.own.keys()].sort()).toEqual(['public.child table', 'public.late', 'public.parent']);
    // Expression indexes weigh twice a plain one of the same table, so the final pass starts them first.
    const weight = (name: string) => byTable.own.get('public.child table')!.find((e) => e.line.includes(name))!.weight!;
    expect(weight('child table_pkey')).toBeGreaterThan(0);
    expect(weight('child upper')).toBe(2 * weight('child table_pkey'));
    expect(byTable.foreignKeys.map((f) => f.tables.sort())).toEqual(
      expect.arrayContaining([
        ['public.child table', 'public.parent'],
        ['public.late', 'public.parent'],
        ['public.late'],
      ]),
    );

    const analyzed: string[] = [];
    const scheduler = new PostDataScheduler({
      schema: options,
      archive,
      workDir: work,
      entries,
      byTable,
      afterTable: async (key) => void analyzed.push(key),
    });
    const indexes = () =>
      withClient(target, db.name, async (c) =>
        (
          await c.query<{ i: string }>(`SELECT indexname AS i FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`)
        ).rows.map((r) => r.i),
      );
    const foreignKeys = () =>
      withClient(target, db.name, async (c) =>
        (
          await c.query<{ n: string }>(`SELECT conname AS n FROM pg_constraint WHERE contype = 'f' ORDER BY 1`)
        ).rows.map((r) => r.n),
      );
    const comments = () =>
      withClient(target, db.name, async (c) =>
        Number(
          (
            await c.query<{ n: string }>(
              `SELECT count(*) AS n FROM pg_description d JOIN pg_class k ON k.oid = d.objoid WHERE k.relname = 'child note'`,
            )
          ).rows[0]!.n,
        ),
      );

    scheduler.tableCopied('public.parent');
    await expect.poll(() => scheduler.built.has('public.parent'), { timeout: 20_000 }).toBe(true);
    expect(await indexes()).toEqual(['parent_code_key', 'parent_pkey']);
    expect(await foreignKeys()).toEqual([]);

    scheduler.tableCopied('public.child table');
    await expect.poll(() => foreignKeys(), { timeout: 20_000 }).toEqual(['child table_parent_id_fkey']);
    expect(await indexes()).toEqual([
      'child note',
      'child table_pkey',
      'child upper',
      'parent_code_key',
      'parent_pkey',
    ]);
    expect(await comments()).toBe(0);
    expect(analyzed).toEqual(['public.parent', 'public.child table']);

    // `late` never reported as copied: its key, its foreign keys and the comment come with the final pass.
    await scheduler.finish(2);
    expect(await indexes()).toEqual([
      'child note',
      'child table_pkey',
      'child upper',
      'late_pkey',
      'parent_code_key',
      'parent_pkey',
    ]);
    expect(await foreignKeys()).toEqual(['child table_parent_id_fkey', 'late_parent_id_fkey', 'late_up_fkey']);
    expect(await comments()).toBe(1);
    // The final pass analyzes each of its tables as soon as that table's own entries are in.
    expect(analyzed).toEqual(['public.parent', 'public.child table', 'public.late']);
    expect(readdirSync(work).filter((f) => f.endsWith('.list'))).toEqual([]);
  });

  it('starts the costliest of the final builds first, not in the order pg_restore -j would pick', async () => {
    const db = await createTestDatabase(source, 'postorder');
    created.push({ cluster: source, name: db.name });
    created.push({ cluster: target, name: db.name });
    await withClient(source, db.name, (c) =>
      c.query(`
      CREATE TABLE docs (id int PRIMARY KEY, a int, b int, attrs jsonb);
      CREATE INDEX docs_a ON docs (a);
      CREATE INDEX docs_b ON docs (b);
      CREATE INDEX docs_tag ON docs ((attrs ->> 'tag'));
      INSERT INTO docs SELECT i, i % 7, i % 11, jsonb_build_object('tag', 't' || i % 5) FROM generate_series(1, 2000) i;`),
    );
    const { options, archive } = await copySchema(db.name, 'order.dump');
    await withClient(target, db.name, (c) =>
      c.query(
        `INSERT INTO docs SELECT i, i % 7, i % 11, jsonb_build_object('tag', 't' || i % 5) FROM generate_series(1, 2000) i`,
      ),
    );
    const entries = await readArchiveEntries(options, archive);
    const sourceClient = await connectAs(source, db.name);
    const byTable = await entriesByTable(sourceClient, entries).finally(() => sourceClient.end());

    await new PostDataScheduler({ schema: options, archive, workDir: work, entries, byTable }).finish(2);
    // Index oids are handed out as the builds start: two run at once, the others only after one ends.
    const order = await withClient(target, db.name, async (c) =>
      (
        await c.query<{ n: string }>(
          `SELECT relname AS n FROM pg_class WHERE relkind = 'i' AND relname LIKE 'docs%' ORDER BY oid`,
        )
      ).rows.map((r) => r.n),
    );
    expect(order).toHaveLength(4);
    expect(order.slice(0, 2)).toContain('docs_tag');
    expect(order.slice(2)).toEqual(expect.arrayContaining(['docs_a', 'docs_b']));
  });
});

describe('materialized views of the post-data section', () => {
  it("are filled under the source database's search path, inputs first, by the scheduler and by a resumed restore alike", async () => {
    const db = await createTestDatabase(source, 'postmatview');
    created.push({ cluster: source, name: db.name });
    created.push({ cluster: target, name: db.name });
    // The function names app.sales without its schema; pg_restore's REFRESH runs with an empty search_path.
    await withClient(source, db.name, (c) =>
      c.query(`
      CREATE SCHEMA app;
      SET search_path = app, public;
      CREATE TABLE app.sales (id int PRIMARY KEY, amount int NOT NULL);
      INSERT INTO app.sales SELECT g, g FROM generate_series(1, 10) g;
      CREATE FUNCTION public.sales_total() RETURNS TABLE (total bigint) LANGUAGE sql STABLE AS 'SELECT sum(amount) FROM sales';
      CREATE MATERIALIZED VIEW public.totals AS SELECT * FROM public.sales_total();
      CREATE UNIQUE INDEX totals_total ON public.totals (total);
      CREATE MATERIALIZED VIEW public."A doubled" AS SELECT total * 2 AS doubled FROM public.totals;
      CREATE MATERIALIZED VIEW public.never_filled AS SELECT * FROM public.sales_total() WITH NO DATA;`),
    );
    await withClient(source, 'postgres', (c) => c.query(`ALTER DATABASE "${db.name}" SET search_path = app, public`));
    // The target database has no such setting (this helper creates it bare): only the source's can make it work.
    const { options, archive } = await copySchema(db.name, 'matviews.dump');
    await withClient(target, db.name, (c) =>
      c.query('INSERT INTO app.sales SELECT g, g FROM generate_series(1, 10) g'),
    );
    const matviews = () =>
      withClient(target, db.name, async (c) =>
        (
          await c.query<{ m: string }>(`
      SELECT matviewname || ':' || CASE WHEN NOT ispopulated THEN 'unpopulated'
             WHEN matviewname = 'totals' THEN (SELECT total::text FROM public.totals) ELSE (SELECT doubled::text FROM public."A doubled") END AS m
        FROM pg_matviews ORDER BY 1`)
        ).rows.map((r) => r.m),
      );

    const entries = await readArchiveEntries(options, archive);
    const sourceClient = await connectAs(source, db.name);
    const byTable = await entriesByTable(sourceClient, entries).finally(() => sourceClient.end());
    await new PostDataScheduler({ schema: options, archive, workDir: work, entries, byTable }).finish(2);
    expect(await matviews()).toEqual(['A doubled:110', 'never_filled:unpopulated', 'totals:55']);

    // A resumed init restores what the target lacks and fills the views again the same way.
    await withClient(target, db.name, (c) => c.query('INSERT INTO app.sales VALUES (11, 45)'));
    const [s, t] = [await connectAs(source, db.name), await connectAs(target, db.name)];
    try {
      await restoreMissingEntries({ schema: options, archive, workDir: work, source: s, target: t, jobs: 2 }, entries);
    } finally {
      await Promise.all([s.end(), t.end()]);
    }
    expect(await matviews()).toEqual(['A doubled:200', 'never_filled:unpopulated', 'totals:100']);
    expect(readdirSync(work).filter((f) => f.endsWith('.list'))).toEqual([]);
  });
});
