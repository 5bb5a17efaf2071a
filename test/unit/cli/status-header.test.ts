import { describe, expect, it } from 'vitest';
import { renderJobRecord } from '../../../src/cli/commands/status.ts';
import type { JobRecord } from '../../../src/jobs/types.ts';
import type { DatabaseStatus } from '../../../src/replication/status.ts';

const job = {
  jobId: 'shop',
  state: 'RUNNING',
  phase: 'sync failed: could not connect to the publisher',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:01:00.000Z',
  databases: {},
} as unknown as JobRecord;
const status = (verdict: DatabaseStatus['verdict']) => ({ database: 'shop', verdict }) as DatabaseStatus;

describe('the job header of status', () => {
  it('says replication is healthy now when a recorded failure was followed by every database in sync', () => {
    const header = renderJobRecord(job, [], [status('in sync')]).split('\n')[0]!;
    expect(header).toBe(
      'Job shop: RUNNING - every database is in sync now (the last command recorded: sync failed: could not connect to the publisher) (started 2026-01-01T00:00:00.000Z, updated 2026-01-01T00:01:00.000Z)',
    );
  });
  it('keeps the failure first while any database is not in sync', () => {
    expect(renderJobRecord(job, [], [status('in sync'), status('broken')])).toMatch(
      /^Job shop: RUNNING - sync failed: could not connect/,
    );
  });
});
