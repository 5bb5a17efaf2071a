// A rerun of an init that stopped during its copy: what was committed stays, the rest is copied again
// under a second slot's snapshot (resume.ts) and joined to the job's one stream.
import { existsSync } from 'node:fs';
import type pg from 'pg';
import { qualifiedName } from '../catalog/ident.ts';
import { withDatabase } from '../connection/url.ts';
import { resumeObjectName } from '../jobs/naming.ts';
import type { DatabasePlan } from '../plan/plan.ts';
import { slotExists } from '../replication/slot.ts';
import { subscriptionConninfo } from '../replication/subscription.ts';
import { compareTable } from '../drift/compare.ts';
import { readTableDefinitions, tableKey } from '../drift/definitions.ts';
import { copyTasks } from './copy.ts';
import { settleLeftoverSessions } from './leftover-sessions.ts';
import { analyzeTable } from './finish.ts';
import type { DatabaseSteps } from './database-run.ts';
import { copyLargeObjects } from './objects.ts';
import { entriesByTable, readArchiveEntries, type ArchiveEntry } from './post-data.ts';
import { entriesOnTarget, restoreEntries, restoreMissingEntries } from './post-data-present.ts';
import { resumeWithSecondSlot, unfinishedTables } from './resume.ts';
import { copyPreDataSchema, dumpPostDataSchema } from './schema.ts';
import type { StepScope } from './steps.ts';
import { copyInSnapshot } from './workers.ts';

/** The job's slot is gone: the copy can no longer be finished consistently. */
export class ResumeImpossibleError extends Error {
  override name = 'ResumeImpossibleError';
}

/** The source's schema changed since init began in a way the copy or the stream cannot take. */
export class ResumeSchemaChangedError extends Error {
  override name = 'ResumeSchemaChangedError';
}

/**
 * The application's migrations may change a table between the stopped run and this one. A column the
 * target lacks would fail the copy of an unfinished table, and stop the apply worker on a finished
 * one while the hand-off waits for it: refuse before anything moves, with the statements that fix it.
 */
export async function refuseChangedTables(source: pg.Client, target: pg.Client, plan: DatabasePlan): Promise<void> {
  const tables = plan.tables.filter((t) => t.mode !== 'excluded');
  const [onSource, onTarget] = await Promise.all([
    readTableDefinitions(source, tables),
    readTableDefinitions(target, tables),
  ]);
  const findings = tables.flatMap((t) => {
    const [s, d] = [onSource.get(tableKey(t)), onTarget.get(tableKey(t))];
    return s && d ? compareTable(plan.source, s, d).filter((f) => f.blocksReplication) : [];
  });
  if (findings.length)
    throw new ResumeSchemaChangedError(
      `Tables of ${plan.source} changed on the source since init began, so the copy cannot resume: ${findings.map((f) => `${f.message}: ${f.statements.map((st) => `${st.on === 'source' ? '[on the source] ' : ''}${st.sql};`).join(' ')}`).join('; ')}. Run those statements on the target database ${plan.target} (after checking them), then run init again; or run cleanup, and init from the start.`,
    );
}

/** Whether the pre-data restore (one transaction) committed before the process stopped. */
async function preDataRestored(target: pg.Client, plan: DatabasePlan): Promise<boolean> {
  const tables = plan.tables.filter((t) => t.mode !== 'excluded');
  if (tables.length === 0) return false;
  const { rows } = await target.query<{ found: number }>(
    'SELECT count(to_regclass(t))::int AS found FROM unnest($1::text[]) t',
    [tables.map((t) => qualifiedName(t.schema, t.name))],
  );
  return rows[0]!.found > 0;
}

/** The slot step of a rerun: the job's slot must still be there, at the consistent point the copy ends at. */
export async function checkSlotKept(run: DatabaseSteps): Promise<void> {
  const { plan, db } = run;
  if (!(await slotExists(run.source, db.slot))) {
    throw new ResumeImpossibleError(
      `The slot ${db.slot} of the job for ${plan.source} is gone, so the copy cannot be resumed consistently; run cleanup and start init again.`,
    );
  }
  run.log(`${plan.source}: resuming; ${Object.keys(db.copied).length} table(s) already copied stay as they are`);
}

/** The schema step of a rerun: the snapshot is gone, the pre-data restore may have committed. */
export async function restoreSchemaAgain(run: DatabaseSteps): Promise<void> {
  const target = await run.openTarget(run.plan.target);
  try {
    // The stopped run's pre-data restore (one transaction) may still be running.
    await settleLeftoverSessions(run, target);
    if (!(await preDataRestored(target, run.plan))) await copyPreDataSchema(run.schemaOptions);
    await dumpPostDataSchema(run.schemaOptions, run.postDataFile);
  } finally {
    await target.end().catch(() => undefined);
  }
}

/**
 * The data step of a rerun: the unfinished tables copied again under a second slot's snapshot (with the
 * large objects and sequence values read in it), and every table handed to the job's one subscription.
 */
