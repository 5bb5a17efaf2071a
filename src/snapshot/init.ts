import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { qualifiedName, quoteIdent, quoteLiteral } from '../catalog/ident.ts';
import { readServerFacts } from '../catalog/server.ts';
import { readDatabaseIdentity, refuseSameDatabases } from '../catalog/identity.ts';
import { openClient } from '../connection/client.ts';
import { ConnectionError } from '../connection/errors.ts';
import type { TlsPolicy } from '../connection/tls.ts';
import { withDatabase, type ConnectionSpec } from '../connection/url.ts';
import type { Logger } from '../log/logger.ts';
import type { DatabasePlan, FilterOptions } from '../plan/plan.ts';
import { settledPoint, waitForSlotConfirmed } from '../replication/hand-off.ts';
import { dropPublication } from '../replication/publication.ts';
import { dropSlot, slotExists } from '../replication/slot.ts';
import { dropSubscription, subscriptionConninfo } from '../replication/subscription.ts';
import { copyDatabaseSettings } from './database-settings.ts';
import { copyTasks } from './copy.ts';
import { timed, type DatabaseRun } from './database-run.ts';
import { faultPoint } from './fault-points.ts';
import { endLeftoverSessions } from './leftover-sessions.ts';
import { copyFirstTime, type FirstCopy } from './first-copy.ts';
import { entriesByTable, readArchiveEntries } from './post-data.ts';
import { restoreMissingEntries } from './post-data-present.ts';
import { applySequenceValues, copyLargeObjects } from './objects.ts';
import { readSequenceValues, type SequenceValue } from '../catalog/sequences.ts';
import { checkRowFilters, checkTargetEmpty } from '../plan/target-checks.ts';
import { deriveJobId, replicationObjectName, resumeObjectName } from '../jobs/naming.ts';
import { planJob } from '../plan/job-plan.ts';
import { resumeWithSecondSlot, unfinishedTables } from './resume.ts';
import { copyRoles, type RoleCopyResult } from './roles.ts';
import { copyPreDataSchema, dumpPostDataSchema, type SchemaCopyOptions } from './schema.ts';
import { LocalJobStore, type InitStep, type JobState } from './state.ts';
import { copyInSnapshot } from './workers.ts';
import { JobFinishedError, JobLockedError, lockJob } from './job-lock.ts';
import { checkDroppable, dropTargetDatabase, type TargetDrop } from './drop-target.ts';
import { installDdlCapture } from '../ddl-capture/install.ts';

/** A rerun of an unfinished job asked for other filters than the job was started with. */
export class JobOptionsChangedError extends Error {
  override name = 'JobOptionsChangedError';
}

/** The job's slot is gone: the copy can no longer be finished consistently. */
export class ResumeImpossibleError extends Error {
  override name = 'ResumeImpossibleError';
}

