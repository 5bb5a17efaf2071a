// A rerun's handling of the sessions a killed run left on the target: their builds are waited for and
// kept; only those still running after the wait are ended.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { endLeftoverSessions } from '../../src/snapshot/leftover-sessions.ts';
import { connectAs, createTestDatabase, dropTestDatabase } from '../support/db.ts';

const { target } = inject('clusters');
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
});

/** Two sessions of one application on a scratch database: the rerun's and a leftover building an index. */
async function sessions(prefix: string) {
  const db = await createTestDatabase(target, prefix);
  cleanups.push(() => dropTestDatabase(target, db.name));
  const [rerun, leftover] = await Promise.all([connectAs(target, db.name), connectAs(target, db.name)]);
  cleanups.push(
    () => rerun.end(),
    () => leftover.end(),
  );
  for (const c of [rerun, leftover]) await c.query(`SET application_name = 'database-replicator'`);
  await leftover.query('CREATE TABLE t (id int NOT NULL)');
  // A build that takes a second, as an orphaned pg_restore's would.
  const build = leftover.query('SELECT pg_sleep(1); CREATE UNIQUE INDEX t_id ON t (id)').then(
    () => 'built',
    (error: Error) => error.message,
  );
  await new Promise((r) => setTimeout(r, 100));
  const indexes = async () =>
    (await rerun.query(`SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 't_id'`)).rows[0].n as number;
  return { rerun, build, indexes };
}

describe('leftover sessions of a killed run', () => {
  it('are waited for, and what they build is kept', async () => {
    const { rerun, build, indexes } = await sessions('leftover_wait');
    const waited: number[] = [];
    const started = Date.now();
    await endLeftoverSessions(rerun, { waitMs: 30_000, onWait: (n) => waited.push(n) });
    expect(waited).toEqual([1]);
    // Waited for the build, not for the whole allowance (the session, idle after it, is ended).
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await build).toBe('built');
    expect(await indexes()).toBe(1);
  });

  it('are ended once the wait is over, leaving nothing half built', async () => {
    const { rerun, build, indexes } = await sessions('leftover_end');
    const ended = await endLeftoverSessions(rerun, { waitMs: 200 });
    expect(ended).toBe(1);
    expect(await build).toMatch(/terminat/);
    expect(await indexes()).toBe(0);
  });
});
