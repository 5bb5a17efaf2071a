import { withDatabase } from '../connection/url.ts';
import { readSequenceValues } from '../catalog/sequences.ts';
import { copyTasks } from './copy.ts';
import type { DatabaseSteps } from './database-run.ts';
import { faultPoint } from './fault-points.ts';
import { analyzeTable } from './finish.ts';
import { copyLargeObjects } from './objects.ts';
import { entriesByTable, PostDataScheduler, readArchiveEntries } from './post-data.ts';
import type { StepScope } from './steps.ts';
import { CopyProgressTracker } from './table-copies.ts';
import { copyInSnapshot } from './workers.ts';

/**
 * The data step of a first run (DESIGN.md step 5): every table copied under the job slot's exported
 * snapshot, the large objects and sequence values read in it too, and each table's indexes built as
 * soon as its copy commits; the post-data step awaits the builds left.
 */
export async function copyFirstTime(run: DatabaseSteps, scope: StepScope): Promise<void> {
  const { req, plan, db, save, log } = run;
  const exported = run.exported!;
  const snapshot = { ...run.schemaOptions, snapshotName: exported.snapshotName };
  // Each table's own indexes are built as soon as its copy commits (see PostDataScheduler).
  const entries = await readArchiveEntries(snapshot, run.postDataFile);
  const scheduler = new PostDataScheduler({
    schema: run.schemaOptions,
    archive: run.postDataFile,
    workDir: run.jobDir,
    entries,
    byTable: await entriesByTable(run.source, entries),
    afterTable: (key) => analyzeTable(run, key),
  });
  run.analyzed = scheduler.built;
  // The final pass, started as soon as the last table's copy commits rather than after the copy
  // sessions have closed: its first build is often the longest step left.
  let finishing: Promise<void> | undefined;
  run.postData = {
    finish: () => finishing ?? scheduler.finish(req.jobs),
    abandon: async () => {
      await scheduler.abandon();
      await finishing?.catch(() => undefined);
    },
  };
  const tasks = copyTasks(plan.tables, req.splitBytes);
  const progress = new CopyProgressTracker(plan.source, tasks, req.onProgress);
  await copyInSnapshot({
    onTaskStart: (task) => progress.started(task),
    onBytes: (n, task, rows) => progress.read(task, n, rows),
    source: withDatabase(req.source, plan.source),
    target: withDatabase(req.target, plan.target),
    tls: req.tls,
    snapshotName: exported.snapshotName,
    jobs: req.jobs,
    tasks,
    binary: run.binary,
    onSnapshotImported: exported.release,
    inSnapshot: async (s, t) => {
      run.sequences = await readSequenceValues(s);
      const count = await scope.within('largeObjects', () => copyLargeObjects(s, t));
      if (count) log(`${plan.source}: copied ${count} large object(s)`);
    },
    onTaskDone: (task, done) => {
      const key = `${task.table.schema}.${task.table.name}`;
      const copied = progress.done(task, done);
      // A split table counts as copied only once all its ranges are committed.
      if (copied) db.copied[key] = copied;
      const saved = save();
      if (copied && progress.allDone()) {
        // The last table goes straight to the final pass, where its builds get every job.
        finishing ??= scheduler.finish(req.jobs);
        // Awaited in the post-data step; marked handled here so a failure meanwhile is not fatal.
        finishing.catch(() => undefined);
      } else if (copied) {
        scheduler.tableCopied(key);
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
  });
}
