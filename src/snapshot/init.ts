import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { quoteIdent, quoteLiteral } from '../catalog/ident.ts';
import { readServerFacts } from '../catalog/server.ts';
import { readDatabaseIdentity, refuseSameDatabases } from '../catalog/identity.ts';
import { openClient } from '../connection/client.ts';
import { ConnectionError } from '../connection/errors.ts';
import type { TlsPolicy } from '../connection/tls.ts';
import { withDatabase, type ConnectionSpec } from '../connection/url.ts';
import type { Logger } from '../log/logger.ts';
import type { DatabasePlan, FilterOptions, TablePlan } from '../plan/plan.ts';
import { createPublication, dropPublication, publicationExists } from '../replication/publication.ts';
import { createSlotWithSnapshot, dropSlot, slotExists } from '../replication/slot.ts';
import { dropSubscription, subscriptionConninfo } from '../replication/subscription.ts';
import { copyDatabaseSettings } from './database-settings.ts';
import { copyTasks } from './copy.ts';
import { entriesByTable, PostDataScheduler, readArchiveEntries } from './post-data.ts';
import { applySequenceValues, copyLargeObjects } from './objects.ts';
import { readSequenceValues, type SequenceValue } from '../catalog/sequences.ts';
import { checkRowFilters, checkTargetEmpty } from '../plan/target-checks.ts';
import { deriveJobId, replicationObjectName } from '../jobs/naming.ts';
import { planJob } from '../plan/job-plan.ts';
import { resumeThroughSubscription, unfinishedTables } from './resume.ts';
import { copyRoles, type RoleCopyResult } from './roles.ts';
import { copyPreDataSchema, dumpPostDataSchema, restorePostDataSchema, type SchemaCopyOptions } from './schema.ts';
import { LocalJobStore, type DatabaseState, type InitStep, type JobState } from './state.ts';
import { copyInSnapshot } from './workers.ts';
import { JobFinishedError, JobLockedError, lockJob } from './job-lock.ts';
import { checkDroppable, dropTargetDatabase, type TargetDrop } from './drop-target.ts';

export interface InitRequest {
  source: ConnectionSpec;
  target: ConnectionSpec;
  tls: TlsPolicy;
  filters: FilterOptions;
  jobId?: string;
  jobs: number;
  noSync: boolean;
  dropExisting: boolean;
  copyRoles: boolean;
  /** Tables bigger than this are copied as several page ranges at once. */
  splitBytes: number;
  stateDir: string;
  /**
   * What a rerun of a finished job does: `refresh` starts a new run of it (the target databases are
   * dropped and copied again: --drop-existing), `refuse` stops with a sentence saying how to go on,
   * `keep` leaves the finished copy as it is (a workflow step run again).
   */
  whenFinished: 'refresh' | 'refuse' | 'keep';
  /** validate's checks that bear on a new copy or a resume; throws on a FAIL, before anything is created. */
  assertPreconditions?: (scope: 'init' | 'resume') => Promise<void>;
  /** Shown the plan with sizes and what --drop-existing would drop; returns false to stop before anything is created. */
  confirm: (plans: DatabasePlan[], preview: { drops: TargetDrop[] }) => Promise<boolean>;
  logger: Logger;
  syncTimeoutMs?: number;
  /** Called as data streams (often: throttle when rendering) and after every copied table. */
  onProgress?: (progress: CopyProgress) => void;
}

export interface CopyProgress {
  database: string;
  bytesDone: number;
  bytesTotal: number;
  tablesDone: number;
  tablesTotal: number;
  rowsDone: number;
  /** The table just finished, if this event is for one. */
  finished?: { table: string; rows: number; bytes: number; seconds: number };
}

export interface InitReport {
  jobId: string;
  resumed: boolean;
  cancelled: boolean;
  databases: { source: string; target: string; slot: string | null; publication: string | null; consistentPoint: string | null; subscription: string | null; tables: number; rows: number; bytes: number; steps: Partial<Record<InitStep, number>>; resynced: string[] }[];
  roles: RoleCopyResult | null;
}