export async function resumeCopy(run: DatabaseSteps, scope: StepScope): Promise<void> {
  const { req, plan, db, save, log, source } = run;
  const target = await run.openTarget(plan.target);
  try {
    await refuseChangedTables(source, target, plan);
    if (!existsSync(run.postDataFile)) await dumpPostDataSchema(run.schemaOptions, run.postDataFile);
    const entries = await readArchiveEntries(run.schemaOptions, run.postDataFile);
    const byTable = await entriesByTable(source, entries);
    const restore = {
      schema: run.schemaOptions,
      archive: run.postDataFile,
      workDir: run.jobDir,
      source,
      target,
      jobs: req.jobs,
    };
    // Work left running while the hand-off goes on: the post-data step leaves out its entries and awaits it.
    const beside = (built: ArchiveEntry[], work: Promise<void>) => {
      const before = run.buildsUnderway;
      const done = Promise.all([before?.done, work]).then(() => undefined);
      done.catch(() => undefined); // awaited by the post-data step, or by init when a step fails first
      run.buildsUnderway = { entries: new Set([...(before?.entries ?? []), ...built.map((e) => e.dumpId)]), done };
    };
    // Biggest first: a small table's ANALYZE may wait for a foreign key being validated on it.
    const bytes = new Map(plan.tables.map((t) => [`${t.schema}.${t.name}`, t.bytes]));
    const analyze = async (tables: string[]) => {
      for (const k of [...tables].sort((a, b) => (bytes.get(b) ?? 0) - (bytes.get(a) ?? 0))) {
        await analyzeTable(run, k);
        run.analyzed.add(k);
      }
    };
    // The stopped run's builds go on meanwhile; they finish before anything is checked and built again.
    const buildOwnEntries = async (tables: string[], options: { copiedAgain?: boolean } = {}) => {
      await settleLeftoverSessions(run, target);
      const own = tables.flatMap((k) => byTable.own.get(k) ?? []);
      if (options.copiedAgain) {
        await restoreMissingEntries(
          restore,
          own.filter((e) => e.uniqueKey),
        );
        // Their other indexes, often the longest builds, go on beside the hand-off, then ANALYZE of the
        // new rows (after the indexes: an expression index gets statistics of its own).
        const others = own.filter((e) => !e.uniqueKey);
        const present = await entriesOnTarget(source, target, others);
        const pending = others.filter((e) => !present.has(e.dumpId));
        beside(
          pending,
          (pending.length ? restoreEntries(restore, pending) : Promise.resolve()).then(() => analyze(tables)),
        );
        return;
      }
      const built = new Set((await restoreMissingEntries(restore, own)).map((e) => e.dumpId));
      // A table analyzed before the stop keeps its statistics; one whose indexes are new gets them again.
      const rebuilt = tables.filter((k) => (byTable.own.get(k) ?? []).some((e) => built.has(e.dumpId)));
      for (const k of tables) if (!rebuilt.includes(k)) run.analyzed.add(k);
      beside([], analyze(rebuilt));
    };

    // Unlogged tables are not published; copy them as they are now.
    const unlogged = unfinishedTables(plan, db).filter((t) => t.unlogged);
    if (unlogged.length) {
      await target.query(`TRUNCATE ${unlogged.map((t) => qualifiedName(t.schema, t.name)).join(', ')}`);
      await copyInSnapshot({
        source: withDatabase(req.source, plan.source),
        target: withDatabase(req.target, plan.target),
        tls: req.tls,
        snapshotName: null,
        jobs: req.jobs,
        tasks: copyTasks(unlogged, 0),
        binary: run.binary,
        onSnapshotImported: async () => undefined,
        onTaskDone: (task) => (db.copied[task.key] = { rows: 0, bytes: 0, seconds: 0 }),
      });
      await save();
    }
    const { recopied } = await resumeWithSecondSlot({
      source,
      target,
      plan,
      db,
      save,
      log,
      buildOwnEntries,
      timeoutMs: req.syncTimeoutMs ?? 3_600_000,
      copy: {
        source: withDatabase(req.source, plan.source),
        target: withDatabase(req.target, plan.target),
        tls: req.tls,
        jobs: req.jobs,
        binary: run.binary,
        splitBytes: req.splitBytes,
        sourceMajor: run.sourceMajor,
      },
      subscriptionConninfo: subscriptionConninfo(withDatabase(req.source, plan.source), req.tls),
      secondName: resumeObjectName(run.jobId, plan.source),
      // Tables copied again may refer to large objects made since the first snapshot: copied in the second one too.
      inSnapshot: async (s, t) => {
        const count = await scope.within('largeObjects', () => copyLargeObjects(s, t));
        if (count) log(`${plan.source}: copied ${count} large object(s)`);
      },
      onSequences: (values) => (run.sequences = values),
      ...(req.onProgress ? { onProgress: req.onProgress } : {}),
    });
    run.recopied = recopied;
  } finally {
    await target.end().catch(() => undefined);
  }
}
