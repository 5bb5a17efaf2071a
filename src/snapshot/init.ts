import { join } from 'node:path';
import type pg from 'pg';
import { readServerFacts } from '../catalog/server.ts';
import { readDatabaseIdentity, refuseSameDatabases } from '../catalog/identity.ts';
import { openClient } from '../connection/client.ts';
import { ConnectionError } from '../connection/errors.ts';
import type { TlsPolicy } from '../connection/tls.ts';
import type { DatabaseRun, DatabaseSteps } from './database-run.ts';
import { firstCopyData, initSteps, resumeData } from './init-steps.ts';
import { ResumeImpossibleError } from './resume-database.ts';
import { runSteps } from './steps.ts';
import { checkNewTargets } from './target-database.ts';
import { deriveJobId, replicationObjectName } from '../jobs/naming.ts';
import { withDatabase, type ConnectionSpec } from '../connection/url.ts';
import type { Logger } from '../log/logger.ts';
import type { DatabasePlan, FilterOptions } from '../plan/plan.ts';
import { slotExists } from '../replication/slot.ts';
import { planJob } from '../plan/job-plan.ts';
import { copyRoles, type RoleCopyResult } from './roles.ts';
import type { InitCheckpoint, InitStep } from '../jobs/checkpoint.ts';
import type { CheckpointWriter } from '../jobs/checkpoint-writer.ts';
import { JobFinishedError, JobLockedError, lockJob } from './job-lock.ts';
import { type TargetDrop } from './drop-target.ts';
import type { CopyProgress } from './table-copies.ts';

export { ResumeImpossibleError };