async function timed<T>(state: DatabaseState, step: InitStep, store: () => void, fn: () => Promise<T>): Promise<T | undefined> {
  if (state.steps[step]) return undefined;
  const started = performance.now();
  const result = await fn();
  state.steps[step] = { seconds: (performance.now() - started) / 1000 };
  store();
  return result;
}

/** DESIGN.md steps 1 to 6 for every planned database: plan, publication, slot with snapshot, schema, data, post-data. */
export async function runInit(req: InitRequest): Promise<InitReport> {
  const jobId = req.jobId ?? deriveJobId(req.source, req.target);
  const store = new LocalJobStore(req.stateDir);
  const log = (line: string) => req.logger.info(line);
  const connectOptions = (role: 'source' | 'target') => ({ role, ...req.tls });
  const openSource = (db: string) => openClient(withDatabase(req.source, db), connectOptions('source'));
  const openTarget = (db: string) => openClient(withDatabase(req.target, db), connectOptions('target'));

  const loaded = store.load(jobId);
  let previous = loaded;
  const finished = Boolean(previous && Object.values(previous.databases).every((d) => d.done));
  if (previous && finished && req.whenFinished === 'refuse') {
    throw new JobFinishedError(
      `Job ${jobId} already finished copying into ${Object.values(previous.databases).map((d) => d.target).join(', ')}; pass --drop-existing to refresh the target from the source (a new run of this job), --job-id with another id to start a separate job, or run cleanup to forget this one.`,
    );
  }
  if (previous && !finished && JSON.stringify(previous.filters) !== JSON.stringify(req.filters)) {
    throw new Error(`Job ${jobId} was started with other filters; run it again with the same options, or pass --job-id to start a separate job.`);
  }
  const refresh = Boolean(previous && finished && req.whenFinished === 'refresh');
  const resumed = Boolean(previous && !finished);
  if (!(finished && !refresh)) await req.assertPreconditions?.(resumed ? 'resume' : 'init');

  const sourceAdmin = await openClient(req.source, connectOptions('source'));
  let targetAdmin: pg.Client | undefined;
  const report: InitReport = { jobId, resumed, cancelled: false, databases: [], roles: null };
  try {
    await lockJob(sourceAdmin, jobId);
    if (JSON.stringify(store.load(jobId)) !== JSON.stringify(loaded)) {
      throw new JobLockedError(`Another init of job ${jobId} changed its record while this one started; run the command again.`);
    }
    const sourceFacts = await readServerFacts(sourceAdmin);
    targetAdmin = await openTarget('postgres').catch(async (error: unknown) => {
      if (error instanceof ConnectionError && error.reason === 'database-missing') return openClient(req.target, connectOptions('target'));
      throw error;
    });
    const targetFacts = await readServerFacts(targetAdmin);
    const binary = sourceFacts.major === targetFacts.major;
    if (refresh) {
      // A refresh starts the job over; a slot of its last run would keep retaining WAL and tie a subscription to data about to be dropped.
      const left = [];
      for (const db of Object.values(previous!.databases)) if (await slotExists(sourceAdmin, db.slot)) left.push(db.slot);
      if (left.length) throw new JobFinishedError(`Job ${jobId} still replicates through slot ${left.join(', ')}; run cleanup for it first, then init --drop-existing to refresh the target.`);
      log(`job ${jobId} finished before; refreshing: a new run copies the source again (--drop-existing)`);
      previous = undefined;
    }
    const { databases: plans, timeFilters } = await planJob(sourceAdmin, openSource, req, req.filters, sourceFacts.major, previous?.timeFilters);
    // Before anything is written on either side, and on every run, resumed or not.
    refuseSameDatabases(await readDatabaseIdentity(sourceAdmin), await readDatabaseIdentity(targetAdmin), plans, 'init');

    if (previous && finished) {
      for (const plan of plans) {
        const { rowCount } = await targetAdmin.query('SELECT 1 FROM pg_database WHERE datname = $1', [plan.target]);
        if (!rowCount) throw new JobFinishedError(`Job ${jobId} finished, but the target database ${plan.target} is gone; run cleanup for the job, then init again.`);
      }
      log(`job ${jobId} already finished; its copy is kept as it is`);
      return report;
    }
    if (!previous) {
      const drops: TargetDrop[] = [];
      for (const plan of plans) {
        if (!req.dropExisting) await checkTargetEmpty(targetAdmin, openTarget, plan);
        else if ((await targetAdmin.query('SELECT 1 FROM pg_database WHERE datname = $1', [plan.target])).rowCount) {
          const targetDb = await openTarget(plan.target);
          try {
            drops.push(await checkDroppable(targetAdmin, targetDb, plan.target));
          } finally {
            await targetDb.end().catch(() => undefined);
          }
        }
        const client = await openSource(plan.source);
        try {
          const unfiltered = await checkRowFilters(client, plan, (schema, name) => plan.tables.find((t) => t.publishedAs.schema === schema && t.publishedAs.name === name)?.columns[0] ?? 'ctid');
          for (const table of unfiltered) {
            req.logger.warn(`${table}: the time window's column is not part of the replica identity, so the publication carries no row filter for it; the copy still holds only the window, and updates to older rows are skipped on the target.`);
          }
        } finally {
          await client.end();
        }
      }
      if (!(await req.confirm(plans, { drops }))) {
        report.cancelled = true;
        return report;
      }
    }

    const state: JobState = previous ?? {
      version: 1, jobId, createdAt: new Date().toISOString(), updatedAt: '', source: `${req.source.host}:${req.source.port}`, target: `${req.target.host}:${req.target.port}`,
      filters: req.filters, noSync: req.noSync, timeFilters, databases: {},
    };
    for (const plan of plans) {
      const name = replicationObjectName(jobId, plan.source);
      state.databases[plan.source] ??= { source: plan.source, target: plan.target, createdTargetDatabase: false, publication: name, slot: name, slotCreated: false, steps: {}, copied: {}, done: false };
    }
    const save = () => store.save(state);
    save();

    if (req.copyRoles && !previous) {
      log('copying roles (pg_dumpall --globals-only --no-role-passwords)');
      report.roles = await copyRoles(req.source, targetAdmin, req.tls, sourceFacts.major);
    }

    for (const plan of plans) {
      const db = state.databases[plan.source]!;
      const result = await replicateDatabase({ req, plan, db, save, log, binary, sourceMajor: sourceFacts.major, targetAdmin, openSource, openTarget, jobDir: store.jobDir(jobId), noSync: state.noSync });
      report.databases.push(result);
    }
    return report;
  } finally {
    await sourceAdmin.end().catch(() => undefined);
    await targetAdmin?.end().catch(() => undefined);
  }
}

