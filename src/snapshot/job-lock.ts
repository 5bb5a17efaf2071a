import type pg from 'pg';
import { initLockKey, runningInit } from '../jobs/init-lock.ts';

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
  const { rows } = await sourceAdmin.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
    [initLockKey(jobId)],
  );
  if (rows[0]!.locked) return;
  const holder = await runningInit(sourceAdmin, jobId);
  const who = holder
    ? ` (source session pid ${holder.pid}${holder.clientAddr ? ` from ${holder.clientAddr}` : ''})`
    : '';
  throw new JobLockedError(
    `Another init of job ${jobId} is running${who}; wait for it to finish, or stop it, then run the command again: it resumes.`,
  );
}
