import type pg from 'pg';

/**
 * Ends the sessions an earlier run of this job left on the target database. A killed CLI leaves its
 * pg_restore children running: an index build that commits after the rerun has checked what exists
 * makes the rerun's own build fail ("multiple primary keys"). The job lock (job-lock.ts) proves no
 * other run of this job is alive, and the target database is this job's, so such sessions are leftovers.
 */
export async function endLeftoverSessions(target: pg.Client, timeoutMs = 15_000): Promise<number> {
  const leftovers = `datname = current_database() AND pid <> pg_backend_pid() AND usename = current_user AND backend_type = 'client backend'
    AND application_name = current_setting('application_name')`;
  const { rowCount } = await target.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE ${leftovers}`);
  const deadline = Date.now() + timeoutMs;
  while (
    Date.now() < deadline &&
    ((await target.query(`SELECT 1 FROM pg_stat_activity WHERE ${leftovers}`)).rowCount ?? 0) > 0
  ) {
    // A terminated backend exits within milliseconds; every resume waits here once.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return rowCount ?? 0;
}