interface DatabaseRun {
  req: InitRequest;
  plan: DatabasePlan;
  db: DatabaseState;
  save: () => void;
  log: (line: string) => void;
  binary: boolean;
  sourceMajor: number;
  targetAdmin: pg.Client;
  openSource: (db: string) => Promise<pg.Client>;
  openTarget: (db: string) => Promise<pg.Client>;
  jobDir: string;
  noSync: boolean;
}

async function ensureTargetDatabase(run: DatabaseRun, source: pg.Client): Promise<void> {
  const { targetAdmin, plan, db, req } = run;
  const exists = ((await targetAdmin.query('SELECT 1 FROM pg_database WHERE datname = $1', [plan.target])).rowCount ?? 0) > 0;
  if (exists && req.dropExisting && !db.createdTargetDatabase) {
    run.log(`dropping target database ${plan.target} (--drop-existing)`);
    await dropTargetDatabase(source, targetAdmin, () => run.openTarget(plan.target), plan.target);
  } else if (exists) {
    return;
  }
  const { rows } = await source.query<{ encoding: string; collate: string; ctype: string }>(
    'SELECT pg_encoding_to_char(encoding) AS encoding, datcollate AS collate, datctype AS ctype FROM pg_database WHERE datname = current_database()',
  );
  const r = rows[0]!;
  await targetAdmin.query(`CREATE DATABASE ${quoteIdent(plan.target)} TEMPLATE template0 ENCODING ${quoteLiteral(r.encoding)} LC_COLLATE ${quoteLiteral(r.collate)} LC_CTYPE ${quoteLiteral(r.ctype)}`);
  db.createdTargetDatabase = true;
  run.save();
  const refused = await copyDatabaseSettings(source, targetAdmin, plan.target);
  if (refused.length) run.log(`${plan.target}: database settings the target refused, set them there if needed: ${refused.join('; ')}`);
}

