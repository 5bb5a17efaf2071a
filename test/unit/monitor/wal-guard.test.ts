import { describe, expect, it } from 'vitest';
import type { ReplicationReading } from '../../../src/monitor/readings.ts';
import {
  guardCommands,
  overHardLimit,
  slotDroppedReason,
  unconsumedGrowth,
  walRetentionWarning,
} from '../../../src/monitor/wal-guard.ts';

const reading = (over: Partial<ReplicationReading> = {}): ReplicationReading => ({
  database: 'shop',
  targetDatabase: 'shop',
  slot: 'dbr_j_shop_abc123',
  subscription: 'dbr_j_shop_abc123',
  at: '2026-01-01T00:01:00.000Z',
  slotExists: true,
  slotActive: false,
  walStatus: 'reserved',
  retainedBytes: 3 * 1024 ** 2,
  lagBytes: 0,
  lagSeconds: null,
  subscriptionExists: true,
  subscriptionEnabled: false,
  workerRunning: false,
  tablesTotal: 2,
  tablesReady: 2,
  tablesNotReady: 0,
  applyErrors: 0,
  syncErrors: 0,
  ...over,
});
const local = guardCommands('j1');

describe('the WAL-retention guard', () => {
  it('says nothing while a subscription consumes the slot, or when there is no slot', () => {
    expect(
      walRetentionWarning(
        reading({ slotActive: true, subscriptionEnabled: true, workerRunning: true }),
        undefined,
        local,
      ),
    ).toBeUndefined();
    expect(walRetentionWarning(reading({ slotExists: false }), undefined, local)).toBeUndefined();
  });

  it('warns about an unconsumed slot with why and the commands, and the growth since the previous reading', () => {
    const first = walRetentionWarning(reading(), undefined, local)!;
    expect(first).toBe(
      'the slot dbr_j_shop_abc123 of shop retains 3.0 MB of WAL and nothing consumes it (the subscription dbr_j_shop_abc123 is disabled): ' +
        "it grows until the source's disk fills. Resume replication with `database-replicator sync --job-id j1`, or remove the slot with `database-replicator cleanup --job-id j1`.",
    );
    const previous = reading({ at: '2026-01-01T00:00:00.000Z', retainedBytes: 2 * 1024 ** 2 });
    expect(walRetentionWarning(reading(), previous, local)).toContain(
      'retains 3.0 MB of WAL (+1.0 MB in the last 60 s) and nothing consumes it',
    );
    expect(
      walRetentionWarning(reading({ subscriptionExists: false }), undefined, guardCommands('j1', 'remote')),
    ).toContain('(no subscription exists for it yet)');
    expect(walRetentionWarning(reading(), undefined, guardCommands('j1', 'remote'))).toContain(
      '`database-replicator sync --remote --job-id j1`',
    );
  });

  it('counts growth only while nothing consumes the slot', () => {
    const previous = reading({ retainedBytes: 1000 });
    expect(unconsumedGrowth(reading({ retainedBytes: 5000 }), previous)).toBe(4000);
    expect(unconsumedGrowth(reading({ retainedBytes: 5000, slotActive: true }), previous)).toBe(0);
    expect(unconsumedGrowth(reading({ retainedBytes: 5000 }), undefined)).toBeUndefined();
    expect(unconsumedGrowth(reading({ retainedBytes: 500 }), previous)).toBe(0);
  });

  it('passes the hard limit only when one is set and the slot holds more than it', () => {
    expect(overHardLimit(reading({ retainedBytes: 60 * 1024 ** 3 }), undefined)).toBe(false);
    expect(overHardLimit(reading({ retainedBytes: 60 * 1024 ** 3 }), 50)).toBe(true);
    expect(overHardLimit(reading({ retainedBytes: 50 * 1024 ** 3 }), 50)).toBe(false);
    expect(overHardLimit(reading({ retainedBytes: 60 * 1024 ** 3, slotExists: false }), 50)).toBe(false);
    expect(slotDroppedReason(reading({ retainedBytes: 60 * 1024 ** 3 }), 50, local)).toBe(
      "The WAL-retention guard dropped the slot dbr_j_shop_abc123 of shop: it retained 60.0 GB of WAL, more than maxRetainedWalGb 50 GB, so the source's disk would have filled. " +
        'The target no longer receives changes of this database: run `database-replicator cleanup --job-id j1`, then init again.',
    );
  });
});
