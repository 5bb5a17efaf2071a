// The WAL position we wait on for "everything committed so far" (cutover, resume hand-off, verify's
// catch-up): with synchronous_commit = off a commit is visible before its WAL is written, and a wait
// on pg_current_wal_lsn() could end before the subscriber has the last changes.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { committedWalEnd } from '../../src/catalog/wal.ts';
import { connectAs, createTestDatabase, createTestRole, dropTestDatabase, withClient } from '../support/db.ts';

const { source } = inject('clusters');
let database: string;

beforeAll(async () => {
  database = (await createTestDatabase(source, 'walpos')).name;
  await withClient(source, database, (c) => c.query('CREATE TABLE t (id int); GRANT ALL ON t TO PUBLIC'));
});
afterAll(() => dropTestDatabase(source, database));

describe('committedWalEnd', () => {
  it('is past every transaction committed before it, also those committed with synchronous_commit = off', async () => {
    await withClient(source, database, async (c) => {
      for (let i = 0; i < 20; i++) {
        await c.query('SET synchronous_commit = off');
        await c.query('INSERT INTO t SELECT generate_series(1, 50)');
        // Where the committed transaction's WAL ends, written or not.
        const inserted = (await c.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!
          .lsn;
        const end = await committedWalEnd(c);
        const { rows } = await c.query<{ past: boolean }>('SELECT $1::pg_lsn >= $2::pg_lsn AS past', [end, inserted]);
        expect(rows[0]!.past, `${end} is before ${inserted}`).toBe(true);
      }
    });
  });

  it('works for a user who is neither superuser nor owner, inside no transaction of the caller', async () => {
    const password = 'wal-position-pw';
    const role = await createTestRole(source, password);
    const client = await connectAs(source, database, role, password);
    try {
      expect(await committedWalEnd(client)).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect((await client.query<{ s: string }>('SHOW synchronous_commit')).rows[0]!.s).not.toBe('local');
    } finally {
      await client.end();
    }
  });
});
