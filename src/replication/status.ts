import type pg from 'pg';
import type { DriftFinding } from '../drift/types.ts';

export interface SlotStatus {
  exists: boolean;
  active: boolean;
  walStatus: string | null;
  safeWalSize: number | null;
  /** WAL the slot keeps on the source's disk. */
  retainedBytes: number;
  /** WAL written on the source that the subscriber has not confirmed yet. */
  lagBytes: number;
  currentLsn: string;
  confirmedFlushLsn: string | null;
}

export interface SubscriptionStatus {
  exists: boolean;
  enabled: boolean;
  workerRunning: boolean;
  receivedLsn: string | null;
  latestEndLsn: string | null;
  lastMessageAt: string | null;
  lagSeconds: number | null;
  tables: Record<string, string>;
  applyErrors: number | null;
  syncErrors: number | null;
  /** Seconds since the running apply worker started: a worker that keeps failing is always young. */
  workerAgeSeconds: number | null;
}

/** A subscription that does not exist (or could not be read): nothing known of it. */
export const NO_SUBSCRIPTION: Readonly<SubscriptionStatus> = {
  exists: false,
  enabled: false,
  workerRunning: false,
  receivedLsn: null,
  latestEndLsn: null,
  lastMessageAt: null,
  lagSeconds: null,
  tables: {},
  applyErrors: null,
  syncErrors: null,
  workerAgeSeconds: null,
};

export type Verdict = 'initializing' | 'catching up' | 'in sync' | 'broken';

export interface DatabaseStatus {
  database: string;
  target: string;
  slot: SlotStatus;
  subscription: SubscriptionStatus;
  verdict: Verdict;
  reason: string;
  /** A slot nobody consumes keeps WAL until the disk fills. */
  diskRisk: boolean;
  /** The job's slot and subscription names in this database. */
  names?: { slot: string; subscription: string };
  /** init has not finished for this database; `initRunning`: an init of the job is at work on it now. */
  initUnfinished?: boolean;
  initRunning?: boolean;
  /** Schema differences between the published tables on both sides, and tables nothing replicates (src/drift). */
  drift: DriftFinding[];
}

export async function readSlotStatus(source: pg.Client, slot: string): Promise<SlotStatus> {
  const { rows } = await source.query<{
    current: string;
    active: boolean | null;
    wal_status: string | null;
    safe: string | null;
    retained: string | null;
    lag: string | null;
    confirmed: string | null;
    found: boolean;
  }>(
    `SELECT pg_current_wal_lsn()::text AS current, s.active, s.wal_status, s.safe_wal_size::text AS safe,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint::text AS retained,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint::text AS lag,
            s.confirmed_flush_lsn::text AS confirmed, s.slot_name IS NOT NULL AS found
       FROM (SELECT 1) one LEFT JOIN pg_replication_slots s ON s.slot_name = $1`,
    [slot],
  );
  const r = rows[0]!;
  return {
    exists: r.found,
    active: r.active ?? false,
    walStatus: r.wal_status,
    safeWalSize: r.safe === null ? null : Number(r.safe),
    retainedBytes: Number(r.retained ?? 0),
    lagBytes: Math.max(0, Number(r.lag ?? 0)),
    currentLsn: r.current,
    confirmedFlushLsn: r.confirmed,
  };
}

