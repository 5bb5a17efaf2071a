import type pg from 'pg';
import { pollUntil } from '../replication/hand-off.ts';

/** How long a rerun waits for the builds a stopped run left running before it ends them. */
export const LEFTOVER_WAIT_MS = 15 * 60_000;

/**
 * Ends the sessions an earlier run of this job left on the target database. A killed CLI leaves its
 * pg_restore children running: an index build that commits after the rerun has checked what exists
 * makes the rerun's own build fail ("multiple primary keys"). The job lock (job-lock.ts) proves no
 * other run of this job is alive, and the target database is this job's, so such sessions are leftovers.
 * They build what the rerun would build again: the rerun waits for them (up to `waitMs`) before it looks
 * at what the target has, keeping their work, and ends those still running after that.
 */
export async function endLeftoverSessions(
  target: pg.Client,
  options: { waitMs?: number; timeoutMs?: number; onWait?: (sessions: number) => void } = {},
): Promise<number> {
  const leftovers = `datname = current_database() AND pid <> pg_backend_pid() AND usename = current_user AND backend_type = 'client backend'
    AND application_name = current_setting('application_name')`;
  const count = async (busy = false) =>
    (await target.query(`SELECT 1 FROM pg_stat_activity WHERE ${leftovers}${busy ? ` AND state <> 'idle'` : ''}`))
      .rowCount ?? 0;
  // Only sessions at work are waited for; idle ones (a pg_restore between two entries) are ended.
  const running = await count(true);
  if (running > 0 && (options.waitMs ?? 0) > 0) {
    options.onWait?.(running);
    await pollUntil(async () => (await count(true)) === 0, options.waitMs!);
  }
  const { rowCount } = await target.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE ${leftovers}`);
  await pollUntil(async () => (await count()) === 0, options.timeoutMs ?? 15_000);
  return rowCount ?? 0;
}

/**
 * Before a rerun first looks at what the target has: the earlier run's builds finish (or are ended),
 * logged. Once per database and run: after that, sessions of this application are the run's own.
 */
export function settleLeftoverSessions(
  run: { leftoversSettled?: Promise<void>; plan: { target: string }; log: (line: string) => void },
  target: pg.Client,
): Promise<void> {
  return (run.leftoversSettled ??= (async () => {
    const ended = await endLeftoverSessions(target, {
      waitMs: LEFTOVER_WAIT_MS,
      onWait: (n) =>
        run.log(
          `${run.plan.target}: waiting for ${n} session(s) an earlier run of this job left on the target (their builds are kept)`,
        ),
    });
    if (ended) run.log(`${run.plan.target}: ended ${ended} session(s) an earlier run of this job left on the target`);
  })());
}
