import type pg from 'pg';
import { withDatabase } from '../connection/url.ts';
import { createPublication, publicationExists } from '../replication/publication.ts';
import { createSlotWithSnapshot, dropSlot, slotExists } from '../replication/slot.ts';
import { copyTasks } from './copy.ts';
import { timed, type DatabaseRun } from './database-run.ts';
import { faultPoint } from './fault-points.ts';
import { analyzeTable } from './finish.ts';
import { applySequenceValues, copyLargeObjects } from './objects.ts';
import { readSequenceValues, type SequenceValue } from '../catalog/sequences.ts';
import { entriesByTable, PostDataScheduler, readArchiveEntries } from './post-data.ts';
import { copyPreDataSchema, dumpPostDataSchema, type SchemaCopyOptions } from './schema.ts';
import { CopyProgressTracker } from './table-copies.ts';
import { copyInSnapshot } from './workers.ts';

/** A first copy under the job slot's snapshot, with its post-data builds already under way. */
export interface FirstCopy {
  /** Finishes post-data: the builds left once the last table is in. */
  postData: () => Promise<void>;
  /** Tables analyzed already, beside the copy. */
  analyzed: Set<string>;
  rows: number;
  bytes: number;
  abandon: () => Promise<void>;
}

/**
 * DESIGN.md steps 2 to 5 on a first run: publication, slot with exported snapshot, schema, data,
 * large objects and sequences, each table's indexes built as soon as its copy commits.
 */
export async function copyFirstTime(
  run: DatabaseRun,
  source: pg.Client,
  schemaOptions: SchemaCopyOptions,
  postDataFile: string,
): Promise<FirstCopy> {
  const { req, plan, db, save, log } = run;
  const sourceSpec = withDatabase(req.source, plan.source);
  const targetSpec = withDatabase(req.target, plan.target);
  // Publication first, then the slot: decoding sees publication membership as of each change.
  if (!(await publicationExists(source, db.publication)))
    await createPublication(source, db.publication, plan.publication, run.sourceMajor);
  faultPoint('init:publication');
  // A slot made by a run stopped before recording it lost its snapshot: nothing was copied under it.
  if (await slotExists(source, db.slot)) await dropSlot(source, db.slot);
  const exported = await createSlotWithSnapshot(sourceSpec, { role: 'source', ...req.tls }, db.slot, run.sourceMajor);
  db.slotCreated = true;
  db.consistentPoint = exported.consistentPoint;
  await save();
  faultPoint('init:slot');
  log(`${plan.source}: slot ${db.slot} created at ${exported.consistentPoint}; copying the snapshot`);
  let scheduler: PostDataScheduler | undefined;
  // The final pass, started as soon as the last table's copy commits rather than after the copy
  // sessions have closed: its first build is often the longest step left.
  let finishing: Promise<void> | undefined;
  const result: FirstCopy = {
    postData: () => finishing ?? scheduler!.finish(req.jobs),
    analyzed: new Set(),
    rows: 0,
    bytes: 0,
    abandon: async () => {
      await scheduler?.abandon();
      await finishing?.catch(() => undefined);
    },
  };
  try {
    const snapshot = { ...schemaOptions, snapshotName: exported.snapshotName };
    // The post-data dump needs the snapshot too, and nothing from the pre-data restore: run both at once.
    await timed(db, 'schema', save, () =>
      Promise.all([copyPreDataSchema(snapshot), dumpPostDataSchema(snapshot, postDataFile)]),
    );
    faultPoint('init:schema');
    // Each table's own indexes are built as soon as its copy commits (see PostDataScheduler).
    const entries = await readArchiveEntries(snapshot, postDataFile);
    scheduler = new PostDataScheduler({
      schema: schemaOptions,
      archive: postDataFile,
      workDir: run.jobDir,
      entries,
      byTable: await entriesByTable(source, entries),
      afterTable: (key) => analyzeTable(run, key),
    });
    result.analyzed = scheduler.built;
    let sequences: SequenceValue[] = [];
    const tasks = copyTasks(plan.tables, req.splitBytes);
    const progress = new CopyProgressTracker(plan.source, tasks, req.onProgress);
    const started = performance.now();
    await timed(db, 'data', save, () =>
      copyInSnapshot({
        onTaskStart: (task) => progress.started(task),
        onBytes: (n, task, rows) => progress.read(task, n, rows),
        source: sourceSpec,
        target: targetSpec,
        tls: req.tls,
        snapshotName: exported.snapshotName,
        jobs: req.jobs,
        tasks,
        binary: run.binary,
        onSnapshotImported: exported.release,
        inSnapshot: async (s, t) => {
          sequences = await readSequenceValues(s);
          const lo = performance.now();
          const count = await copyLargeObjects(s, t);
          db.steps.largeObjects = { seconds: (performance.now() - lo) / 1000 };
          if (count) log(`${plan.source}: copied ${count} large object(s)`);
        },
        onTaskDone: (task, done) => {
          const key = `${task.table.schema}.${task.table.name}`;
          result.rows += done.rows;
          result.bytes += done.bytes;
          const copied = progress.done(task, done);
          // A split table counts as copied only once all its ranges are committed.
          if (copied) db.copied[key] = copied;
          const saved = save();
          if (copied && scheduler) {
            // The last table goes straight to the final pass, where its builds get every job.
            if (progress.allDone()) {
              finishing ??= scheduler.finish(req.jobs);
              // Awaited in the post-data step; marked handled here so a failure meanwhile is not fatal.
              finishing.catch(() => undefined);
            } else {
              scheduler.tableCopied(key);
            }
          }
          // Told once recorded: what a reader sees is never ahead of the checkpoint.
          void saved.then(
            () => progress.announce(task, done),
            () => undefined,
          );
          req.logger.debug(
            `${plan.source}: copied ${task.key} (${done.rows} rows, ${done.bytes} bytes, ${done.seconds.toFixed(2)} s)`,
          );
          faultPoint('init:table-copied');
        },
      }),
    );
    if (db.steps.data && db.steps.largeObjects)
      db.steps.data.seconds = Math.max(0, (performance.now() - started) / 1000 - db.steps.largeObjects.seconds);
    faultPoint('init:data');
    await timed(db, 'sequences', save, async () => {
      const target = await run.openTarget(plan.target);
      try {
        await applySequenceValues(target, sequences);
      } finally {
        await target.end();
      }
    });
    faultPoint('init:sequences');
    return result;
  } catch (error) {
    await result.abandon();
    throw error;
  } finally {
    await exported.release();
  }
}
