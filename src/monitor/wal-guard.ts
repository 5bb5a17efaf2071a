import type pg from 'pg';
import { quoteIdent } from '../catalog/ident.ts';
import { formatBytes } from '../snapshot/estimate.ts';
import { consumed, type ReplicationReading } from './readings.ts';

// The WAL-retention guard. A logical slot keeps every WAL segment from its restart point on, and only
// a consumer moves that point: a slot nobody streams from (init done but no sync, a subscription
// disabled, an apply worker that cannot connect) retains WAL until the source's disk fills and the
// source stops. The guard says so with the commands that resume or remove the slot, and, opt-in,
// drops a slot whose retained WAL passes a hard limit.

export const GIB = 1024 ** 3;

/** The previous reading of the same slot, when the caller keeps one (status --watch, a warm monitor). */
export type PreviousReading = Pick<ReplicationReading, 'at' | 'retainedBytes' | 'slotExists' | 'slotActive'>;

/** WAL retained since the previous reading while nobody consumed the slot; undefined without a comparable previous reading. */
export function unconsumedGrowth(
  reading: ReplicationReading,
  previous: PreviousReading | undefined,
): number | undefined {
  if (!previous || !reading.slotExists || !previous.slotExists) return undefined;
  if (consumed(reading) || consumed(previous)) return 0;
  return Math.max(0, reading.retainedBytes - previous.retainedBytes);
}

/** How the operator resumes or removes the job's replication, for the warning to quote. */
export interface GuardCommands {
  resume: string;
  remove: string;
}

/** The CLI commands for a job: `sync` streams from the slot again (and enables a disabled subscription), `cleanup` drops it. */
export function guardCommands(jobId: string, mode: 'local' | 'remote' = 'local'): GuardCommands {
  const flags = `${mode === 'remote' ? '--remote ' : ''}--job-id ${jobId}`;
  return { resume: `database-replicator sync ${flags}`, remove: `database-replicator cleanup ${flags}` };
}

/**
 * One sentence when the slot's retained WAL grows with no subscription consuming it, else undefined.
 * Without a previous reading an unconsumed slot is warned about as it stands: its WAL cannot shrink.
 */
export function walRetentionWarning(
  reading: ReplicationReading,
  previous: PreviousReading | undefined,
  commands: GuardCommands,
): string | undefined {
  if (!reading.slotExists || consumed(reading)) return undefined;
  const growth = unconsumedGrowth(reading, previous);
  if (growth === 0 && previous && previous.retainedBytes === reading.retainedBytes && reading.retainedBytes === 0)
    return undefined;
  const since = previous
    ? Math.max(0, Math.round((Date.parse(reading.at) - Date.parse(previous.at)) / 1000))
    : undefined;
  const grew =
    growth !== undefined && since !== undefined
      ? ` (${growth > 0 ? `+${formatBytes(growth)}` : 'unchanged'} in the last ${since} s)`
      : '';
  const why = !reading.subscriptionExists
    ? 'no subscription exists for it yet'
    : !reading.subscriptionEnabled
      ? `the subscription ${reading.subscription} is disabled`
      : 'the subscription is not streaming from it';
  return (
    `the slot ${reading.slot} of ${reading.database} retains ${formatBytes(reading.retainedBytes)} of WAL${grew} and nothing consumes it (${why}): ` +
    `it grows until the source's disk fills. Resume replication with \`${commands.resume}\`, or remove the slot with \`${commands.remove}\`.`
  );
}

/** Whether the opt-in hard limit is passed (no limit: never). */
export function overHardLimit(reading: ReplicationReading, maxRetainedWalGb: number | undefined): boolean {
  return (
    maxRetainedWalGb !== undefined &&
    maxRetainedWalGb > 0 &&
    reading.slotExists &&
    reading.retainedBytes > maxRetainedWalGb * GIB
  );
}

/** The sentence the job record keeps when the guard dropped a slot. */
export function slotDroppedReason(
  reading: ReplicationReading,
  maxRetainedWalGb: number,
  commands: GuardCommands,
): string {
  return (
    `The WAL-retention guard dropped the slot ${reading.slot} of ${reading.database}: it retained ${formatBytes(reading.retainedBytes)} of WAL, ` +
    `more than maxRetainedWalGb ${maxRetainedWalGb} GB, so the source's disk would have filled. The target no longer receives changes of this database: ` +
    `run \`${commands.remove}\`, then init again.`
  );
}

/**
 * Drops the slot on the source even while a WAL sender streams from it. The subscription is disabled
 * first when the target answers, so its apply worker does not reconnect and take the slot back between
 * the walsender's end and the drop. Returns whether a slot was dropped (false: it was gone already).
 */
export async function dropRetainingSlot(
  source: pg.Client,
  target: pg.Client | undefined,
  names: { slot: string; subscription: string },
): Promise<boolean> {
  if (target) {
    const { rowCount } = await target.query(
      'SELECT 1 FROM pg_subscription WHERE subname = $1 AND subenabled AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())',
      [names.subscription],
    );
    if (rowCount) await target.query(`ALTER SUBSCRIPTION ${quoteIdent(names.subscription)} DISABLE`);
  }
  for (let attempt = 0; attempt < 50; attempt++) {
    const { rows } = await source.query<{ pid: number | null }>(
      'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
      [names.slot],
    );
    if (rows.length === 0) return false;
    const pid = rows[0]!.pid;
    if (pid === null) {
      try {
        const dropped = await source.query(
          'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
          [names.slot],
        );
        if (dropped.rowCount) return true;
      } catch (error) {
        // 55006 object_in_use: a consumer took the slot between the two reads; end it on the next round.
        if ((error as { code?: string }).code !== '55006') throw error;
      }
    } else {
      await source.query('SELECT pg_terminate_backend($1)', [pid]);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new SlotInUseError(
    `The slot ${names.slot} stayed in use for 5 s while the WAL-retention guard tried to drop it; drop it with \`SELECT pg_drop_replication_slot('${names.slot}')\` once its consumer is stopped.`,
  );
}

/** The guard could not drop a slot because something kept using it. */
export class SlotInUseError extends Error {
  override name = 'SlotInUseError';
}
