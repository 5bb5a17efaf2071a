import { readServerFacts } from '../catalog/server.ts';
import { assertNotSameDatabase } from '../catalog/identity.ts';
import { withDatabase, type ConnectionSpec } from '../connection/url.ts';
import type { Logger } from '../log/logger.ts';
import { createPublication, publicationExists } from '../replication/publication.ts';
import { replicationObjectName } from '../jobs/naming.ts';
import type { JobContext } from './job.ts';
import { withClients } from './job.ts';
import { readSlotStatus, readSubscriptionStatus } from './status.ts';
import { targetConnectionFailure } from './reachability.ts';
import {
  createSubscription,
  createSubscriptionAtSlot,
  subscriptionChecksLess,
  subscriptionConninfo,
  subscriptionExists,
  type SubscriptionTls,
} from './subscription.ts';
import { quoteIdent } from '../catalog/ident.ts';
import { applyDrift, type DriftApplied } from '../drift/apply.ts';
import { detectDrift } from '../drift/detect.ts';

export interface SyncRequest {
  job: JobContext;
  /** The address the target uses to reach the source, when it differs from --source (e.g. a private endpoint). */
  subscriptionSource?: ConnectionSpec;
  /**
   * A CA file on the target server for the subscription to check the source's certificate with
   * (default: the sslrootcert of subscriptionSource, a URL for the target's use). Without one the
   * subscription encrypts without checking (sslmode=require).
   */
  targetSslRootCert?: string;
  copyData: boolean;
  /** Apply the additive schema drift to the target first (src/drift), and list the rest. */
  applyDdl?: boolean;
  logger: Logger;
}

export interface SyncResult {
  database: string;
  subscription: string;
  action: 'created' | 'unchanged' | 'enabled';
  note?: string;
  /** With applyDdl: the drift applied, and the drift only listed with its statements. */
  ddl?: DriftApplied;
}

export class SyncError extends Error {
  override name = 'SyncError';
}

/** Maps CREATE SUBSCRIPTION's connection failures (the target reaching the source) to a remedy. */
function describeSubscriptionFailure(error: unknown, database: string): Error {
  const sentence = targetConnectionFailure(error, database);
  if (sentence) return new SyncError(sentence, { cause: error });
  return error instanceof Error ? error : new SyncError(String(error));
}

/** The CA file the target server checks the source with: given, or that of the URL given for the target's use. */
export function targetTls(req: Pick<SyncRequest, 'subscriptionSource' | 'targetSslRootCert'>): SubscriptionTls {
  return { targetSslRootCert: req.targetSslRootCert ?? req.subscriptionSource?.sslrootcert };
}

/** What to tell about the subscription's connection: the stored password, and a certificate left unchecked. */
function connectionNote(spec: ConnectionSpec, req: SyncRequest): string | undefined {
  const notes = [
    ...(spec.password !== undefined
      ? [
          'the subscription stores the source password on the target (pg_subscription); use a dedicated replication user',
        ]
      : []),
    ...(subscriptionChecksLess(spec, req.job.tls, targetTls(req))
      ? [
          "the target checks no certificate of the source (sslmode=require): the CA file in the source URL is on this side, not on the target server; give a CA path on the target server (sslrootcert in --subscription-source-url, or the workflow plan's subscriptionSslRootCert)",
        ]
      : []),
  ];
  return notes.length ? notes.join('; ') : undefined;
}

/** What sync needs from init, checked before any connection: a recorded job, unless --copy-data. */
export function assertSyncable(job: JobContext, copyData: boolean): void {
  if (!job.state && !copyData) {
    throw new SyncError(
      `There is no slot from init for job ${job.jobId} (nothing in the job store); run init first, or pass --copy-data to let PostgreSQL copy the tables itself into empty tables on the target.`,
    );
  }
}

/**
 * DESIGN.md step 7: per database, a subscription on init's slot with no copy, its origin moved to the
 * slot's consistent point, then enabled. A healthy subscription is left as it is.
 */
