import type { SlotStatus, SubscriptionStatus } from '../replication/status.ts';

/**
 * What the monitor reads of one database of a job, once: the numbers it publishes and the WAL guard
 * judges. Flat and JSON-safe, so a Lambda can return it and a test can compare it.
 */
export interface ReplicationReading {
  database: string;
  targetDatabase: string;
  slot: string;
  subscription: string;
  /** When it was read (ISO). */
  at: string;
  slotExists: boolean;
  /** A WAL sender streams from the slot right now: something consumes it. */
  slotActive: boolean;
  walStatus: string | null;
  /** WAL the slot keeps on the source's disk. */
  retainedBytes: number;
  /** WAL written on the source that the subscriber has not confirmed yet. */
  lagBytes: number;
  /** Seconds since the subscriber last reported the source's end position; null without a worker. */
  lagSeconds: number | null;
  subscriptionExists: boolean;
  subscriptionEnabled: boolean;
  workerRunning: boolean;
  tablesTotal: number;
  tablesReady: number;
  tablesNotReady: number;
  /** PostgreSQL 15+ only; null before. */
  applyErrors: number | null;
  syncErrors: number | null;
}

export interface ReadingNames {
  database: string;
  targetDatabase: string;
  slot: string;
  subscription: string;
}

export function toReading(
  names: ReadingNames,
  slot: SlotStatus,
  subscription: SubscriptionStatus,
  at: Date,
): ReplicationReading {
  const states = Object.values(subscription.tables);
  const ready = states.filter((s) => s === 'ready').length;
  return {
    ...names,
    at: at.toISOString(),
    slotExists: slot.exists,
    slotActive: slot.active,
    walStatus: slot.walStatus,
    retainedBytes: slot.retainedBytes,
    lagBytes: slot.lagBytes,
    lagSeconds: subscription.lagSeconds,
    subscriptionExists: subscription.exists,
    subscriptionEnabled: subscription.enabled,
    workerRunning: subscription.workerRunning,
    tablesTotal: states.length,
    tablesReady: ready,
    tablesNotReady: states.length - ready,
    applyErrors: subscription.applyErrors,
    syncErrors: subscription.syncErrors,
  };
}

/** A slot is consumed while a WAL sender streams from it; otherwise its retained WAL only grows. */
export function consumed(reading: Pick<ReplicationReading, 'slotExists' | 'slotActive'>): boolean {
  return reading.slotExists && reading.slotActive;
}
