// One database's init as named steps, run by runSteps (steps.ts): a first run and a rerun go through the
// same list; only the data step differs (a first copy, or a resume's second-slot copy and hand-off).
import { existsSync } from 'node:fs';
import { installDdlCapture } from '../ddl-capture/install.ts';
import { resumeObjectName } from '../jobs/naming.ts';
import { readSequenceValues } from '../catalog/sequences.ts';
import { waitForSlotConfirmed } from '../replication/hand-off.ts';
import { createPublication, publicationExists } from '../replication/publication.ts';
import { createSlotWithSnapshot, dropSlot, slotExists } from '../replication/slot.ts';
import { withDatabase } from '../connection/url.ts';
import type { DatabaseSteps } from './database-run.ts';
import { analyzeInParallel, dropReplicationObjects } from './finish.ts';
import { copyFirstTime } from './first-copy.ts';
import { settleLeftoverSessions } from './leftover-sessions.ts';
import { applySequenceValues, copyLargeObjects } from './objects.ts';
import { entriesByTable, readArchiveEntries } from './post-data.ts';
import { restoreMissingEntries } from './post-data-present.ts';
import { checkSlotKept, refuseChangedTables, restoreSchemaAgain, resumeCopy } from './resume-database.ts';
import { copyPreDataSchema, dumpPostDataSchema } from './schema.ts';
import { ensureTargetDatabase } from './target-database.ts';
import type { Step } from './steps.ts';

type DatabaseStep = Step<DatabaseSteps>;

/** The target database (made, or dropped and made again), a stopped resume's tables compared, DDL capture. */
const target: DatabaseStep = {
  name: 'target',
  run: async (run) => {
    const { plan, db } = run;
    await ensureTargetDatabase(run, run.source);
    // A stopped resume left its stream running, and the steps still to run wait on it. Post-data checks
    // the tables itself; a rerun past it is checked here.
    if (db.subscription && db.steps.postData !== undefined) {
      const session = await run.openTarget(plan.target);
      try {
        await refuseChangedTables(run.source, session, plan);
      } finally {
        await session.end().catch(() => undefined);
      }
    }
    if (run.trackDdl)
      await installDdlCapture({
        jobId: run.jobId,
        source: run.source,
        openTarget: () => run.openTarget(plan.target),
        publication: db.publication,
        resumePublication: resumeObjectName(run.jobId, plan.source),
        published: plan.publication,
        sourceMajor: run.sourceMajor,
      });
  },
};

/** Publication first, then the slot: decoding sees publication membership as of each change. */
const publication: DatabaseStep = {
  name: 'publication',
  done: (run) => run.db.slotCreated,
  run: async ({ source, db, plan, sourceMajor }) => {
    if (!(await publicationExists(source, db.publication)))
      await createPublication(source, db.publication, plan.publication, sourceMajor);
  },
  faultPoint: 'init:publication',
};

/** The slot with its exported snapshot; on a rerun whose copy is unfinished, the slot must still be there. */
const slot: DatabaseStep = {
  name: 'slot',
  done: (run) => run.db.slotCreated && run.db.steps.data !== undefined,
  run: async (run) => {
    const { req, plan, db, source } = run;
    if (db.slotCreated) return checkSlotKept(run);
    // A slot made by a run stopped before recording it lost its snapshot: nothing was copied under it.
    if (await slotExists(source, db.slot)) await dropSlot(source, db.slot);
    const sourceSpec = withDatabase(req.source, plan.source);
    run.exported = await createSlotWithSnapshot(sourceSpec, { role: 'source', ...req.tls }, db.slot, run.sourceMajor);
    db.slotCreated = true;
    db.consistentPoint = run.exported.consistentPoint;
    run.log(`${plan.source}: slot ${db.slot} created at ${db.consistentPoint}; copying the snapshot`);
  },
  faultPoint: 'init:slot',
};

/** Pre-data restored, post-data dumped; under the slot's snapshot on a first run. */
const schema: DatabaseStep = {
  name: 'schema',
  mark: 'schema',
  run: async (run) => {
    if (!run.exported) return restoreSchemaAgain(run);
    const snapshot = { ...run.schemaOptions, snapshotName: run.exported.snapshotName };
    // The post-data dump needs the snapshot too, and nothing from the pre-data restore: run both at once.
    await Promise.all([copyPreDataSchema(snapshot), dumpPostDataSchema(snapshot, run.postDataFile)]);
  },
  faultPoint: 'init:schema',
};

