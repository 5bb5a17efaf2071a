import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CopyInRelay, CopyOutRelay } from '../../src/snapshot/copy-relay.ts';
import { connectAs, createTestDatabase, dropTestDatabase, withClient } from '../support/db.ts';

const { source, target } = inject('clusters');
let db: string;
let from: pg.Client;
let to: pg.Client;

beforeAll(async () => {
  db = (await createTestDatabase(source, 'relay')).name;
  await withClient(target, 'postgres', (c) => c.query(`CREATE DATABASE "${db}"`));
  const table = `CREATE TABLE items (id int PRIMARY KEY, label text, doc jsonb, blob bytea, at timestamptz, tags text[], price numeric CHECK (price < 1000))`;
  await withClient(source, db, async (c) => {
    await c.query(table.replace(' CHECK (price < 1000)', ''));
    // Rows from a few bytes to well over a socket read, so messages straddle reads.
    await c.query(`INSERT INTO items SELECT i, repeat(md5(i::text), CASE WHEN i % 1000 = 0 THEN 3000 ELSE 1 + i % 200 END), jsonb_build_object('i', i, 'nan', 'NaN'::float8::text),
                   decode(repeat(md5(i::text), 1 + i % 50), 'hex'), timestamptz '2026-01-01' + i * interval '1 minute', ARRAY['a' || i, NULL, 'q"uote'],
                   CASE WHEN i = 4500 THEN 5000 ELSE i % 1000 END
                   FROM generate_series(1, 5000) i`);
    await c.query(
      `CREATE FUNCTION noisy(i int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN IF i % 500 = 0 THEN RAISE NOTICE 'row %', i; END IF; RETURN i; END $$`,
    );
  });
  await withClient(target, db, (c) => c.query(table));
  from = await connectAs(source, db);
  to = await connectAs(target, db);
});

afterAll(async () => {
  await from?.end();
  await to?.end();
  await dropTestDatabase(source, db).catch(() => undefined);
  await dropTestDatabase(target, db).catch(() => undefined);
});

async function relay(sourceSql: string, targetSql: string): Promise<{ rows: number | null; bytes: number }> {
  await to.query('BEGIN');
  try {
    const reader = from.query(new CopyOutRelay(sourceSql));
    const writer = to.query(new CopyInRelay(targetSql));
    await pipeline(reader, writer);
    await to.query('COMMIT');
    return { rows: writer.rowCount, bytes: reader.payloadBytes };
  } catch (error) {
    await to.query('ROLLBACK');
    throw error;
  }
}

const digest = `SELECT count(*)::int AS n, md5(string_agg(t::text, '|' ORDER BY id)) AS h FROM items t WHERE price < 1000`;

describe('CopyOutRelay to CopyInRelay on real servers', () => {
  for (const format of ['text', 'binary']) {
    it(`copies every row exactly in ${format} format and counts them`, async () => {
      await to.query('TRUNCATE items');
      const options = format === 'binary' ? ' WITH (FORMAT binary)' : '';
      const result = await relay(
        `COPY (SELECT * FROM items WHERE price < 1000) TO STDOUT${options}`,
        `COPY items FROM STDIN${options}`,
      );
      expect(result.rows).toBe(4999);
      expect(result.bytes).toBeGreaterThan(1_000_000);
      const expected = (await from.query(digest)).rows[0];
      expect((await to.query(digest)).rows[0]).toEqual(expected);
      // Both sessions are usable afterwards.
      expect((await from.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      expect((await to.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });
  }

  it('leaves notices the source sends during the copy out of the data', async () => {
    await to.query('TRUNCATE items');
    const result = await relay(
      `COPY (SELECT * FROM items WHERE noisy(id) = id AND price < 1000) TO STDOUT`,
      `COPY items FROM STDIN`,
    );
    expect(result.rows).toBe(4999);
    expect((await to.query(digest)).rows[0]).toEqual((await from.query(digest)).rows[0]);
  });

  it('fails with the source error when the source fails mid-copy, and the target keeps nothing', async () => {
    await to.query('TRUNCATE items');
    await expect(
      relay(
        `COPY (SELECT id, label, doc, blob, at, tags, 1 / (id - 3000) FROM items) TO STDOUT`,
        `COPY items FROM STDIN`,
      ),
    ).rejects.toThrow(/division by zero/);
    expect((await to.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 0 }]);
    expect((await from.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  });

  it('leaves the target session usable when it refuses the first of rows bigger than a socket read', async () => {
    await from.query(
      `CREATE TABLE IF NOT EXISTS big_rows AS SELECT i AS id, repeat(md5(i::text), 6000) AS payload FROM generate_series(1, 60) i`,
    );
    await to.query(`CREATE TABLE IF NOT EXISTS big_rows (id int CHECK (id > 100), payload text)`);
    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(
        relay(`COPY big_rows TO STDOUT WITH (FORMAT binary)`, `COPY big_rows FROM STDIN WITH (FORMAT binary)`),
      ).rejects.toThrow(/violates check constraint/);
      // relay() rolled back; the session answers at once, nothing of a cut message left in its input.
      expect((await to.query('SELECT count(*)::int AS n FROM big_rows')).rows).toEqual([{ n: 0 }]);
      await from.end();
      from = await connectAs(source, db);
    }
  });

  it('fails with the target error when a row is refused, and the target keeps nothing', async () => {
    await to.query('TRUNCATE items');
    // Row 4500 breaks the target's CHECK; the source's copy is still streaming when the target says so.
    await expect(
      relay(`COPY items TO STDOUT WITH (FORMAT binary)`, `COPY items FROM STDIN WITH (FORMAT binary)`),
    ).rejects.toThrow(/violates check constraint/);
    expect((await to.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 0 }]);
    // The source session was left mid-COPY; ending it must not hang (the copy workers end theirs so).
    await from.end();
    from = await connectAs(source, db);
  });
});
