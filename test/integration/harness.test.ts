import { describe, expect, inject, it } from 'vitest';
import { connectAs } from '../support/db.ts';

describe('test harness clusters', () => {
  const { source, target, replica } = inject('clusters');

  it('runs a logical source, a logical target and a replica-level source on distinct loopback ports', async () => {
    expect(new Set([source.port, target.port, replica.port]).size).toBe(3);
    for (const [cluster, walLevel] of [
      [source, 'logical'],
      [target, 'logical'],
      [replica, 'replica'],
    ] as const) {
      const client = await connectAs(cluster);
      try {
        const { rows } = await client.query<{ wal_level: string; slots: string; senders: string; listen: string }>(
          `SELECT current_setting('wal_level') AS wal_level, current_setting('max_replication_slots') AS slots,
                  current_setting('max_wal_senders') AS senders, current_setting('listen_addresses') AS listen`,
        );
        expect(rows[0]).toMatchObject({ wal_level: walLevel, listen: '127.0.0.1' });
        expect(Number(rows[0]!.slots)).toBeGreaterThanOrEqual(10);
        expect(Number(rows[0]!.senders)).toBeGreaterThanOrEqual(10);
      } finally {
        await client.end();
      }
    }
  });

  it('requires a password over TCP', async () => {
    await expect(connectAs(source, 'postgres', source.user, 'not-the-password')).rejects.toThrow(
      /password authentication failed/,
    );
  });
});