export async function readSubscriptionStatus(
  target: pg.Client,
  name: string,
  major: number,
): Promise<SubscriptionStatus> {
  const sub = await target.query<{
    enabled: boolean;
    pid: number | null;
    received: string | null;
    latest: string | null;
    last_msg: string | null;
    lag_seconds: string | null;
    worker_age: string | null;
  }>(
    `SELECT s.subenabled AS enabled, st.pid, st.received_lsn::text AS received, st.latest_end_lsn::text AS latest,
            st.last_msg_receipt_time::text AS last_msg,
            EXTRACT(EPOCH FROM now() - st.latest_end_time)::text AS lag_seconds,
            -- A worker that has just started may not be in pg_stat_activity yet: it counts as brand new.
            CASE WHEN st.pid IS NOT NULL THEN COALESCE(EXTRACT(EPOCH FROM now() - a.backend_start), 0)::text END AS worker_age
       FROM pg_subscription s LEFT JOIN pg_stat_subscription st ON st.subid = s.oid AND st.relid IS NULL
       LEFT JOIN pg_stat_activity a ON a.pid = st.pid
      WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [name],
  );
  if (sub.rowCount === 0) {
    return { ...NO_SUBSCRIPTION, tables: {} };
  }
  const s = sub.rows[0]!;
  const rels = await target.query<{ rel: string; state: string }>(
    `SELECT r.srrelid::regclass::text AS rel, r.srsubstate AS state FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = $1 ORDER BY 1`,
    [name],
  );
  const states: Record<string, string> = {
    i: 'initializing',
    d: 'copying',
    f: 'copied',
    s: 'synchronized',
    r: 'ready',
  };
  let applyErrors: number | null = null;
  let syncErrors: number | null = null;
  if (major >= 15) {
    const stats = await target.query<{ apply: string; sync: string }>(
      'SELECT apply_error_count::text AS apply, sync_error_count::text AS sync FROM pg_stat_subscription_stats WHERE subname = $1',
      [name],
    );
    applyErrors = Number(stats.rows[0]?.apply ?? 0);
    syncErrors = Number(stats.rows[0]?.sync ?? 0);
  }
  return {
    exists: true,
    enabled: s.enabled,
    workerRunning: s.pid !== null,
    receivedLsn: s.received,
    latestEndLsn: s.latest,
    lastMessageAt: s.last_msg,
    lagSeconds: s.lag_seconds === null ? null : Number(s.lag_seconds),
    tables: Object.fromEntries(rels.rows.map((r) => [r.rel, states[r.state] ?? r.state])),
    applyErrors,
    syncErrors,
    workerAgeSeconds: s.worker_age === null ? null : Number(s.worker_age),
  };
}

/**
 * An apply worker that fails restarts every wal_retrieve_retry_interval (5 s by default): one with apply
 * errors on record that started less than this long ago is failing now, whatever the lag says.
 */
export const FAILING_WORKER_SECONDS = 15;

/** Below this many bytes of unconfirmed WAL a database counts as in sync (keepalives trail the last few records). */
export const IN_SYNC_BYTES = 1024 * 1024;

/** The one-line verdict: what an operator needs to know first. */
export function judge(
  slot: SlotStatus,
  subscription: SubscriptionStatus,
  subscribed: boolean,
): { verdict: Verdict; reason: string; diskRisk: boolean } {
  const diskRisk = slot.exists && !slot.active;
  if (!slot.exists)
    return {
      verdict: 'broken',
      reason:
        'the replication slot is missing on the source; changes since it was dropped are lost: run cleanup and init again',
      diskRisk: false,
    };
  if (slot.walStatus === 'lost')
    return {
      verdict: 'broken',
      reason: 'the slot lost WAL it needed (max_slot_wal_keep_size); run cleanup and init again',
      diskRisk,
    };
  if (!subscription.exists) {
    if (subscribed)
      return { verdict: 'broken', reason: 'the subscription is missing on the target; run sync again', diskRisk };
    return {
      verdict: 'initializing',
      reason: `init is done and the slot waits for sync, retaining ${slot.retainedBytes} bytes of WAL`,
      diskRisk,
    };
  }
  if (!subscription.enabled)
    return {
      verdict: 'broken',
      reason: 'the subscription is disabled (ALTER SUBSCRIPTION ... ENABLE, or an error with disable_on_error)',
      diskRisk,
    };
  if (!subscription.workerRunning) {
    const errors = subscription.applyErrors
      ? `; ${subscription.applyErrors} apply error(s), see the target's server log`
      : '';
    return {
      verdict: 'broken',
      reason: `no apply worker is running on the target (it may not reach the source: check the source's security group, public accessibility or peering)${errors}`,
      diskRisk,
    };
  }
  if (
    subscription.applyErrors &&
    subscription.workerAgeSeconds !== null &&
    subscription.workerAgeSeconds < FAILING_WORKER_SECONDS
  ) {
    return {
      verdict: 'broken',
      reason: `the apply worker keeps failing (${subscription.applyErrors} apply error(s), restarted ${Math.round(subscription.workerAgeSeconds)} s ago): see the target's server log for the error`,
      diskRisk,
    };
  }
  const pending = Object.entries(subscription.tables).filter(([, s]) => s !== 'ready');
  if (pending.length)
    return { verdict: 'initializing', reason: `${pending.length} table(s) still synchronizing`, diskRisk };
  if (slot.lagBytes > IN_SYNC_BYTES)
    return { verdict: 'catching up', reason: `${slot.lagBytes} bytes behind the source`, diskRisk };
  return { verdict: 'in sync', reason: `${slot.lagBytes} bytes behind`, diskRisk };
}
