import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../catalog/ident.ts';
import type { TlsPolicy } from '../connection/tls.ts';
import type { ConnectionSpec } from '../connection/url.ts';
import type { DatabasePlan, TablePlan } from '../plan/plan.ts';
import {
  appliedPoint,
  HandOffError,
  dropSubscriptionKeepSlot,
  publicationMembers,
  settledPoint,
  stopSubscription,
  subscriptionTables,
  waitForSlotConfirmed,
} from '../replication/hand-off.ts';
import { publicationTableList as tableList } from '../catalog/publishable.ts';
import { createPublication, dropPublication } from '../replication/publication.ts';
import { createSlotWithSnapshot, dropSlot } from '../replication/slot.ts';
import { createSubscriptionAtSlot, dropSubscription, subscriptionExists } from '../replication/subscription.ts';
import { copyTasks } from './copy.ts';
import { faultPoint } from './fault-points.ts';
import { readSequenceValues, type SequenceValue } from '../catalog/sequences.ts';
import type { DatabaseCheckpoint, ResumeRecord } from '../jobs/checkpoint.ts';
import { CopyProgressTracker, type CopyProgress } from './table-copies.ts';
import { copyInSnapshot } from './workers.ts';

/** Smaller tables are not worth a split: each range scans the table's pages from its own start. */
const MIN_SPLIT_BYTES = 64 * 1024 * 1024;

export interface ResumeRun {
  /** A session on the source database, outside any transaction. */
  source: pg.Client;
  target: pg.Client;
  plan: DatabasePlan;
  db: DatabaseCheckpoint;
  save: () => Promise<void>;
  log: (line: string) => void;
  copy: {
    source: ConnectionSpec;
    target: ConnectionSpec;
    tls: TlsPolicy;
    jobs: number;
    binary: boolean;
    splitBytes: number;
    sourceMajor: number;
  };
  subscriptionConninfo: string;
  /** The name of the second slot, publication and subscription. */
  secondName: string;
  /**
   * Builds these tables' own indexes and keys, skipping those the target has: the apply worker finds rows
   * by them. Of tables `copiedAgain`, the unique keys are built (the apply worker and foreign keys need
   * them) and the other indexes started, to run beside the hand-off.
   */
  buildOwnEntries: (tables: string[], options?: { copiedAgain?: boolean }) => Promise<void>;
  /** Copies the large objects in the second snapshot, on the first copy session and its target session. */
  inSnapshot: (source: pg.Client, target: pg.Client) => Promise<void>;
  /** Called with the sequence values read in the second snapshot. */
  onSequences: (values: SequenceValue[]) => void;
  /** The copy's progress, as a first copy reports it (bars, job record), from what the stopped run committed. */
  onProgress?: (progress: CopyProgress) => void;
  timeoutMs: number;
}

/** Copy units not committed on the target yet, by the table they belong to. */
export function unfinishedTables(plan: DatabasePlan, state: DatabaseCheckpoint): TablePlan[] {
  return plan.tables.filter((t) => t.mode === 'data' && !(`${t.schema}.${t.name}` in state.copied));
}

/** The unfinished tables widened to whole published tables: a partitioned table is copied again whole. */
function resumeRecord(plan: DatabasePlan, db: DatabaseCheckpoint, name: string): ResumeRecord {
  const roots = new Set(
    unfinishedTables(plan, db)
      .filter((t) => !t.unlogged)
      .map((t) => `${t.publishedAs.schema}.${t.publishedAs.name}`),
  );
  const published = plan.publication
    .filter((p) => roots.has(`${p.schema}.${p.name}`))
    .map((p) => ({ schema: p.schema, name: p.name, rowFilter: p.rowFilter }));
  const tables = plan.tables
    .filter((t) => t.mode === 'data' && !t.unlogged && roots.has(`${t.publishedAs.schema}.${t.publishedAs.name}`))
    .map((t) => `${t.schema}.${t.name}`);
  return { tables, published, name, copied: {} };
}