export interface InitRequest {
  source: ConnectionSpec;
  target: ConnectionSpec;
  tls: TlsPolicy;
  filters: FilterOptions;
  jobId?: string;
  jobs: number;
  noSync: boolean;
  /** init --track-ddl: record the source's schema changes and apply them on the target in stream order (src/ddl-capture). */
  trackDdl?: boolean;
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
    throw new JobOptionsChangedError(`Job ${jobId} was started with other filters; run it again with the same options, or pass --job-id to start a separate job.`);
  }
  if (previous && !finished && req.trackDdl && !previous.trackDdl) {
    throw new JobOptionsChangedError(`Job ${jobId} was started without --track-ddl, and its slot already exists; run it again without it (sync --apply-ddl carries schema changes), or clean it up and start over with --track-ddl.`);
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
      filters: req.filters, noSync: req.noSync, ...(req.trackDdl ? { trackDdl: true } : {}), timeFilters, databases: {},
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
      const result = await replicateDatabase({ jobId, analyzed: new Set(), req, plan, db, save, log, binary, sourceMajor: sourceFacts.major, targetAdmin, openSource, openTarget, jobDir: store.jobDir(jobId), noSync: state.noSync, trackDdl: Boolean(state.trackDdl) });
      report.databases.push(result);
    }
    return report;
  } finally {
    await sourceAdmin.end().catch(() => undefined);
    await targetAdmin?.end().catch(() => undefined);
  }
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
  let recopied: string[] = [];
  let first: FirstCopy | undefined;
  try {
    await ensureTargetDatabase(run, source);
    if (db.slotCreated) {
      const target = await run.openTarget(plan.target);
      try {
        const ended = await endLeftoverSessions(target);
        if (ended) log(`${plan.target}: ended ${ended} session(s) an earlier run of this job left on the target`);
      } finally {
        await target.end().catch(() => undefined);
      }
    }
    if (run.trackDdl) await installDdlCapture({ jobId: run.jobId, source, openTarget: () => run.openTarget(plan.target), publication: db.publication, resumePublication: resumeObjectName(run.jobId, plan.source), published: plan.publication, sourceMajor: run.sourceMajor });
    if (!db.slotCreated) {
      first = await copyFirstTime(run, source, schemaOptions, postDataFile);
    } else if (!db.steps.data) {
      recopied = await resumeDatabase(run, source, schemaOptions, postDataFile);
    }

    await timed(db, 'postData', save, async () => {
      if (first) return first.postData();
      if (!existsSync(postDataFile)) await dumpPostDataSchema(schemaOptions, postDataFile);
      const target = await run.openTarget(plan.target);
      try {
        // Foreign keys join tables that a resume brought to one WAL position only once the job's
        // subscription has applied everything before the hand-off.
        if (db.resume?.switchedAt && db.subscription) await waitForSlotConfirmed(source, db.slot, db.resume.switchedAt, req.syncTimeoutMs ?? 3_600_000);
        const built = await restoreMissingEntries({ schema: schemaOptions, archive: postDataFile, workDir: run.jobDir, source, target, jobs: req.jobs }, await readArchiveEntries(schemaOptions, postDataFile));
        log(`${plan.source}: post-data built ${built.length} missing index(es), constraint(s) and other entries`);
      } finally {
        await target.end().catch(() => undefined);
      }
    });
    faultPoint('init:post-data');
    await timed(db, 'analyze', save, () => analyzeInParallel(run, first?.analyzed ?? run.analyzed));
    faultPoint('init:analyze');
    if (run.noSync) await dropReplicationObjects(run, source);
    db.done = true;
    save();
    return {
      source: plan.source, target: plan.target, slot: run.noSync ? null : db.slot, publication: run.noSync ? null : db.publication, consistentPoint: db.consistentPoint ?? null,
      subscription: run.noSync ? null : db.subscription ?? null, tables: plan.tables.filter((t) => t.mode === 'data').length, rows: first?.rows ?? 0, bytes: first?.bytes ?? 0,
      steps: Object.fromEntries(Object.entries(db.steps).map(([k, v]) => [k, v.seconds])), resynced: recopied,
    };
  } catch (error) {
    await first?.abandon();
    throw error;
  } finally {
    await source.end().catch(() => undefined);
  }
}

/** Whether the pre-data restore (one transaction) committed before the process stopped. */
async function preDataRestored(target: pg.Client, plan: DatabasePlan): Promise<boolean> {
  const tables = plan.tables.filter((t) => t.mode !== 'excluded');
  if (tables.length === 0) return false;
  const { rows } = await target.query<{ found: number }>('SELECT count(to_regclass(t))::int AS found FROM unnest($1::text[]) t', [tables.map((t) => qualifiedName(t.schema, t.name))]);
  return rows[0]!.found > 0;
}