/** A rerun of an unfinished job asked for other filters than the job was started with. */
export class JobOptionsChangedError extends Error {
  override name = 'JobOptionsChangedError';
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
  /** Where the job's checkpoint is read and written (the job store); each save is durable before the step it records counts as done. */
  checkpoints: CheckpointWriter;
  /** A folder for the job's files (the post-data archive), kept until cleanup. */
  jobDir: string;
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

export type { CopyProgress };

export interface InitReport {
  jobId: string;
  resumed: boolean;
  cancelled: boolean;
  databases: {
    source: string;
    target: string;
    slot: string | null;
    publication: string | null;
    consistentPoint: string | null;
    subscription: string | null;
    tables: number;
    rows: number;
    bytes: number;
    steps: Partial<Record<InitStep, number>>;
    resynced: string[];
  }[];
  roles: RoleCopyResult | null;
}

/** DESIGN.md steps 1 to 6 for every planned database: plan, publication, slot with snapshot, schema, data, post-data. */
export async function runInit(req: InitRequest): Promise<InitReport> {
  const jobId = req.jobId ?? deriveJobId(req.source, req.target);
  const log = (line: string) => req.logger.info(line);
  const connectOptions = (role: 'source' | 'target') => ({ role, ...req.tls });
  const openSource = (db: string) => openClient(withDatabase(req.source, db), connectOptions('source'));
  const openTarget = (db: string) => openClient(withDatabase(req.target, db), connectOptions('target'));

  const loaded = await req.checkpoints.load();
  let previous = loaded;
  const finished = Boolean(previous && Object.values(previous.databases).every((d) => d.done));
  if (previous && finished && req.whenFinished === 'refuse') {
    throw new JobFinishedError(
      `Job ${jobId} already finished copying into ${Object.values(previous.databases)
        .map((d) => d.target)
        .join(
          ', ',
        )}; pass --drop-existing to refresh the target from the source (a new run of this job), --job-id with another id to start a separate job, or run cleanup to forget this one.`,
    );
  }
  if (previous && !finished && JSON.stringify(previous.filters) !== JSON.stringify(req.filters)) {
    throw new JobOptionsChangedError(
      `Job ${jobId} was started with other filters; run it again with the same options, or pass --job-id to start a separate job.`,
    );
  }
  if (previous && !finished && req.trackDdl && !previous.trackDdl) {
    throw new JobOptionsChangedError(
      `Job ${jobId} was started without --track-ddl, and its slot already exists; run it again without it (sync --apply-ddl carries schema changes), or clean it up and start over with --track-ddl.`,
    );
  }
  const refresh = Boolean(previous && finished && req.whenFinished === 'refresh');
  const resumed = Boolean(previous && !finished);
  if (!(finished && !refresh)) await req.assertPreconditions?.(resumed ? 'resume' : 'init');

  const sourceAdmin = await openClient(req.source, connectOptions('source'));
  let targetAdmin: pg.Client | undefined;
  const report: InitReport = { jobId, resumed, cancelled: false, databases: [], roles: null };
  try {
    await lockJob(sourceAdmin, jobId);
    if (JSON.stringify(await req.checkpoints.load()) !== JSON.stringify(loaded)) {
      throw new JobLockedError(
        `Another init of job ${jobId} changed its record while this one started; run the command again.`,
      );
    }
    const sourceFacts = await readServerFacts(sourceAdmin);
    targetAdmin = await openTarget('postgres').catch(async (error: unknown) => {
      if (error instanceof ConnectionError && error.reason === 'database-missing')
        return openClient(req.target, connectOptions('target'));
      throw error;
    });
    const targetFacts = await readServerFacts(targetAdmin);
    const binary = sourceFacts.major === targetFacts.major;
    if (refresh) {
      // A refresh starts the job over; a slot of its last run would keep retaining WAL and tie a subscription to data about to be dropped.
      const left = [];
      for (const db of Object.values(previous!.databases))
        if (await slotExists(sourceAdmin, db.slot)) left.push(db.slot);
      if (left.length)
        throw new JobFinishedError(
          `Job ${jobId} still replicates through slot ${left.join(', ')}; run cleanup for it first, then init --drop-existing to refresh the target.`,
        );
      log(`job ${jobId} finished before; refreshing: a new run copies the source again (--drop-existing)`);
      previous = undefined;
    }
    const { databases: plans, timeFilters } = await planJob(
      sourceAdmin,
      openSource,
      req,
      req.filters,
      sourceFacts.major,
      previous?.timeFilters,
    );
    // Before anything is written on either side, and on every run, resumed or not.
    refuseSameDatabases(
      await readDatabaseIdentity(sourceAdmin),
      await readDatabaseIdentity(targetAdmin),
      plans,
      'init',
    );

    if (previous && finished) {
      for (const plan of plans) {
        const { rowCount } = await targetAdmin.query('SELECT 1 FROM pg_database WHERE datname = $1', [plan.target]);
        if (!rowCount)
          throw new JobFinishedError(
            `Job ${jobId} finished, but the target database ${plan.target} is gone; run cleanup for the job, then init again.`,
          );
      }
      log(`job ${jobId} already finished; its copy is kept as it is`);
      return report;
    }
    if (!previous) {
      const drops = await checkNewTargets(req, plans, targetAdmin, openSource, openTarget);
      if (!(await req.confirm(plans, { drops }))) {
        report.cancelled = true;
        return report;
      }
    }

    const state: InitCheckpoint = previous ?? {
      version: 1,
      jobId,
      createdAt: new Date().toISOString(),
      updatedAt: '',
      source: `${req.source.host}:${req.source.port}`,
      target: `${req.target.host}:${req.target.port}`,
      filters: req.filters,
      noSync: req.noSync,
      ...(req.trackDdl ? { trackDdl: true } : {}),
      timeFilters,
      databases: {},
    };
    for (const plan of plans) {
      const name = replicationObjectName(jobId, plan.source);
      state.databases[plan.source] ??= {
        source: plan.source,
        target: plan.target,
        createdTargetDatabase: false,
        publication: name,
        slot: name,
        slotCreated: false,
        steps: {},
        copied: {},
        done: false,
      };
    }
    const save = () => req.checkpoints.save(state);
    await save();

    if (req.copyRoles && !previous) {
      log('copying roles (pg_dumpall --globals-only --no-role-passwords)');
      report.roles = await copyRoles(req.source, targetAdmin, req.tls, sourceFacts.major);
    }

    for (const plan of plans) {
      const db = state.databases[plan.source]!;
      const result = await replicateDatabase({
        jobId,
        analyzed: new Set(),
        req,
        plan,
        db,
        save,
        log,
        binary,
        sourceMajor: sourceFacts.major,
        targetAdmin,
        openSource,
        openTarget,
        jobDir: req.jobDir,
        noSync: state.noSync,
        trackDdl: Boolean(state.trackDdl),
      });
      report.databases.push(result);
    }
    await req.checkpoints.settled();
    return report;
  } finally {
    // Saves nobody waited for land before init ends, also when it failed: a rerun resumes from them.
    await req.checkpoints.settled().catch(() => undefined);
    await sourceAdmin.end().catch(() => undefined);
    await targetAdmin?.end().catch(() => undefined);
  }
}

async function replicateDatabase(run: DatabaseRun): Promise<InitReport['databases'][number]> {
  const { req, plan, db } = run;
  const source = await run.openSource(plan.source);
  const steps: DatabaseSteps = {
    ...run,
    source,
    schemaOptions: {
      source: withDatabase(req.source, plan.source),
      target: withDatabase(req.target, plan.target),
      tls: req.tls,
      snapshotName: null,
      sourceMajor: run.sourceMajor,
      keepOwnership: req.copyRoles,
    },
    postDataFile: join(run.jobDir, `${db.slot}.post-data.dump`),
    recopied: [],
  };
  try {
    // A job whose slot is recorded stopped after making it: the same steps, with a resume's data step.
    await runSteps(initSteps(db.slotCreated ? resumeData : firstCopyData), steps);
  } catch (error) {
    await steps.postData?.abandon();
    await steps.buildsUnderway?.done.catch(() => undefined);
    throw error;
  } finally {
    await steps.exported?.release();
    await source.end().catch(() => undefined);
  }
  // What the target holds, a resume's kept tables included.
  const copied = Object.values(db.copied);
  return {
    source: plan.source,
    target: plan.target,
    slot: run.noSync ? null : db.slot,
    publication: run.noSync ? null : db.publication,
    consistentPoint: db.consistentPoint ?? null,
    subscription: run.noSync ? null : (db.subscription ?? null),
    tables: plan.tables.filter((t) => t.mode === 'data').length,
    rows: copied.reduce((n, t) => n + t.rows, 0),
    bytes: copied.reduce((n, t) => n + t.bytes, 0),
    steps: Object.fromEntries(Object.entries(db.steps).map(([k, v]) => [k, v.seconds])),
    resynced: steps.recopied,
  };
}
