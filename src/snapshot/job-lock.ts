import type pg from 'pg';

/** A rerun of a finished job that may not go on as asked. */
export class JobFinishedError extends Error {
  override name = 'JobFinishedError';
}

export class JobLockedError extends Error {
  override name = 'JobLockedError';
}

/**
 * One init of a job at a time, on any machine: a session-level advisory lock on the source, held by
 * init's admin session until it ends (a killed init's lock goes with its connection).
 */
export async function lockJob(sourceAdmin: pg.Client, jobId: string): Promise<void> {
  const key = `database-replicator init ${jobId}`;
  const { rows } = await sourceAdmin.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [key]);
  if (rows[0]!.locked) return;
  const holder = await sourceAdmin.query<{ pid: number; application_name: string; client_addr: string | null }>(
    `SELECT a.pid, a.application_name, a.client_addr::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0) LIMIT 1`,
    [key],
  );
  const who = holder.rows[0] ? ` (source session pid ${holder.rows[0].pid}${holder.rows[0].client_addr ? ` from ${holder.rows[0].client_addr}` : ''})` : '';
  throw new JobLockedError(`Another init of job ${jobId} is running${who}; wait for it to finish, or stop it, then run the command again: it resumes.`);
}