/** Large objects not copied in a data step's snapshot (a rerun whose copy was done before it stopped). */
const largeObjects: DatabaseStep = {
  name: 'large objects',
  mark: 'largeObjects',
  run: async (run) => {
    const session = await run.openTarget(run.plan.target);
    try {
      await copyLargeObjects(run.source, session);
    } finally {
      await session.end().catch(() => undefined);
    }
  },
};

/** Sequence values read in the copy's snapshot; read now when that is gone: never behind the copied rows. */
const sequences: DatabaseStep = {
  name: 'sequences',
  mark: 'sequences',
  run: async (run) => {
    const values = run.sequences ?? (await readSequenceValues(run.source));
    const session = await run.openTarget(run.plan.target);
    try {
      await applySequenceValues(session, values);
    } finally {
      await session.end().catch(() => undefined);
    }
  },
  faultPoint: 'init:sequences',
};

/** Indexes, constraints and the rest of post-data: what the copy's builds left, or whatever the target lacks. */
const postData: DatabaseStep = {
  name: 'post-data',
  mark: 'postData',
  run: (run) => (run.postData ? run.postData.finish() : buildMissingPostData(run)),
  faultPoint: 'init:post-data',
};

async function buildMissingPostData(run: DatabaseSteps): Promise<void> {
  const { req, plan, db, source, schemaOptions, postDataFile } = run;
  if (!existsSync(postDataFile)) await dumpPostDataSchema(schemaOptions, postDataFile);
  const session = await run.openTarget(plan.target);
  try {
    await settleLeftoverSessions(run, session);
    // A resume's stream is running: a table changed on the source during the resume stops its apply
    // worker, and the waits below and in the hand-off step would not end.
    if (db.subscription) await refuseChangedTables(source, session, plan);
    // Foreign keys join tables that a resume brought to one WAL position only once the job's
    // subscription has applied everything before the hand-off.
    if (db.resume?.switchedAt && db.subscription)
      await waitForSlotConfirmed(source, db.slot, db.resume.switchedAt, req.syncTimeoutMs ?? 3_600_000);
    const options = {
      schema: schemaOptions,
      archive: postDataFile,
      workDir: run.jobDir,
      source,
      target: session,
      jobs: req.jobs,
    };
    const underway = run.buildsUnderway;
    let entries = (await readArchiveEntries(schemaOptions, postDataFile)).filter(
      (e) => !underway?.entries.has(e.dumpId),
    );
    let built = 0;
    if (underway) {
      // Foreign keys between copied tables need only the keys, all built by now: they go beside the
      // indexes still building. What else is left (an index attachment, a comment) may need those.
      const { foreignKeys } = await entriesByTable(source, entries);
      const ready = new Set(
        foreignKeys.filter((fk) => fk.tables.every((t) => t in db.copied)).map((fk) => fk.entry.dumpId),
      );
      built += (
        await restoreMissingEntries(
          options,
          entries.filter((e) => ready.has(e.dumpId)),
        )
      ).length;
      await underway.done;
      built += underway.entries.size;
      entries = entries.filter((e) => !ready.has(e.dumpId));
    }
    built += (await restoreMissingEntries(options, entries)).length;
    run.log(`${plan.source}: post-data built ${built} missing index(es), constraint(s) and other entries`);
  } finally {
    await session.end().catch(() => undefined);
  }
}

/** ANALYZE of the tables not analyzed beside the copy. */
const analyze: DatabaseStep = {
  name: 'analyze',
  mark: 'analyze',
  run: (run) => analyzeInParallel(run, run.analyzed),
  faultPoint: 'init:analyze',
};

/** The copy handed on: its slot waits for sync, or (--no-sync) the replication objects go. */
const handOff: DatabaseStep = {
  name: 'hand-off',
  done: (run) => run.db.done,
  run: async (run) => {
    if (run.noSync) await dropReplicationObjects(run, run.source);
    run.db.done = true;
  },
};

/** A first run's data step: the copy under the new slot's snapshot, indexes built as tables commit. */
export const firstCopyData: DatabaseStep = {
  name: 'data',
  mark: 'data',
  run: copyFirstTime,
  faultPoint: 'init:data',
};

/** A rerun's data step: the unfinished tables copied under a second slot, then handed to the job's stream. */
export const resumeData: DatabaseStep = { name: 'data', mark: 'data', run: resumeCopy };

/** Init of one database: the same steps for a first run and a rerun, with the data step of each. */
export function initSteps(data: DatabaseStep): DatabaseStep[] {
  return [target, publication, slot, schema, data, largeObjects, sequences, postData, analyze, handOff];
}