async function replicateDatabase(run: DatabaseRun): Promise<InitReport['databases'][number]> {
  const { req, plan, db, save, log } = run;
  const source = await run.openSource(plan.source);
  const sourceSpec = withDatabase(req.source, plan.source);
  const targetSpec = withDatabase(req.target, plan.target);
  const schemaOptions: SchemaCopyOptions = { source: sourceSpec, target: targetSpec, tls: req.tls, snapshotName: null, sourceMajor: run.sourceMajor, keepOwnership: req.copyRoles };
  const postDataFile = join(run.jobDir, `${db.slot}.post-data.dump`);
  const resynced: string[] = [];
  let scheduler: PostDataScheduler | undefined;
  // The final pass, started as soon as the last table's copy commits rather than after the copy
  // sessions have closed: its first build is often the longest step left.
  let finishing: Promise<void> | undefined;
  let rows = 0;
  let bytes = 0;
  try {
    await ensureTargetDatabase(run, source);
    if (!db.slotCreated) {
      // Publication first, then the slot: decoding sees publication membership as of each change.
      if (!(await publicationExists(source, db.publication))) await createPublication(source, db.publication, plan.publication, run.sourceMajor);
      const exported = await createSlotWithSnapshot(sourceSpec, { role: 'source', ...req.tls }, db.slot, run.sourceMajor);
      db.slotCreated = true;
      db.consistentPoint = exported.consistentPoint;
      save();
      log(`${plan.source}: slot ${db.slot} created at ${exported.consistentPoint}; copying the snapshot`);
      try {
        const snapshot = { ...schemaOptions, snapshotName: exported.snapshotName };
        // The post-data dump needs the snapshot too, and nothing from the pre-data restore: run both at once.
        await timed(db, 'schema', save, () => Promise.all([copyPreDataSchema(snapshot), dumpPostDataSchema(snapshot, postDataFile)]));
        // Each table's own indexes are built as soon as its copy commits (see PostDataScheduler).
        const entries = await readArchiveEntries(snapshot, postDataFile);
        scheduler = new PostDataScheduler({
          schema: schemaOptions, archive: postDataFile, workDir: run.jobDir, entries, byTable: await entriesByTable(source, entries),
          afterTable: (key) => analyzeTables(run, [plan.tables.find((t) => `${t.schema}.${t.name}` === key)!]),
        });
        let sequences: SequenceValue[] = [];
        const tasks = copyTasks(plan.tables, req.splitBytes);
        const chunksLeft = new Map<string, number>();
        const partial = new Map<string, { rows: number; bytes: number; seconds: number }>();
        for (const t of tasks) chunksLeft.set(`${t.table.schema}.${t.table.name}`, (chunksLeft.get(`${t.table.schema}.${t.table.name}`) ?? 0) + 1);
        const progress: CopyProgress = { database: plan.source, bytesDone: 0, bytesTotal: tasks.reduce((n, t) => n + t.bytes, 0), tablesDone: 0, tablesTotal: chunksLeft.size, rowsDone: 0 };
        await timed(db, 'data', save, () =>
          copyInSnapshot({
            onBytes: (n) => {
              progress.bytesDone += n;
              req.onProgress?.({ ...progress, finished: undefined });
            },
            source: sourceSpec, target: targetSpec, tls: req.tls, snapshotName: exported.snapshotName, jobs: req.jobs, tasks, binary: run.binary,
            onSnapshotImported: exported.release,
            inSnapshot: async (s, t) => {
              sequences = await readSequenceValues(s);
              const count = await copyLargeObjects(s, t);
              if (count) log(`${plan.source}: copied ${count} large object(s)`);
            },
            onTaskDone: (task, result) => {
              const key = `${task.table.schema}.${task.table.name}`;
              rows += result.rows;
              bytes += result.bytes;
              const left = chunksLeft.get(key)! - 1;
              chunksLeft.set(key, left);
              const sum = partial.get(key) ?? { rows: 0, bytes: 0, seconds: 0 };
              partial.set(key, { rows: sum.rows + result.rows, bytes: sum.bytes + result.bytes, seconds: sum.seconds + result.seconds });
              // A split table counts as copied only once all its ranges are committed.
              if (left === 0) db.copied[key] = partial.get(key)!;
              save();
              if (left === 0 && scheduler) {
                // The last table goes straight to the final pass, where its builds get every job.
                if ([...chunksLeft.values()].every((n) => n === 0)) {
                  finishing ??= scheduler.finish(req.jobs);
                  // Awaited in the post-data step; marked handled here so a failure meanwhile is not fatal.
                  finishing.catch(() => undefined);
                } else {
                  scheduler.tableCopied(key);
                }
              }
              progress.rowsDone += result.rows;
              if (left === 0) progress.tablesDone++;
              req.onProgress?.({ ...progress, finished: { table: task.key, ...result } });
              req.logger.debug(`${plan.source}: copied ${task.key} (${result.rows} rows, ${result.bytes} bytes, ${result.seconds.toFixed(2)} s)`);
            },
          }),
        );
        db.steps.largeObjects = { seconds: 0 };
        await timed(db, 'sequences', save, async () => {
          const target = await run.openTarget(plan.target);
          try {
            await applySequenceValues(target, sequences);
          } finally {
            await target.end();
          }
        });
      } catch (error) {
        await scheduler?.abandon();
        await finishing?.catch(() => undefined);
        throw error;
      } finally {
        await exported.release();
      }
    } else if (!db.steps.data) {
      resynced.push(...(await resumeDatabase(run, source, schemaOptions, postDataFile)));
    }

    await timed(db, 'postData', save, async () => {
      if (scheduler) return finishing ?? scheduler.finish(req.jobs);
      if (!existsSync(postDataFile)) await dumpPostDataSchema(schemaOptions, postDataFile);
      await restorePostDataSchema(schemaOptions, postDataFile, req.jobs, resynced.length > 0 || Boolean(db.subscription));
    });
    await timed(db, 'analyze', save, () => analyzeInParallel(run, scheduler?.built ?? new Set()));
    if (run.noSync) await dropReplicationObjects(run, source);
    db.done = true;
    save();
    return {
      source: plan.source, target: plan.target, slot: run.noSync ? null : db.slot, publication: run.noSync ? null : db.publication, consistentPoint: db.consistentPoint ?? null,
      subscription: run.noSync ? null : db.subscription ?? null, tables: plan.tables.filter((t) => t.mode === 'data').length, rows, bytes,
      steps: Object.fromEntries(Object.entries(db.steps).map(([k, v]) => [k, v.seconds])), resynced,
    };
  } finally {
    await source.end().catch(() => undefined);
  }
}