/**
 * Finishes an interrupted copy at the cost of the unfinished tables alone. The tables already copied
 * are exact as of the job's slot; the rest is copied again (binary, in parallel, indexes after) under
 * the snapshot of a second slot, whose own subscription streams their changes. A publication change
 * on the source then moves those tables from the second stream to the first at one WAL position, and
 * once the second stream has applied everything before it, the job's subscription takes every table
 * from where it stopped. Nothing is applied twice or missed: at any position each table's changes
 * travel through exactly one of the two streams.
 *
 * Every step checks the servers, not only the record, so a resume stopped anywhere can run again.
 */
export async function resumeWithSecondSlot(run: ResumeRun): Promise<{ recopied: string[] }> {
  const { source, target, db, save, log } = run;
  const main = db.slot;
  const second = run.secondName;
  const r = (db.resume ??= resumeRecord(run.plan, db, second));
  await save();
  const keys = new Set(r.published.map((p) => `${p.schema}.${p.name}`));
  const recopied = r.published.map((p) => `${p.schema}.${p.name}`);
  // Every table was copied before the stop (it came during post-data): all are exact as of the job's slot.
  if (r.handedOff || keys.size === 0) return { recopied };

  const mainTables = await subscriptionTables(target, main);
  const joined = keys.size > 0 && [...keys].every((k) => mainTables.has(k));
  if (joined) {
    // Stopped while the job's subscription was being made again: it may lack its starting point.
    await startAt(target, main, r.handoffAt);
  } else {
    // Before the first step the tables are in the job's publication too: only the record tells them apart.
    const switched = r.leftPublicationAt !== undefined && (await switchDone(source, db.publication, second, keys));
    if (!switched) {
      // 1. The unfinished tables leave the job's publication. Beside it (2.), they are copied under a
      //    second slot's snapshot.
      const leaveFirstStream = async () => {
        if (await subscriptionExists(target, main)) return;
        const members = await publicationMembers(source, db.publication);
        const leaving = r.published.filter((p) => members.has(`${p.schema}.${p.name}`));
        if (leaving.length)
          await source.query(
            `ALTER PUBLICATION ${quoteIdent(db.publication)} DROP TABLE ${leaving.map((p) => qualifiedName(p.schema, p.name)).join(', ')}`,
          );
        r.leftPublicationAt = await settledPoint(source, run.timeoutMs);
        await save();
        faultPoint('resume:left-publication');
      };
      // 3. The copied tables stream from the job's slot once their keys are in: the apply worker finds
      //    the rows an UPDATE or DELETE changes by them.
      const streamCopied = async () => {
        if (await subscriptionExists(target, main)) return;
        await run.buildOwnEntries(Object.keys(db.copied).filter((k) => !r.tables.includes(k)));
        await createSubscriptionAtSlot(target, {
          name: main,
          conninfo: run.subscriptionConninfo,
          publication: db.publication,
          slot: main,
          consistentPoint: db.consistentPoint!,
          binary: run.copy.binary,
        });
        db.subscription = main;
        await save();
        faultPoint('resume:main-subscription');
      };
      log(
        `${run.plan.source}: the ${Object.keys(db.copied).length} table(s) already copied stream from slot ${main}; copying ${r.tables.length} table(s) again under a new snapshot`,
      );
      // Both share the two sessions (pg queues their statements); the long work runs on sessions of its own.
      await Promise.all([leaveFirstStream(), r.copyDone ? undefined : copyUnderSecondSlot(run, r)]);
      // The builds come after the copy, which keeps every core busy: beside it they only slowed it down.
      // The tables copied again get only their unique keys before the hand-off (the apply worker needs
      // nothing else), so their other indexes, often the longest builds, do not hold it up.
      await Promise.all([streamCopied(), run.buildOwnEntries(r.tables, { copiedAgain: true })]);
      faultPoint('resume:indexes');
      if (!(await subscriptionExists(target, second))) {
        await createSubscriptionAtSlot(target, {
          name: second,
          conninfo: run.subscriptionConninfo,
          publication: second,
          slot: second,
          consistentPoint: r.snapshotPoint!,
          binary: run.copy.binary,
        });
        faultPoint('resume:second-subscription');
      }

      // 4. The job's subscription stops, past every change the unfinished tables had before leaving its publication.
      await target.query(`ALTER SUBSCRIPTION ${quoteIdent(main)} ENABLE`);
      await waitForSlotConfirmed(source, main, r.leftPublicationAt!, run.timeoutMs);
      await stopSubscription(target, main, run.timeoutMs);
      faultPoint('resume:main-stopped');
      // 5. One transaction moves the tables from the second publication back to the job's.
      await source.query('BEGIN');
      try {
        await source.query(`ALTER PUBLICATION ${quoteIdent(db.publication)} ADD TABLE ${tableList(r.published)}`);
        await source.query(
          `ALTER PUBLICATION ${quoteIdent(second)} DROP TABLE ${r.published.map((p) => qualifiedName(p.schema, p.name)).join(', ')}`,
        );
        await source.query('COMMIT');
      } catch (error) {
        await source.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      faultPoint('resume:switched');
    }
    r.switchedAt ??= await settledPoint(source, run.timeoutMs);
    await save();

    // 6. The second stream applies everything before the switch, then goes.
    if (await subscriptionExists(target, second)) {
      await waitForSlotConfirmed(source, second, r.switchedAt, run.timeoutMs);
      await dropSubscription(target, second);
    }
    await dropSlot(source, second);
    await dropPublication(source, second);
    faultPoint('resume:second-dropped');

    // 7. The job's subscription again, now for every table, from where it stopped.
    if (await subscriptionExists(target, main)) {
      r.handoffAt ??= await appliedPoint(source, target, main, main);
      await save();
      await dropSubscriptionKeepSlot(target, main);
      faultPoint('resume:main-dropped');
    }
    if (!r.handoffAt)
      throw new HandOffError(
        `The job's subscription ${main} is gone and the record lacks where it stopped; run cleanup and init again.`,
      );
    await createSubscriptionAtSlot(target, {
      name: main,
      conninfo: run.subscriptionConninfo,
      publication: db.publication,
      slot: main,
      consistentPoint: r.handoffAt,
      binary: run.copy.binary,
    });
  }
  r.handedOff = true;
  db.subscription = main;
  await save();
  log(`${run.plan.source}: every table streams from slot ${main} again`);
  return { recopied };
}

/** Enables a subscription made again at a hand-off, first moving its origin to `point` if a stop left it behind. */
async function startAt(target: pg.Client, subscription: string, point: string | undefined): Promise<void> {
  const { rows } = await target.query<{ enabled: boolean; behind: boolean | null }>(
    `SELECT subenabled AS enabled, coalesce(pg_replication_origin_progress('pg_' || oid, false) < $2::pg_lsn, true) AS behind FROM pg_subscription WHERE subname = $1`,
    [subscription, point ?? '0/0'],
  );
  if (!rows[0] || rows[0].enabled) return;
  if (point && rows[0].behind)
    await target.query(
      `SELECT pg_replication_origin_advance('pg_' || oid, $2::pg_lsn) FROM pg_subscription WHERE subname = $1`,
      [subscription, point],
    );
  await target.query(`ALTER SUBSCRIPTION ${quoteIdent(subscription)} ENABLE`);
}

async function switchDone(source: pg.Client, publication: string, second: string, keys: Set<string>): Promise<boolean> {
  const inMain = await publicationMembers(source, publication);
  const inSecond = await publicationMembers(source, second);
  return [...keys].every((k) => inMain.has(k) && !inSecond.has(k));
}

async function copyUnderSecondSlot(run: ResumeRun, r: ResumeRecord): Promise<void> {
  const { source, target, db, save } = run;
  // A second slot of an earlier attempt lost its snapshot with it: start that part over.
  await dropSubscription(target, r.name);
  await dropSlot(source, r.name);
  await dropPublication(source, r.name);
  // Publication first, then the slot: decoding reads publication membership as of each change.
  await createPublication(source, r.name, r.published, run.copy.sourceMajor);
  const exported = await createSlotWithSnapshot(
    run.copy.source,
    { role: 'source', ...run.copy.tls },
    r.name,
    run.copy.sourceMajor,
  );
  r.snapshotPoint = exported.consistentPoint;
  r.copied = {};
  await save();
  faultPoint('resume:second-slot');
  try {
    const leaves = run.plan.tables.filter((t) => r.tables.includes(`${t.schema}.${t.name}`));
    await emptyTables(target, leaves);
    // What is left is often one big table that a first copy ran beside others: split it over every job.
    const left = leaves.reduce((n, t) => n + t.bytes, 0);
    const splitBytes = Math.min(run.copy.splitBytes, Math.max(MIN_SPLIT_BYTES, Math.ceil(left / run.copy.jobs)));
    let sequences: SequenceValue[] = [];
    const tasks = copyTasks(leaves, splitBytes);
    const kept = Object.entries(db.copied).filter(([k]) => !r.tables.includes(k));
    const progress = new CopyProgressTracker(run.plan.source, tasks, run.onProgress, {
      tables: kept.length,
      rows: kept.reduce((n, [, t]) => n + t.rows, 0),
      bytes: kept.reduce((n, [, t]) => n + t.bytes, 0),
    });
    await copyInSnapshot({
      source: run.copy.source,
      target: run.copy.target,
      tls: run.copy.tls,
      snapshotName: exported.snapshotName,
      jobs: run.copy.jobs,
      tasks,
      binary: run.copy.binary,
      onTaskStart: (task) => progress.started(task),
      onBytes: (n, task, rows) => progress.read(task, n, rows),
      onSnapshotImported: exported.release,
      inSnapshot: async (s, t) => {
        sequences = await readSequenceValues(s);
        await run.inSnapshot(s, t);
      },
      onTaskDone: (task, result) => {
        // The ranges of a split table add up under the table's key.
        const key = `${task.table.schema}.${task.table.name}`;
        const sum = r.copied[key] ?? { rows: 0, bytes: 0, seconds: 0 };
        r.copied[key] = {
          rows: sum.rows + result.rows,
          bytes: sum.bytes + result.bytes,
          seconds: sum.seconds + result.seconds,
        };
        progress.done(task, result);
        // Told once recorded: what a reader sees is never ahead of the checkpoint.
        void save().then(
          () => progress.announce(task, result),
          () => undefined,
        );
        faultPoint('resume:table-copied');
      },
    });
    run.onSequences(sequences);
  } finally {
    await exported.release();
  }
  r.copyDone = true;
  for (const key of r.tables) db.copied[key] ??= r.copied[key] ?? { rows: 0, bytes: 0, seconds: 0 };
  await save();
  faultPoint('resume:copied');
}

/**
 * Empties tables about to be copied again (an interrupted split table holds some of its ranges).
 * A foreign key pointing at one would stop TRUNCATE; it goes, and post-data builds it again once
 * every table streams from one slot.
 */
async function emptyTables(target: pg.Client, tables: TablePlan[]): Promise<void> {
  if (tables.length === 0) return;
  const names = [
    ...new Set([
      ...tables.map((t) => qualifiedName(t.schema, t.name)),
      ...tables.map((t) => qualifiedName(t.publishedAs.schema, t.publishedAs.name)),
    ]),
  ];
  const { rows } = await target.query<{ tbl: string; conname: string }>(
    `SELECT conrelid::regclass::text AS tbl, conname FROM pg_constraint WHERE contype = 'f' AND conparentid = 0 AND confrelid = ANY($1::regclass[])`,
    [names],
  );
  for (const fk of rows) await target.query(`ALTER TABLE ${fk.tbl} DROP CONSTRAINT ${quoteIdent(fk.conname)}`);
  await target.query(`TRUNCATE ${tables.map((t) => qualifiedName(t.schema, t.name)).join(', ')}`);
}
