import type pg from 'pg';
import { quoteIdent } from '../catalog/ident.ts';
import { ConnectionError } from '../connection/errors.ts';
import type { Logger } from '../log/logger.ts';
import { listUserDatabases } from '../catalog/server.ts';
import { replicationObjectName, resumeObjectName } from '../jobs/naming.ts';
import type { JobContext } from './job.ts';
import { readDatabaseIdentity, refuseSameDatabases } from '../catalog/identity.ts';
import { removeDdlCapture } from '../ddl-capture/install.ts';

export interface CleanupResult {
  dropped: string[];
  warnings: string[];
}

/**
 * Removes what this tool made for a job: subscriptions on the target, publications and slots on the
 * source, init --track-ddl's event trigger and schema on both sides, also orphans left by an
 * interrupted run (same name prefix). Idempotent: a second run finds
 * nothing and succeeds.
 */
export async function runCleanup(job: JobContext, logger: Logger): Promise<CleanupResult> {
  // Names are matched exactly, never by prefix: job "shop" must not take the objects of job "shop_2".
  const prefix = `dbr_${job.jobId}_`;
  // A resume's second slot, publication and subscription are the job's too.
  const ours = (name: string, database: string) =>
    name === replicationObjectName(job.jobId, database) || name === resumeObjectName(job.jobId, database);
  const result: CleanupResult = { dropped: [], warnings: [] };
  const databases = job.state ? Object.values(job.state.databases) : [];
  const sourceDbs = new Set(databases.map((d) => d.source));
  const targetDbs = new Set(databases.map((d) => d.target));
  if (job.source.databaseGiven && job.source.database !== 'postgres') sourceDbs.add(job.source.database);
  if (job.target.databaseGiven && job.target.database !== 'postgres') targetDbs.add(job.target.database);

  let sourceReachable = true;
  // After cutover --read-only-source, new sessions on the source start read-only; ours must still drop things.
  const openSource = async (database: string) => {
    const client = await job.openSource(database);
    await client.query('SET default_transaction_read_only = off');
    return client;
  };
  const sourceAdmin = await openSource(job.source.database).catch((error: unknown) => {
    if (!(error instanceof ConnectionError)) throw error;
    sourceReachable = false;
    result.warnings.push(
      `${error.message} Slots and publications on the source were not removed; run cleanup again when it is reachable.`,
    );
    return undefined;
  });
  try {
    if (sourceAdmin)
      await refuseCleanupOfItself(
        job,
        sourceAdmin,
        databases.length ? databases : [{ source: job.source.database, target: job.target.database }],
      );
    const knownSources = new Set([...sourceDbs, ...(sourceAdmin ? await listUserDatabases(sourceAdmin) : [])]);
    const subscriptionNames = new Set(
      [...knownSources].flatMap((d) => [replicationObjectName(job.jobId, d), resumeObjectName(job.jobId, d)]),
    );
    // Subscriptions first: dropping one also drops its slot on the source, if it can reach it.
    for (const database of targetDbs) {
      const target = await job.openTarget(database).catch((error: unknown) => {
        if (error instanceof ConnectionError && error.reason === 'database-missing') return undefined;
        throw error;
      });
      if (!target) continue;
      try {
        const { rows } = await target.query<{ subname: string }>(
          `SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND starts_with(subname, $1)`,
          [prefix],
        );
        for (const { subname } of rows.filter((r) => subscriptionNames.has(r.subname))) {
          await dropSubscriptionOf(target, subname, sourceReachable, logger);
          result.dropped.push(`subscription ${subname} (target database ${database})`);
        }
        // init --track-ddl's log, functions and trigger, once nothing applies into them any more.
        for (const what of await removeDdlCapture(target, job.jobId))
          result.dropped.push(`${what} (target database ${database})`);
      } finally {
        await target.end().catch(() => undefined);
      }
    }
    if (!sourceAdmin) return result;
    for (const database of sourceDbs) {
      const source: pg.Client | undefined =
        database === job.source.database ? sourceAdmin : await openSource(database).catch(() => undefined);
      if (!source) continue;
      try {
        const { rows } = await source.query<{ pubname: string }>(
          'SELECT pubname FROM pg_publication WHERE starts_with(pubname, $1)',
          [prefix],
        );
        for (const { pubname } of rows.filter((r) => ours(r.pubname, database))) {
          await source.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(pubname)}`);
          result.dropped.push(`publication ${pubname} (source database ${database})`);
        }
        for (const what of await removeDdlCapture(source, job.jobId))
          result.dropped.push(`${what} (source database ${database})`);
      } finally {
        if (source !== sourceAdmin) await source.end().catch(() => undefined);
      }
    }
    // Slots of this job, orphans included; an active one belongs to a live walsender we end first.
    const { rows: slots } = await sourceAdmin.query<{ slot_name: string; database: string; active_pid: number | null }>(
      'SELECT slot_name, database, active_pid FROM pg_replication_slots WHERE starts_with(slot_name, $1)',
      [prefix],
    );
    for (const slot of slots.filter((s) => ours(s.slot_name, s.database))) {
      if (slot.active_pid) {
        await sourceAdmin.query('SELECT pg_terminate_backend($1)', [slot.active_pid]);
        await new Promise((r) => setTimeout(r, 300));
      }
      await sourceAdmin.query(
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
        [slot.slot_name],
      );
      result.dropped.push(`slot ${slot.slot_name}`);
    }
    await job.checkpoints.remove();
    return result;
  } finally {
    await sourceAdmin?.end().catch(() => undefined);
  }
}

/** Drops a subscription, and its slot on the source when the target reaches it; detached from the slot otherwise. */
async function dropSubscriptionOf(
  target: pg.Client,
  subname: string,
  sourceReachable: boolean,
  logger: Logger,
): Promise<void> {
  await target.query(`ALTER SUBSCRIPTION ${quoteIdent(subname)} DISABLE`);
  if (!sourceReachable) await target.query(`ALTER SUBSCRIPTION ${quoteIdent(subname)} SET (slot_name = NONE)`);
  try {
    await target.query(`DROP SUBSCRIPTION ${quoteIdent(subname)}`);
  } catch (error) {
    // The target could not reach the source to drop the slot: detach it and drop the rest.
    logger.warn(
      `dropping subscription ${subname} could not drop its slot on the source (${(error as Error).message}); detaching it`,
    );
    await target.query(`ALTER SUBSCRIPTION ${quoteIdent(subname)} SET (slot_name = NONE)`);
    await target.query(`DROP SUBSCRIPTION ${quoteIdent(subname)}`);
  }
}

/** Cleanup drops on both sides: where the target is the source, it changes nothing and says so. */
async function refuseCleanupOfItself(
  job: JobContext,
  sourceAdmin: pg.Client,
  pairs: { source: string; target: string }[],
): Promise<void> {
  const target = await job.openTarget(job.target.database).catch((error: unknown) => {
    if (error instanceof ConnectionError && error.reason === 'database-missing') return job.openTarget('postgres');
    throw error;
  });
  try {
    refuseSameDatabases(await readDatabaseIdentity(sourceAdmin), await readDatabaseIdentity(target), pairs, 'cleanup');
  } finally {
    await target.end().catch(() => undefined);
  }
}
