import { describe, expect, it } from 'vitest';
import {
  checkReplicationCapacity,
  checkReplicationPrivilege,
  checkSourceWalLevel,
} from '../../../src/checks/replication.ts';
import { database, facts, server } from './facts.ts';

describe('checkSourceWalLevel', () => {
  it('passes with wal_level = logical', () => {
    expect(checkSourceWalLevel(facts()).status).toBe('pass');
  });
  it('fails with wal_level = replica and says how to change it and that a restart is needed', () => {
    const result = checkSourceWalLevel(facts({ source: server({ walLevel: 'replica' }) }));
    expect(result.status).toBe('fail');
    expect(result.detail).toContain('wal_level is replica');
    expect(result.remedy).toMatch(/ALTER SYSTEM SET wal_level = 'logical'.*restart/);
  });
  it('on RDS names rds.logical_replication, the parameter group and the reboot', () => {
    const result = checkSourceWalLevel(
      facts({ source: server({ walLevel: 'replica', rdsLogicalReplication: 'off', isRds: true }) }),
    );
    expect(result.status).toBe('fail');
    expect(result.detail).toContain('rds.logical_replication is off');
    expect(result.remedy).toMatch(/parameter group.*reboot/);
  });
  it('passes on RDS with rds.logical_replication on', () => {
    const result = checkSourceWalLevel(facts({ source: server({ rdsLogicalReplication: 'on', isRds: true }) }));
    expect(result).toMatchObject({ status: 'pass', detail: expect.stringContaining('rds.logical_replication = on') });
  });
});

describe('checkReplicationPrivilege', () => {
  it('passes for a superuser, the REPLICATION attribute, or rds_replication membership', () => {
    expect(checkReplicationPrivilege(facts()).status).toBe('pass');
    expect(
      checkReplicationPrivilege(facts({ source: server({}, { superuser: false, replication: true }) })).status,
    ).toBe('pass');
    expect(
      checkReplicationPrivilege(facts({ source: server({}, { superuser: false, memberOf: ['rds_replication'] }) }))
        .status,
    ).toBe('pass');
  });
  it('fails otherwise with ALTER ROLE ... REPLICATION, or GRANT rds_replication on RDS', () => {
    const plain = checkReplicationPrivilege(facts({ source: server({}, { name: 'app user', superuser: false }) }));
    expect(plain.status).toBe('fail');
    expect(plain.remedy).toContain('ALTER ROLE "app user" REPLICATION;');
    const rds = checkReplicationPrivilege(facts({ source: server({ isRds: true }, { superuser: false }) }));
    expect(rds.remedy).toContain('GRANT rds_replication TO "app";');
  });
});

describe('checkReplicationCapacity', () => {
  it('needs one free slot and WAL sender per database', () => {
    const two = [database({ name: 'a' }), database({ name: 'b' })];
    expect(
      checkReplicationCapacity(
        facts({ databases: two, source: server({ maxReplicationSlots: 3, replicationSlotsUsed: 1 }) }),
      ).status,
    ).toBe('pass');
    const result = checkReplicationCapacity(
      facts({ databases: two, source: server({ maxReplicationSlots: 3, replicationSlotsUsed: 2 }) }),
    );
    expect(result.status).toBe('fail');
    expect(result.remedy).toContain('max_replication_slots to at least 4');
  });
  it('counts WAL senders too', () => {
    const result = checkReplicationCapacity(facts({ source: server({ maxWalSenders: 2, walSendersUsed: 2 }) }));
    expect(result.status).toBe('fail');
    expect(result.detail).toContain('0 of 2 WAL senders free');
  });
});
