import { quoteIdent } from '../catalog/ident.ts';
import { type Check, fail, pass } from './types.ts';

export const checkSourceWalLevel: Check = ({ source }) => {
  const title = 'Source wal_level';
  if (source.rdsLogicalReplication !== null && !['on', '1'].includes(source.rdsLogicalReplication)) {
    return fail(
      'source-wal-level',
      title,
      `rds.logical_replication is ${source.rdsLogicalReplication} (wal_level = ${source.walLevel}).`,
      'Set rds.logical_replication = 1 in the DB parameter group of the source instance (the DB cluster parameter group for Aurora), then reboot the instance: the parameter is static.',
    );
  }
  if (source.walLevel !== 'logical') {
    const remedy = source.isRds
      ? 'Set rds.logical_replication = 1 in the DB parameter group of the source instance (the DB cluster parameter group for Aurora), then reboot the instance: the parameter is static.'
      : "Run ALTER SYSTEM SET wal_level = 'logical' on the source as a superuser (or edit postgresql.conf), then restart PostgreSQL: wal_level takes effect only at start.";
    return fail(
      'source-wal-level',
      title,
      `wal_level is ${source.walLevel}; logical replication needs wal_level = logical.`,
      remedy,
    );
  }
  const rds = source.rdsLogicalReplication !== null ? ', rds.logical_replication = on' : '';
  return pass('source-wal-level', title, `wal_level = logical${rds}`);
};

export const checkReplicationPrivilege: Check = ({ source }) => {
  const title = 'Replication privilege';
  const role = source.role;
  if (role.superuser) return pass('source-replication-privilege', title, `${role.name} is a superuser.`);
  if (role.replication)
    return pass('source-replication-privilege', title, `${role.name} has the REPLICATION attribute.`);
  if (role.memberOf.includes('rds_replication'))
    return pass('source-replication-privilege', title, `${role.name} is a member of rds_replication.`);
  const quoted = quoteIdent(role.name);
  const remedy = source.isRds
    ? `Run GRANT rds_replication TO ${quoted}; as the RDS master user.`
    : `Run ALTER ROLE ${quoted} REPLICATION; as a superuser.`;
  return fail(
    'source-replication-privilege',
    title,
    `${role.name} is not a superuser, has no REPLICATION attribute and is not a member of rds_replication, so it cannot create a replication slot.`,
    remedy,
  );
};

export const checkReplicationCapacity: Check = ({ source, databases }) => {
  const title = 'Free slots and WAL senders';
  // One slot per replicated database, and one WAL sender for the slot's exporting connection and later for the subscription.
  const needed = Math.max(1, databases.length);
  const freeSlots = source.maxReplicationSlots - source.replicationSlotsUsed;
  const freeSenders = source.maxWalSenders - source.walSendersUsed;
  const detail = `${freeSlots} of ${source.maxReplicationSlots} slots and ${freeSenders} of ${source.maxWalSenders} WAL senders free; ${needed} of each needed`;
  if (freeSlots < needed || freeSenders < needed) {
    const wantSlots = source.replicationSlotsUsed + needed;
    const wantSenders = source.walSendersUsed + needed;
    const remedy = source.isRds
      ? `Raise max_replication_slots to at least ${wantSlots} and max_wal_senders to at least ${wantSenders} in the source's DB parameter group and reboot, or drop unused slots (SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active).`
      : `Raise max_replication_slots to at least ${wantSlots} and max_wal_senders to at least ${wantSenders} and restart the source, or drop unused slots (SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active).`;
    return fail('source-replication-capacity', title, `${detail}.`, remedy);
  }
  return pass('source-replication-capacity', title, detail);
};
