import type pg from 'pg';

/** The advisory lock one init of a job holds on the source for as long as it runs (snapshot/job-lock.ts). */
export function initLockKey(jobId: string): string {
  return `database-replicator init ${jobId}`;
}

/** The source session that holds the job's init lock, if an init of the job is running now. */
export async function runningInit(
  source: pg.Client,
  jobId: string,
): Promise<{ pid: number; clientAddr: string | null } | undefined> {
  const { rows } = await source.query<{ pid: number; client_addr: string | null }>(
    `SELECT a.pid, a.client_addr::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0) LIMIT 1`,
    [initLockKey(jobId)],
  );
  return rows[0] ? { pid: rows[0].pid, clientAddr: rows[0].client_addr } : undefined;
}
