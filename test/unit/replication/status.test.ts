import { describe, expect, it } from 'vitest';
import { IN_SYNC_BYTES, judge, type SlotStatus, type SubscriptionStatus } from '../../../src/replication/status.ts';

const slot = (o: Partial<SlotStatus> = {}): SlotStatus => ({
  exists: true,
  active: true,
  walStatus: 'reserved',
  safeWalSize: null,
  retainedBytes: 1000,
  lagBytes: 0,
  currentLsn: '0/1',
  confirmedFlushLsn: '0/1',
  ...o,
});
const sub = (o: Partial<SubscriptionStatus> = {}): SubscriptionStatus => ({
  exists: true,
  enabled: true,
  workerRunning: true,
  receivedLsn: '0/1',
  latestEndLsn: '0/1',
  lastMessageAt: null,
  lagSeconds: 0,
  tables: { a: 'ready' },
  applyErrors: 0,
  syncErrors: 0,
  workerAgeSeconds: 600,
  ...o,
});

describe('judge', () => {
  it('in sync when caught up', () => {
    expect(judge(slot(), sub(), true)).toMatchObject({ verdict: 'in sync', diskRisk: false });
  });
  it('in sync with old apply errors and a worker that has run a while', () => {
    expect(judge(slot(), sub({ applyErrors: 1, workerAgeSeconds: 120 }), true).verdict).toBe('in sync');
  });
  it('catching up when the lag is over the threshold', () => {
    expect(judge(slot({ lagBytes: IN_SYNC_BYTES + 1 }), sub(), true).verdict).toBe('catching up');
  });
  it('initializing while tables synchronize, or before sync (flagging the unconsumed slot)', () => {
    expect(judge(slot(), sub({ tables: { a: 'copying' } }), true)).toMatchObject({
      verdict: 'initializing',
      reason: '1 table(s) still synchronizing',
    });
    expect(judge(slot({ active: false }), sub({ exists: false }), false)).toMatchObject({
      verdict: 'initializing',
      diskRisk: true,
    });
  });
  it.each([
    ['the slot is missing', slot({ exists: false }), sub(), /slot is missing/],
    ['the slot lost WAL', slot({ walStatus: 'lost' }), sub(), /lost WAL/],
    ['the subscription is disabled', slot({ active: false }), sub({ enabled: false }), /disabled/],
    [
      'no worker runs',
      slot({ active: false }),
      sub({ workerRunning: false, applyErrors: 3 }),
      /no apply worker.*security group.*3 apply error/,
    ],
    ['the subscription vanished after sync', slot(), sub({ exists: false }), /subscription is missing/],
    [
      'the apply worker restarted just now with apply errors on record',
      slot(),
      sub({ applyErrors: 4, workerAgeSeconds: 2 }),
      /apply worker keeps failing \(4 apply error/,
    ],
  ])('broken when %s', (_name, s, u, reason) => {
    const result = judge(s, u, true);
    expect(result.verdict).toBe('broken');
    expect(result.reason).toMatch(reason);
  });
});