async function resumeDatabase(run: DatabaseRun, source: pg.Client, schemaOptions: SchemaCopyOptions, postDataFile: string): Promise<string[]> {
  const { req, plan, db, save, log } = run;
  if (!(await slotExists(source, db.slot))) {
    throw new ResumeImpossibleError(`The slot ${db.slot} of the job for ${plan.source} is gone, so the copy cannot be resumed consistently; run cleanup and start init again.`);
  }
  log(`${plan.source}: resuming; ${Object.keys(db.copied).length} table(s) already copied stay as they are`);
  const target = await run.openTarget(plan.target);
  const started = performance.now();
  try {
    if (!db.steps.schema) {
      if (!(await preDataRestored(target, plan))) await copyPreDataSchema(schemaOptions);
      await dumpPostDataSchema(schemaOptions, postDataFile);
      db.steps.schema = { seconds: 0 };
      save();
    }
    if (!existsSync(postDataFile)) await dumpPostDataSchema(schemaOptions, postDataFile);
    const entries = await readArchiveEntries(schemaOptions, postDataFile);
    const byTable = await entriesByTable(source, entries);
    const restore = { schema: schemaOptions, archive: postDataFile, workDir: run.jobDir, source, target, jobs: req.jobs };
    const buildOwnEntries = async (tables: string[]) => {
      const built = new Set((await restoreMissingEntries(restore, tables.flatMap((k) => byTable.own.get(k) ?? []))).map((e) => e.dumpId));
      // A table analyzed before the stop keeps its statistics; one whose indexes are new gets them again.
      for (const k of tables) if (!(byTable.own.get(k) ?? []).some((e) => built.has(e.dumpId))) run.analyzed.add(k);
    };

    // Unlogged tables are not published; copy them as they are now.
    const unlogged = unfinishedTables(plan, db).filter((t) => t.unlogged);
    if (unlogged.length) {
      await target.query(`TRUNCATE ${unlogged.map((t) => qualifiedName(t.schema, t.name)).join(', ')}`);
      await copyInSnapshot({ source: withDatabase(req.source, plan.source), target: withDatabase(req.target, plan.target), tls: req.tls, snapshotName: null, jobs: req.jobs, tasks: copyTasks(unlogged, 0), binary: run.binary, onSnapshotImported: async () => undefined, onTaskDone: (task) => (db.copied[task.key] = { rows: 0, bytes: 0, seconds: 0 }) });
      save();
    }
    let sequences: SequenceValue[] | undefined;
    const { recopied } = await resumeWithSecondSlot({
      source, target, plan, db, save, log, buildOwnEntries, timeoutMs: req.syncTimeoutMs ?? 3_600_000,
      copy: { source: withDatabase(req.source, plan.source), target: withDatabase(req.target, plan.target), tls: req.tls, jobs: req.jobs, binary: run.binary, splitBytes: req.splitBytes, sourceMajor: run.sourceMajor },
      subscriptionConninfo: subscriptionConninfo(withDatabase(req.source, plan.source), req.tls), secondName: resumeObjectName(run.jobId, plan.source),
      onSequences: (values) => (sequences = values),
    });
    // Values read now are never behind the ones the copied rows used.
    await applySequenceValues(target, sequences ?? (await readSequenceValues(source)));
    if (!db.steps.largeObjects && !sequences) await copyLargeObjects(source, target);
    db.steps.data = { seconds: (performance.now() - started) / 1000 };
    db.steps.largeObjects ??= { seconds: 0 };
    db.steps.sequences ??= { seconds: 0 };
    save();
    return recopied;
  } finally {
    await target.end().catch(() => undefined);
  }
}

/** --no-sync: a snapshot-only copy keeps no slot (it would retain WAL), no publication, no subscription. */
async function dropReplicationObjects(run: DatabaseRun, source: pg.Client): Promise<void> {
  const { db } = run;
  if (db.subscription) {
    // A resumed copy is consistent once its subscription has caught up with the source.
    await waitForSlotConfirmed(source, db.slot, await settledPoint(source, run.req.syncTimeoutMs ?? 3_600_000), run.req.syncTimeoutMs ?? 3_600_000);
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
