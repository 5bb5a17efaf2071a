import type pg from 'pg';
import { readServerFacts } from '../catalog/server.ts';
import { isTerminal, type JobStore } from '../jobs/index.ts';
import {
  NO_SUBSCRIPTION,
  readSlotStatus,
  readSubscriptionStatus,
  type SubscriptionStatus,
} from '../replication/status.ts';
import { toReading, type ReplicationReading } from './readings.ts';
import {
  dropRetainingSlot,
  overHardLimit,
  slotDroppedReason,
  unconsumedGrowth,
  walRetentionWarning,
  type GuardCommands,
  type PreviousReading,
} from './wal-guard.ts';

// One round of the monitor over a job: per database, read the slot and the subscription, judge the
// retained WAL, and (opt-in) drop a slot past the hard limit, recording why in the job record. The
// caller publishes the readings (lambdas/monitor-replication.ts) or shows them (status).

export interface MonitoredDatabase {
  database: string;
  /** The target database when it differs from the source's. */
  targetDatabase?: string;
  slot: string;
  subscription: string;
}

export interface MonitoredJob {
  jobId: string;
  databases: MonitoredDatabase[];
  /** Drop a slot whose retained WAL passes this many GiB (opt-in; left out, never). */
  maxRetainedWalGb?: number;
  /** What the warning and the record tell the operator to run. */
  commands: GuardCommands;
}

/** The previous reading of each slot, by `jobId/database`: kept by a long-lived caller so growth can be told. */
export type ReadingHistory = Map<string, PreviousReading>;

export interface MonitorDependencies {
  openSource: (database: string) => Promise<pg.Client>;
  openTarget: (database: string) => Promise<pg.Client>;
  /** Where a dropped slot is recorded; left out, nothing is recorded. */
  store?: JobStore;
  now?: () => Date;
  history?: ReadingHistory;
}

export interface DatabaseReport {
  database: string;
  reading?: ReplicationReading;
  /** WAL retained since the previous reading while nothing consumed the slot (undefined without one). */
  unconsumedGrowthBytes?: number;
  /** The guard's sentence when the slot's WAL grows and nothing consumes it. */
  warning?: string;
  /** Set when the guard dropped the slot: why, as recorded in the job record. */
  slotDropped?: string;
  /** The target could not be read; the slot still was (the source's disk is what the guard protects). */
  targetError?: string;
  /** The source could not be read: nothing is known of this database this round. */
  error?: string;
}

export interface MonitorReport {
  jobId: string;
  at: string;
  databases: DatabaseReport[];
}

export const GUARD_STEP = 'WAL-retention guard';
const UNREAD: SubscriptionStatus = { ...NO_SUBSCRIPTION, tables: {} };

export async function monitorJob(job: MonitoredJob, deps: MonitorDependencies): Promise<MonitorReport> {
  const now = deps.now ?? (() => new Date());
  const at = now();
  const databases: DatabaseReport[] = [];
  for (const db of job.databases) databases.push(await monitorDatabase(job, db, deps, now));
  return { jobId: job.jobId, at: at.toISOString(), databases };
}

async function monitorDatabase(
  job: MonitoredJob,
  db: MonitoredDatabase,
  deps: MonitorDependencies,
  now: () => Date,
): Promise<DatabaseReport> {
  const targetDatabase = db.targetDatabase ?? db.database;
  let source: pg.Client;
  try {
    source = await deps.openSource(db.database);
  } catch (error) {
    return { database: db.database, error: (error as Error).message };
  }
  const target = await deps.openTarget(targetDatabase).catch((error: unknown) => error as Error);
  try {
    const slot = await readSlotStatus(source, db.slot);
    let subscription = UNREAD;
    let targetError: string | undefined = target instanceof Error ? target.message : undefined;
    if (!(target instanceof Error)) {
      try {
        subscription = await readSubscriptionStatus(target, db.subscription, (await readServerFacts(target)).major);
      } catch (error) {
        targetError = (error as Error).message;
      }
    }
    const reading = toReading(
      { database: db.database, targetDatabase, slot: db.slot, subscription: db.subscription },
      slot,
      subscription,
      now(),
    );
    const key = `${job.jobId}/${db.database}`;
    const previous = deps.history?.get(key);
    deps.history?.set(key, reading);
    const growth = unconsumedGrowth(reading, previous);
    const report: DatabaseReport = {
      database: db.database,
      reading,
      ...(growth !== undefined ? { unconsumedGrowthBytes: growth } : {}),
      ...(targetError ? { targetError } : {}),
    };
    // Without the target the guard cannot tell whether a subscription is merely slow: it warns on the slot alone.
    const warning = walRetentionWarning(reading, previous, job.commands);
    if (warning) report.warning = warning;
    if (overHardLimit(reading, job.maxRetainedWalGb)) {
      const reason = slotDroppedReason(reading, job.maxRetainedWalGb!, job.commands);
      if (await dropRetainingSlot(source, target instanceof Error ? undefined : target, db)) {
        report.slotDropped = reason;
        deps.history?.delete(key);
        if (deps.store) await recordDroppedSlot(deps.store, job.jobId, db.database, reason, reading.at, now());
      }
    }
    return report;
  } finally {
    await Promise.all([source, target].map((c) => (c instanceof Error ? undefined : c.end().catch(() => undefined))));
  }
}

/**
 * A step of the job, whatever its state (a finished job's record still takes steps), and, while the job
 * runs, the database and the job marked FAILED with the reason: nothing replicates that database any more.
 */
export async function recordDroppedSlot(
  store: JobStore,
  jobId: string,
  database: string,
  reason: string,
  startedAt: string,
  endedAt: Date,
): Promise<void> {
  await store.putStep({
    jobId,
    step: GUARD_STEP,
    database,
    state: 'FAILED',
    startedAt,
    endedAt: endedAt.toISOString(),
    detail: reason,
  });
  const record = await store.getJob(jobId);
  if (!record || isTerminal(record.state)) return;
  const { updatedAt: _updatedAt, ...progress } = record.databases[database] ?? {
    tablesDone: 0,
    tablesTotal: 0,
    rowsCopied: 0,
    bytesCopied: 0,
    updatedAt: '',
  };
  const phase = `${GUARD_STEP} dropped the slot`;
  await store.updateDatabaseProgress(jobId, database, { ...progress, state: 'FAILED', phase, error: reason });
  if (record.state === 'RUNNING' || record.state === 'PENDING')
    await store.transition(jobId, 'FAILED', { phase: `${phase} of ${database}`, error: reason });
}
