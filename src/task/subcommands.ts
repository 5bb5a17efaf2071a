// The five subcommands of the Fargate task, each a call into the engine for one database, as the
// CLI commands in src/cli/commands/ make them. They return a small JSON output (names, counts;
// never a secret) and throw on failure.
import { randomBytes } from 'node:crypto';
import { listUserDatabases } from '../catalog/server.ts';
import { withConnection } from '../connection/client.ts';
import type { TlsPolicy } from '../connection/tls.ts';
import type { ConnectionSpec } from '../connection/url.ts';
import type { JobStore } from '../jobs/store.ts';
import { verifyOutcome } from '../verify/outcome.ts';
import { describeFinding } from '../drift/types.ts';
import type { Logger } from '../log/logger.ts';
import type { FilterOptions } from '../plan/plan.ts';
import { runCleanup } from '../replication/cleanup.ts';
import { runCutover } from '../replication/cutover.ts';
import { loadJob, type JobContext } from '../replication/job.ts';
import { runSync } from '../replication/sync.ts';
import { runInit } from '../snapshot/init.ts';
import { assertPreconditions } from '../checks/preconditions.ts';
import { replicationObjectName } from '../jobs/naming.ts';
import type { DatabaseCheckpoint } from '../jobs/checkpoint.ts';
import { CheckpointWriter } from '../jobs/checkpoint-writer.ts';
import { runVerify, type VerifyReport } from '../verify/verify.ts';
import type { Subcommand, TaskConfig } from './config.ts';
import { safeError, type NamedError } from '../errors/safe-error.ts';
import { CleanupIncomplete, SnapshotMissing, VerifyDifferences } from './errors.ts';
import type { DatabaseRecorder } from './recorder.ts';
import { engineJobId, scopeFilters } from './scope.ts';

export interface TaskContext {
  config: TaskConfig;
  /** Already narrowed to DATABASE and TARGET_DATABASE; they hold passwords: never log or output them. */
  source: ConnectionSpec;
  target: ConnectionSpec;
  tls: TlsPolicy;
  /** A fresh folder for the job's files (init's post-data archive), removed when the task ends. */
  jobDir: string;
  /** The job store: the job record, and init's checkpoint of this database. */
  store: JobStore;
  recorder: DatabaseRecorder;
  logger: Logger;
  startedAt: string;
}

export interface SubcommandResult {
  output: Record<string, unknown>;
  /** The work ran, but its verdict is a failure (verify found differences). */
  failure?: NamedError;
}

export type SubcommandHandler = (ctx: TaskContext) => Promise<SubcommandResult>;

const GIB = 1024 ** 3;

/** The engine names this database's slot, publication and subscription after this (see engineJobId). */
const namesJobId = (ctx: TaskContext) => engineJobId(ctx.config.jobId, ctx.config.database);

/** Init's checkpoint of this database, kept on the job's record (each database's task has its own). */
const checkpointsOf = (ctx: TaskContext) => new CheckpointWriter(ctx.store, ctx.config.jobId, ctx.config.database);

function engineJob(ctx: TaskContext): Promise<JobContext> {
  return loadJob({
    source: ctx.source,
    target: ctx.target,
    tls: ctx.tls,
    jobId: namesJobId(ctx),
    checkpoints: () => checkpointsOf(ctx),
  });
}

/** This database's part of init's state, or the failure that says to run the snapshot first. */
function snapshotState(ctx: TaskContext, job: JobContext, subcommand: Subcommand): DatabaseCheckpoint {
  const db = job.state?.databases[ctx.config.database];
  if (!db) {
    throw new SnapshotMissing(
      `No snapshot of database ${ctx.config.database} is recorded for job ${ctx.config.jobId}; run the snapshot task for it before ${subcommand}.`,
    );
  }
  return db;
}

function names(ctx: TaskContext, db: DatabaseCheckpoint | undefined) {
  const name = db?.slot ?? replicationObjectName(namesJobId(ctx), ctx.config.database);
  return {
    slot: name,
    publication: db?.publication ?? name,
    ...(db?.subscription ? { subscription: db.subscription } : {}),
    ...(db?.consistentPoint ? { consistentPoint: db.consistentPoint } : {}),
  };
}

