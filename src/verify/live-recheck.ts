// While replication streams, a difference may be a change in flight: the verdict waits for the target
// to catch up and looks again, and says so when replication does not keep up.
import type pg from 'pg';
import { committedWalEnd } from '../catalog/wal.ts';
import type { KeyRange } from './chunks.ts';
import { recheckRows } from './recheck.ts';
import { bisect, sameSummary, summarizeBoth, type RowDiff, type Sides, type TableToVerify } from './table.ts';
import type { TableResult } from './verify.ts';

/** A table being compared: its result so far, the key ranges that differ, and how it is read. */
export type Working = TableResult & { mismatched: KeyRange[]; verify: TableToVerify; started: number };

export interface LiveRecheck {
  streaming: boolean;
  maxDiffs: number;
  /** Waits for the target to apply what the source has committed; false once a wait ran out. */
  catchUp: () => Promise<boolean>;
  stalled: () => boolean;
  stalledNote: string;
}

/**
 * One wait that runs out means replication is not keeping up: every later re-check would wait as
 * long again for nothing, so the rest report at once and the database says so.
 */
export function liveRecheck(
  source: pg.Client,
  streaming: boolean,
  slot: string | undefined,
  req: { maxDiffs: number; recheckTimeoutMs: number },
): LiveRecheck {
  let stalled = false;
  return {
    streaming,
    maxDiffs: req.maxDiffs,
    catchUp: async () => {
      if (stalled) return false;
      stalled = !(await waitForCatchUp(source, slot!, req.recheckTimeoutMs));
      return !stalled;
    },
    stalled: () => stalled,
    stalledNote: `the target did not catch up with the source within ${req.recheckTimeoutMs / 1000} s: replication looks broken (see status); run verify again once it streams`,
  };
}

/** A table without a key is summarized again, whole, after the target caught up. */
export async function settleKeyless(first: Sides, r: Working, live: LiveRecheck): Promise<void> {
  for (let attempt = 0; live.streaming && attempt < 3 && r.mismatched.length; attempt++) {
    if (!(await live.catchUp())) break;
    const [s, t] = await summarizeBoth(first, r.verify, null);
    if (sameSummary(s, t)) r.mismatched = [];
  }
  if (!r.mismatched.length) r.status = 'ok';
  else if (live.streaming) {
    // Without a key there is no row to re-read at a known position: under steady writes the whole
    // table never holds still on both sides at once. Say so instead of claiming a difference.
    r.status = 'unconfirmed';
    r.note = live.stalled()
      ? `no primary key; ${live.stalledNote}`
      : 'no primary key, and the table changed during every re-check: run verify again when writes pause, or after cutover';
  } else r.note = 'no primary key: the rows differ as a whole, but cannot be pinpointed';
}

/** A keyed table's differing ranges narrowed to rows; while replication streams, each is re-checked. */
export async function settleKeyed(first: Sides, r: Working, live: LiveRecheck): Promise<void> {
  // While replication streams, in-flight rows look different too: collect more suspects than will be shown.
  const budget = live.streaming ? Math.max(live.maxDiffs * 50, 10_000) : live.maxDiffs;
  let suspects: RowDiff[] = [];
  for (const range of r.mismatched) {
    if (suspects.length >= budget) break;
    suspects.push(...(await bisect(first, r.verify, range, budget - suspects.length)));
  }
  let changing: RowDiff[] = [];
  if (live.streaming) {
    const rechecked = await recheckRows(first, r.verify, suspects, 5, live.catchUp);
    suspects = rechecked.different;
    changing = rechecked.changing;
  }
  r.diffs = suspects.slice(0, live.maxDiffs);
  if (changing.length) r.unconfirmedRows = changing.slice(0, live.maxDiffs);
  if (changing.length && !suspects.length) {
    r.note = `${changing.length} row(s) kept changing on the source while they were re-checked, so they could be neither confirmed nor called different: run verify again when writes pause, or after cutover`;
  }
  if (live.stalled() && suspects.length) r.note = live.stalledNote;
  if (suspects.length === 0) {
    r.status = changing.length ? 'unconfirmed' : 'ok';
    r.mismatched = [];
  }
}

/** Waits until the target has applied everything the source had committed when called (live replication). */
async function waitForCatchUp(source: pg.Client, slot: string, timeoutMs: number): Promise<boolean> {
  const lsn = await committedWalEnd(source);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await source.query<{ done: boolean | null }>(
      'SELECT confirmed_flush_lsn >= $2::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = $1',
      [slot, lsn],
    );
    if (r.rows[0]?.done) return true;
    if (Date.now() > deadline) return false;
    await new Promise((res) => setTimeout(res, 200));
  }
}
