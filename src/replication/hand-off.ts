import type pg from 'pg';
import { quoteIdent } from '../catalog/ident.ts';
import { committedWalEnd } from '../catalog/wal.ts';
import { subscriptionExists } from './subscription.ts';

/** A resume could not bring its two streams together (in the time it was given). */
export class HandOffError extends Error {
  override name = 'HandOffError';
}

/**
 * Runs `check` until it holds or `timeoutMs` has passed; whether it held. Checks again after 10 ms, then
 * twice as long each time up to 200 ms: most waits of a hand-off are short.
 */
export async function pollUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 10; !(await check()); delay = Math.min(delay * 2, 200)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  return true;
}

async function poll(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  if (!(await pollUntil(check, timeoutMs)))
    throw new HandOffError(
      `Timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}; run init again to go on from here (status shows the lag).`,
    );
}

/**
 * A WAL position behind which every transaction is finished: the transactions running now (one of
 * them may have changed a table before a publication change and commit after it) end first. Slot
 * creation waits the same way for its consistent point.
 */
export async function settledPoint(source: pg.Client, timeoutMs: number): Promise<string> {
  const { rows } = await source.query<{ xmax: string }>(
    'SELECT txid_snapshot_xmax(txid_current_snapshot())::text AS xmax',
  );
  const xmax = rows[0]!.xmax;
  await poll(
    async () =>
      (
        await source.query<{ done: boolean }>(
          'SELECT txid_snapshot_xmin(txid_current_snapshot()) >= $1::bigint AS done',
          [xmax],
        )
      ).rows[0]!.done,
    timeoutMs,
    'the transactions running on the source to finish',
  );
  return committedWalEnd(source);
}

/** Waits until the slot's subscriber has applied and flushed everything up to `lsn`. */
export async function waitForSlotConfirmed(
  source: pg.Client,
  slot: string,
  lsn: string,
  timeoutMs: number,
): Promise<void> {
  await poll(
    async () =>
      Boolean(
        (
          await source.query<{ done: boolean | null }>(
            'SELECT confirmed_flush_lsn >= $2::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = $1',
            [slot, lsn],
          )
        ).rows[0]?.done,
      ),
    timeoutMs,
    `the subscription on slot ${slot} to apply the changes up to ${lsn}`,
  );
}

/** "schema.table" of each relation a publication names itself, or a subscription applies changes to; $1 is its name. */
const RELATION_KEYS_SQL = {
  publication: `SELECT format('%s.%s', n.nspname, c.relname) AS key FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
       JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE p.pubname = $1`,
  subscription: `SELECT format('%s.%s', n.nspname, c.relname) AS key FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid
       JOIN pg_class c ON c.oid = r.srrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE s.subname = $1`,
};

async function relationKeys(client: pg.Client, of: keyof typeof RELATION_KEYS_SQL, name: string): Promise<Set<string>> {
  const { rows } = await client.query<{ key: string }>(RELATION_KEYS_SQL[of], [name]);
  return new Set(rows.map((r) => r.key));
}

/** Tables a publication names itself ("schema.table"), as the catalog holds them now. */
export function publicationMembers(source: pg.Client, publication: string): Promise<Set<string>> {
  return relationKeys(source, 'publication', publication);
}

/** Tables a subscription applies changes to ("schema.table"). */
export function subscriptionTables(target: pg.Client, subscription: string): Promise<Set<string>> {
  return relationKeys(target, 'subscription', subscription);
}

/** Disables a subscription and waits until its apply worker has stopped: nothing more is applied after. */
export async function stopSubscription(target: pg.Client, subscription: string, timeoutMs: number): Promise<void> {
  await target.query(`ALTER SUBSCRIPTION ${quoteIdent(subscription)} DISABLE`);
  await poll(
    async () =>
      (
        await target.query(
          'SELECT 1 FROM pg_stat_subscription s JOIN pg_subscription p ON p.oid = s.subid WHERE p.subname = $1 AND s.pid IS NOT NULL',
          [subscription],
        )
      ).rowCount === 0,
    timeoutMs,
    `the apply worker of subscription ${subscription} to stop`,
  );
}

/**
 * Where a stopped subscription's stream goes on: the end of the last transaction it applied, or the
 * slot's confirmed point when that is further (the sender never goes back behind it).
 */
export async function appliedPoint(
  source: pg.Client,
  target: pg.Client,
  subscription: string,
  slot: string,
): Promise<string> {
  const { rows } = await target.query<{ lsn: string | null }>(
    `SELECT pg_replication_origin_progress('pg_' || oid, true)::text AS lsn FROM pg_subscription WHERE subname = $1`,
    [subscription],
  );
  const { rows: s } = await source.query<{ lsn: string | null }>(
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  const points = [rows[0]?.lsn, s[0]?.lsn].filter((p): p is string => Boolean(p));
  if (points.length === 0)
    throw new HandOffError(
      `Subscription ${subscription} has applied nothing and slot ${slot} is gone; run cleanup and init again.`,
    );
  const { rows: max } = await source.query<{ lsn: string }>(`SELECT max(p)::text AS lsn FROM unnest($1::pg_lsn[]) p`, [
    points,
  ]);
  return max[0]!.lsn;
}

/** Drops a subscription but keeps its slot on the source, for another subscription to go on from. */
export async function dropSubscriptionKeepSlot(target: pg.Client, subscription: string): Promise<void> {
  if (!(await subscriptionExists(target, subscription))) return;
  await target.query(`ALTER SUBSCRIPTION ${quoteIdent(subscription)} DISABLE`);
  await target.query(`ALTER SUBSCRIPTION ${quoteIdent(subscription)} SET (slot_name = NONE)`);
  await target.query(`DROP SUBSCRIPTION ${quoteIdent(subscription)}`);
}