async function scopedFilters(ctx: TaskContext): Promise<FilterOptions> {
  const databases = await withConnection(ctx.source, { role: 'source', ...ctx.tls }, listUserDatabases);
  return scopeFilters(ctx.config.filters, ctx.config.database, databases);
}

/** init for this database, keeping the slot and publication for `subscribe`; resumes from the recorded state. */
export const snapshot: SubcommandHandler = async (ctx) => {
  const { config, recorder } = ctx;
  const filters = await scopedFilters(ctx);
  const report = await runInit({
    source: ctx.source,
    target: ctx.target,
    tls: ctx.tls,
    filters,
    jobId: namesJobId(ctx),
    jobs: config.jobs,
    noSync: false,
    trackDdl: config.plan.trackDdl ?? false,
    dropExisting: config.plan.dropExisting ?? false,
    copyRoles: config.plan.copyRoles ?? false,
    splitBytes: config.plan.splitTablesLargerThanBytes ?? GIB,
    checkpoints: checkpointsOf(ctx),
    jobDir: ctx.jobDir,
    logger: ctx.logger,
    whenFinished: 'keep',
    assertPreconditions: (scope) =>
      assertPreconditions('The snapshot task', scope, {
        source: ctx.source,
        target: ctx.target,
        allowSelfSignedCerts: ctx.tls.allowSelfSignedCerts,
        filters,
        trackDdl: config.plan.trackDdl ?? false,
      }),
    confirm: async (plans) => {
      for (const plan of plans) {
        const data = plan.tables.filter((t) => t.mode === 'data');
        ctx.logger.info(
          `${plan.source} -> ${plan.target}: ${data.length} table(s) to copy, about ${data.reduce((n, t) => n + t.bytes, 0)} bytes`,
        );
        recorder.set({ tablesDone: 0, tablesTotal: data.length, rowsCopied: 0, bytesCopied: 0 });
      }
      return true;
    },
    onProgress: (p) => recorder.copyProgress(p),
  });
  const db = snapshotState(ctx, await engineJob(ctx), 'subscribe');
  const copied = Object.values(db.copied);
  const done = report.databases[0];
  const tables = done?.tables ?? copied.length;
  const totals = {
    tables,
    rows: copied.reduce((n, c) => n + c.rows, 0),
    bytes: copied.reduce((n, c) => n + c.bytes, 0),
  };
  recorder.set({
    tablesDone: tables,
    tablesTotal: Math.max(tables, recorder.progress.tablesTotal),
    rowsCopied: totals.rows,
    bytesCopied: totals.bytes,
  });
  return {
    output: {
      ...names(ctx, db),
      ...totals,
      resumed: report.resumed,
      resynced: done?.resynced ?? [],
      steps: Object.fromEntries(Object.entries(db.steps).map(([k, v]) => [k, Math.round(v.seconds * 10) / 10])),
    },
  };
};

/** sync: the subscription on init's slot, its origin advanced to the consistent point, enabled. */
export const subscribe: SubcommandHandler = async (ctx) => {
  const job = await engineJob(ctx);
  snapshotState(ctx, job, 'subscribe');
  await assertPreconditions('The subscribe task', 'sync', {
    source: ctx.source,
    target: ctx.target,
    allowSelfSignedCerts: ctx.tls.allowSelfSignedCerts,
    filters: job.state!.filters,
  });
  const target = ctx.config.plan.subscriptionSslRootCert;
  const [result] = await runSync({
    job,
    copyData: false,
    applyDdl: ctx.config.plan.applyDdl ?? false,
    logger: ctx.logger,
    ...(target ? { targetSslRootCert: target } : {}),
  });
  const db = job.state!.databases[ctx.config.database];
  const ddl = result?.ddl ? { ddlApplied: result.ddl.applied.length, ddlNotApplied: result.ddl.listed.length } : {};
  for (const line of result?.ddl?.applied ?? []) ctx.logger.info(`applied: ${line}`);
  for (const f of result?.ddl?.listed ?? [])
    ctx.logger.warn(`not applied (destructive or ambiguous): ${describeFinding(f)}`);
  return { output: { ...names(ctx, db), action: result?.action ?? 'unchanged', ...ddl } };
};

