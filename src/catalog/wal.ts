import type pg from 'pg';

/**
 * A WAL position at or past the end of every transaction committed so far, for waiting until a
 * subscriber has applied them. pg_current_wal_lsn() alone is not one: a transaction committed with
 * synchronous_commit = off is visible before its WAL is written, so the position can stop short of
 * it. A commit of our own that writes WAL with synchronous_commit = local (never waiting for a
 * standby) flushes everything before it; the position read after it covers them all. The message
 * is transactional so that it has a commit to flush; no subscription asks for messages.
 *
 * Runs its own transaction: call it outside one.
 */
export async function committedWalEnd(client: pg.Client): Promise<string> {
  await client.query('BEGIN');
  try {
    await client.query('SET LOCAL synchronous_commit = local');
    await client.query(`SELECT pg_logical_emit_message(true, 'database-replicator', 'sync point')`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
}