async function resumeDatabase(run: DatabaseRun, source: pg.Client, schemaOptions: SchemaCopyOptions, postDataFile: string): Promise<string[]> {
  const { req, plan, db, save, log } = run;
  if (!(await slotExists(source, db.slot))) {
    throw new Error(`The slot ${db.slot} of job for ${plan.source} is gone, so the copy cannot be resumed consistently; run cleanup and start init again.`);
  }
  log(`${plan.source}: resuming; ${Object.keys(db.copied).length} table(s) already copied stay as they are`);
  if (!db.steps.schema) {
    await copyPreDataSchema(schemaOptions);
    db.steps.schema = { seconds: 0 };
    save();
  }
  // Indexes and constraints first: the apply worker needs the primary keys to find the rows that
  // UPDATE and DELETE change, and table synchronization is cheaper into indexed empty tables than
  // building the indexes after.
  await timed(db, 'postData', save, async () => {
    if (!existsSync(postDataFile)) await dumpPostDataSchema(schemaOptions, postDataFile);
    await restorePostDataSchema(schemaOptions, postDataFile, req.jobs, true);
  });
  const target = await run.openTarget(plan.target);
  const started = performance.now();
  try {
    // Unlogged tables are not published; copy them as they are now.
    const unlogged = unfinishedTables(plan, db).filter((t) => t.unlogged);
    if (unlogged.length) {
      await target.query(`TRUNCATE ${unlogged.map((t) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`).join(', ')}`);
      await copyInSnapshot({ source: withDatabase(req.source, plan.source), target: withDatabase(req.target, plan.target), tls: req.tls, snapshotName: null, jobs: req.jobs, tasks: copyTasks(unlogged, 0), binary: run.binary, onSnapshotImported: async () => undefined, onTaskDone: (task) => (db.copied[task.key] = { rows: 0, bytes: 0, seconds: 0 }) });
    }
    const { resynced } = await resumeThroughSubscription({
      source, target, plan, state: db, subscriptionConninfo: subscriptionConninfo(withDatabase(req.source, plan.source), req.tls), binary: run.binary,
      syncTimeoutMs: req.syncTimeoutMs ?? 3_600_000, log,
    });
    if (!db.steps.largeObjects) {
      const count = await copyLargeObjects(source, target);
      if (count) log(`${plan.source}: copied ${count} large object(s) as of now (the snapshot is gone)`);
    }
    // The snapshot's sequence values are gone; current ones are never behind them.
    await applySequenceValues(target, await readSequenceValues(source));
    db.steps.data = { seconds: (performance.now() - started) / 1000 };
    db.steps.largeObjects ??= { seconds: 0 };
    db.steps.sequences ??= { seconds: 0 };
    save();
    return resynced;
  } finally {
    await target.end().catch(() => undefined);
  }
}

/** --no-sync: a snapshot-only copy keeps no slot (it would retain WAL), no publication, no subscription. */
async function dropReplicationObjects(run: DatabaseRun, source: pg.Client): Promise<void> {
  const { db } = run;
  if (db.subscription) {
    const target = await run.openTarget(run.plan.target);
    try {
      await dropSubscription(target, db.subscription);
    } finally {
      await target.end();
    }
  }
  await dropSlot(source, db.slot);
  await dropPublication(source, db.publication);
}

async function analyzeTables(run: DatabaseRun, tables: TablePlan[]): Promise<void> {
  const target = await run.openTarget(run.plan.target);
  try {
    for (const t of tables) await target.query(`ANALYZE ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`);
  } finally {
    await target.end().catch(() => undefined);
  }
}

/** ANALYZE table by table on --jobs connections, biggest first (one ANALYZE uses one core); `done` were analyzed already. */
async function analyzeInParallel(run: DatabaseRun, done: Set<string>): Promise<void> {
  const tables = run.plan.tables.filter((t) => !done.has(`${t.schema}.${t.name}`)).sort((a, b) => b.bytes - a.bytes);
  const parents = new Map(run.plan.publication.map((p) => [`${p.schema}.${p.name}`, p]));
  const names = [...tables.map((t) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`), ...[...parents.values()].filter((p) => !tables.some((t) => t.schema === p.schema && t.name === p.name)).map((p) => `${quoteIdent(p.schema)}.${quoteIdent(p.name)}`)];
  let next = 0;
  await Promise.all(Array.from({ length: Math.max(1, Math.min(run.req.jobs, names.length)) }, async () => {
    const target = await run.openTarget(run.plan.target);
    try {
      while (next < names.length) await target.query(`ANALYZE ${names[next++]!}`);
    } finally {
      await target.end().catch(() => undefined);
    }
  }));
}
