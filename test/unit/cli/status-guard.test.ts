import { describe, expect, it } from 'vitest';
import { guardWarnings } from '../../../src/cli/commands/status.ts';
import { NO_SUBSCRIPTION, type DatabaseStatus } from '../../../src/replication/status.ts';

// A slot with no subscription yet, as during init and between init and sync.
const status = (over: Partial<DatabaseStatus> = {}): DatabaseStatus => ({
  database: 'shop',
  target: 'shop',
  verdict: 'initializing',
  reason: '',
  diskRisk: true,
  drift: [],
  names: { slot: 'dbr_j1_shop_abc123', subscription: 'dbr_j1_shop_abc123' },
  slot: {
    exists: true,
    active: false,
    walStatus: 'reserved',
    safeWalSize: null,
    retainedBytes: 64 * 1024 ** 2,
    lagBytes: 0,
    currentLsn: '0/5000000',
    confirmedFlushLsn: '0/1000000',
  },
  subscription: { ...NO_SUBSCRIPTION, tables: {} },
  ...over,
});

describe('the WAL-retention warning of status', () => {
  it('says nothing while an init of the job copies: its slot holds WAL by design', () => {
    expect(guardWarnings([status({ initUnfinished: true, initRunning: true })], 'j1').size).toBe(0);
  });

  it('tells an init that stopped to run init again, not sync', () => {
    const warning = guardWarnings([status({ initUnfinished: true, initRunning: false })], 'j1').get('shop')!;
    expect(warning).toContain('nothing consumes it (no subscription exists for it yet)');
    expect(warning).toContain(
      'Resume replication with `database-replicator init --job-id j1 (the same options as before)`',
    );
    expect(warning).not.toContain('sync');
  });

  it('tells a finished init that waits for sync to run sync', () => {
    expect(guardWarnings([status()], 'j1').get('shop')).toContain('`database-replicator sync --job-id j1`');
  });
});