export async function runSync(req: SyncRequest): Promise<SyncResult[]> {
  const { job } = req;
  const results: SyncResult[] = [];
  assertSyncable(job, req.copyData);
  if (!job.state) return [await syncWithCopy(req)];
  for (const db of Object.values(job.state.databases)) {
    if (!db.done)
      throw new SyncError(
        `init has not finished for database ${db.source}; run the same init command again to resume it, then sync.`,
      );
    const name = db.slot;
    await withClients([job.openSource(db.source), job.openTarget(db.target)], async (source, target) => {
      await assertNotSameDatabase(source!, target!, 'sync');
      const [sourceFacts, targetFacts] = await Promise.all([readServerFacts(source!), readServerFacts(target!)]);
      const slot = await readSlotStatus(source!, db.slot);
      if (await subscriptionExists(target!, name)) {
        if (!slot.exists)
          throw new SyncError(
            `The slot ${db.slot} of database ${db.source} is gone while its subscription exists; changes were lost, so run cleanup and init again.`,
          );
        // The target's tables first: a subscription enabled before them would stop again on the first change.
        const wasEnabled = (await readSubscriptionStatus(target!, name, targetFacts.major)).enabled;
        const ddl = req.applyDdl
          ? await applyDrift(
              source!,
              target!,
              name,
              await detectDrift(source!, target!, {
                database: db.source,
                subscription: name,
                publication: db.publication,
              }),
            )
          : undefined;
        const sub = await readSubscriptionStatus(target!, name, targetFacts.major);
        if (ddl) {
          const did = [
            ddl.applied.length ? `applied ${ddl.applied.length} schema change(s)` : 'no schema change to apply',
            ...(ddl.listed.length ? [`${ddl.listed.length} left for you to run`] : []),
          ].join(', ');
          results.push({
            database: db.source,
            subscription: name,
            action: !wasEnabled && sub.enabled ? 'enabled' : 'unchanged',
            note: `${did}${!wasEnabled && sub.enabled ? '; the subscription was disabled and is enabled again' : ''}`,
            ddl,
          });
          return;
        }
        if (!sub.enabled) {
          await target!.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} ENABLE`);
          results.push({
            database: db.source,
            subscription: name,
            action: 'enabled',
            note: 'the subscription was disabled; enabled it again',
          });
        } else {
          results.push({
            database: db.source,
            subscription: name,
            action: 'unchanged',
            note: sub.workerRunning ? 'already streaming' : 'enabled, but no apply worker runs yet (see status)',
          });
        }
        return;
      }
      if (!slot.exists)
        throw new SyncError(
          `The slot ${db.slot} from init is missing on the source for database ${db.source}; run cleanup and init again.`,
        );
      const spec = withDatabase(req.subscriptionSource ?? job.source, db.source);
      try {
        await createSubscriptionAtSlot(target!, {
          name,
          conninfo: subscriptionConninfo(spec, job.tls, targetTls(req)),
          publication: db.publication,
          slot: db.slot,
          consistentPoint: db.consistentPoint!,
          binary: sourceFacts.major === targetFacts.major,
          streaming: targetFacts.major >= 16 ? 'parallel' : 'on',
        });
      } catch (error) {
        throw describeSubscriptionFailure(error, db.source);
      }
      db.subscription = name;
      await job.checkpoints.save(job.state!);
      results.push({ database: db.source, subscription: name, action: 'created', note: connectionNote(spec, req) });
    });
  }
  return results;
}

/** --copy-data without init: PostgreSQL's own initial copy into the (empty) tables that already exist on the target. */
async function syncWithCopy(req: SyncRequest): Promise<SyncResult> {
  const { job } = req;
  const database = job.source.database;
  const name = replicationObjectName(job.jobId, database);
  return withClients([job.openSource(database), job.openTarget(job.target.database)], async (source, target) => {
    await assertNotSameDatabase(source!, target!, 'sync');
    const facts = await readServerFacts(source!);
    if (await subscriptionExists(target!, name))
      return { database, subscription: name, action: 'unchanged' as const, note: 'already exists' };
    const { rows } = await source!.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
    );
    if (!(await publicationExists(source!, name)))
      await createPublication(
        source!,
        name,
        rows.map((r) => ({ ...r, rowFilter: null })),
        facts.major,
      );
    const spec = withDatabase(req.subscriptionSource ?? job.source, database);
    try {
      await createSubscription(target!, name, subscriptionConninfo(spec, job.tls, targetTls(req)), name, [
        'copy_data = true',
        'streaming = on',
      ]);
    } catch (error) {
      throw describeSubscriptionFailure(error, database);
    }
    // Recorded like an init job, so status, cutover and cleanup find it.
    const now = new Date().toISOString();
    job.state = {
      version: 1,
      jobId: job.jobId,
      createdAt: now,
      updatedAt: now,
      source: `${job.source.host}:${job.source.port}`,
      target: `${job.target.host}:${job.target.port}`,
      filters: {},
      noSync: false,
      timeFilters: [],
      databases: {
        [database]: {
          source: database,
          target: job.target.database,
          createdTargetDatabase: false,
          publication: name,
          slot: name,
          slotCreated: true,
          steps: {},
          copied: {},
          subscription: name,
          done: true,
        },
      },
    };
    await job.checkpoints.save(job.state);
    return {
      database,
      subscription: name,
      action: 'created' as const,
      note: 'PostgreSQL copies the tables itself (copy_data = true); status shows when they are synchronized',
    };
  });
}