/** Compares source and target and records a verify run; differences make the task fail (VerifyDifferences). */
export const verify: SubcommandHandler = async (ctx) => {
  const { config } = ctx;
  const job = await engineJob(ctx);
  const runId = `${config.database.slice(0, 63)}-${randomBytes(4).toString('hex')}`;
  const run = { jobId: config.jobId, runId, database: config.database, startedAt: ctx.startedAt };
  let report: VerifyReport;
  try {
    const filters = job.state?.filters ?? (await scopedFilters(ctx));
    const v = config.plan.verify ?? {};
    report = await runVerify({
      job,
      filters,
      jobs: config.jobs,
      maxDiffs: v.maxDiffs ?? 20,
      rowsPerChunk: v.rowsPerChunk ?? 100_000,
      recheckTimeoutMs: (v.recheckTimeoutSeconds ?? 120) * 1000,
      logger: ctx.logger,
    });
  } catch (error) {
    const empty = { total: 0, equal: 0, different: 0, unconfirmed: 0, error: 0 };
    await ctx.store.putVerifyRun({
      ...run,
      endedAt: new Date().toISOString(),
      outcome: 'error',
      tables: empty,
      differences: 0,
      error: safeError(error).message.slice(0, 4000),
    });
    throw error;
  }
  const { outcome, tables, differences, schemaDiffs } = verifyOutcome(report);
  await ctx.store.putVerifyRun({ ...run, endedAt: new Date().toISOString(), outcome, tables, differences });
  const output = { runId, outcome, tables, differences, schemaDifferences: schemaDiffs };
  if (outcome !== 'different') return { output };
  const differing = report.databases.flatMap((d) => [
    ...d.tables.filter((t) => t.status === 'different').map((t) => t.table),
    ...d.materializedViews.filter((m) => m.status === 'different').map((m) => `materialized view ${m.matview}`),
  ]);
  return {
    output,
    failure: new VerifyDifferences(
      `Verify found differences in database ${config.database}: ${tables.different} table(s) differ${differing.length ? ` (${differing.slice(0, 5).join(', ')}${differing.length > 5 ? ', ...' : ''})` : ''} and ${schemaDiffs} schema difference(s); check replication health, then run verify again or the CLI's verify for the keys.`,
    ),
  };
};

/** Waits for the lag to drop, optionally stops writes on the source, then copies sequences. */
export const cutover: SubcommandHandler = async (ctx) => {
  const job = await engineJob(ctx);
  const db = snapshotState(ctx, job, 'cutover');
  const c = ctx.config.plan.cutover ?? {};
  const [result] = await runCutover({
    job,
    maxLagBytes: c.maxLagBytes ?? 1024 * 1024,
    timeoutMs: (c.timeoutSeconds ?? 600) * 1000,
    readOnlySource: c.readOnlySource ?? false,
    sequenceMargin: c.sequenceMargin ?? 0,
    logger: ctx.logger,
  });
  return {
    output: {
      ...names(ctx, db),
      appliedLsn: result?.appliedLsn,
      sequences: result?.sequences ?? 0,
      materializedViews: result?.materializedViews.length ?? 0,
      sourceReadOnly: result?.sourceReadOnly ?? false,
      seconds: Math.round((result?.seconds ?? 0) * 10) / 10,
    },
  };
};

/** Drops the subscription, publication and slot of this database (orphans too); idempotent. */
export const cleanup: SubcommandHandler = async (ctx) => {
  const job = await engineJob(ctx);
  const before = names(ctx, job.state?.databases[ctx.config.database]);
  const result = await runCleanup(job, ctx.logger);
  if (result.warnings.length)
    throw new CleanupIncomplete(
      `${result.warnings.join(' ')} Dropped so far: ${result.dropped.join(', ') || 'nothing'}.`,
    );
  return { output: { slot: before.slot, publication: before.publication, dropped: result.dropped } };
};

export const SUBCOMMAND_HANDLERS: Record<Subcommand, SubcommandHandler> = {
  snapshot,
  subscribe,
  verify,
  cutover,
  cleanup,
};
