// A rerun of an init that stopped during its copy: what was committed stays, the rest is copied again
// under a second slot's snapshot (resume.ts) and joined to the job's one stream.
import { existsSync } from 'node:fs';
import type pg from 'pg';
import { qualifiedName } from '../catalog/ident.ts';
import { readSequenceValues, type SequenceValue } from '../catalog/sequences.ts';
import { withDatabase } from '../connection/url.ts';
import { resumeObjectName } from '../jobs/naming.ts';
import type { DatabasePlan } from '../plan/plan.ts';
import { slotExists } from '../replication/slot.ts';
import { subscriptionConninfo } from '../replication/subscription.ts';
import { compareTable } from '../drift/compare.ts';
import { readTableDefinitions, tableKey } from '../drift/definitions.ts';
import { copyTasks } from './copy.ts';
import { analyzeTable } from './finish.ts';
import type { DatabaseRun } from './database-run.ts';
import { applySequenceValues, copyLargeObjects } from './objects.ts';
import { entriesByTable, readArchiveEntries } from './post-data.ts';
import { restoreMissingEntries } from './post-data-present.ts';
import { resumeWithSecondSlot, unfinishedTables } from './resume.ts';
import { copyPreDataSchema, dumpPostDataSchema, type SchemaCopyOptions } from './schema.ts';
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
async function refuseChangedTables(source: pg.Client, target: pg.Client, plan: DatabasePlan): Promise<void> {
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

export async function resumeDatabase(
  run: DatabaseRun,
  source: pg.Client,
  schemaOptions: SchemaCopyOptions,
  postDataFile: string,
): Promise<string[]> {
  const { req, plan, db, save, log } = run;
  if (!(await slotExists(source, db.slot))) {
    throw new ResumeImpossibleError(
      `The slot ${db.slot} of the job for ${plan.source} is gone, so the copy cannot be resumed consistently; run cleanup and start init again.`,
    );
  }
  log(`${plan.source}: resuming; ${Object.keys(db.copied).length} table(s) already copied stay as they are`);
  const target = await run.openTarget(plan.target);
  const started = performance.now();
  try {
    if (!db.steps.schema) {
      if (!(await preDataRestored(target, plan))) await copyPreDataSchema(schemaOptions);
      await dumpPostDataSchema(schemaOptions, postDataFile);
      db.steps.schema = { seconds: 0 };
      await save();
    }
    await refuseChangedTables(source, target, plan);
    if (!existsSync(postDataFile)) await dumpPostDataSchema(schemaOptions, postDataFile);
    const entries = await readArchiveEntries(schemaOptions, postDataFile);
    const byTable = await entriesByTable(source, entries);
    const restore = {
      schema: schemaOptions,
      archive: postDataFile,
      workDir: run.jobDir,
      source,
      target,
      jobs: req.jobs,
    };
    const buildOwnEntries = async (tables: string[], options: { analyze?: boolean } = {}) => {
      const built = new Set(
        (
          await restoreMissingEntries(
            restore,
            tables.flatMap((k) => byTable.own.get(k) ?? []),
          )
        ).map((e) => e.dumpId),
      );
      // A table analyzed before the stop keeps its statistics; one whose indexes are new gets them again.
      const rebuilt = tables.filter((k) => (byTable.own.get(k) ?? []).some((e) => built.has(e.dumpId)));
      for (const k of tables) if (!rebuilt.includes(k)) run.analyzed.add(k);
      if (!options.analyze) return;
      for (const k of rebuilt) {
        await analyzeTable(run, k);
        run.analyzed.add(k);
      }
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
    let sequences: SequenceValue[] | undefined;
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
      onSequences: (values) => (sequences = values),
      ...(req.onProgress ? { onProgress: req.onProgress } : {}),
    });
    // Values read now are never behind the ones the copied rows used.
    await applySequenceValues(target, sequences ?? (await readSequenceValues(source)));
    if (!db.steps.largeObjects && !sequences) await copyLargeObjects(source, target);
    db.steps.data = { seconds: (performance.now() - started) / 1000 };
    db.steps.largeObjects ??= { seconds: 0 };
    db.steps.sequences ??= { seconds: 0 };
    await save();
    return recopied;
  } finally {
    await target.end().catch(() => undefined);
  }
}
