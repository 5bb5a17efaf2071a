import { quoteIdent } from '../catalog/ident.ts';
import { type Check, fail, pass } from './types.ts';

/**
 * The target user creates the databases and schemas and, at sync, the subscriptions. Creating a
 * subscription needs a superuser before PostgreSQL 16; from 16 on, pg_create_subscription plus
 * CREATE on the database; on RDS, rds_superuser membership.
 */
export const checkTargetPrivileges: Check = ({ target }) => {
  const title = 'Target privileges';
  const role = target.role;
  if (role.superuser) return pass('target-privileges', title, `${role.name} is a superuser.`);
  const rdsSuperuser = role.memberOf.includes('rds_superuser');
  const canSubscribe =
    rdsSuperuser ||
    (target.major >= 16 && role.memberOf.includes('pg_create_subscription') && role.canCreateInCurrentDatabase);
  const missing = [
    role.createdb ? '' : 'CREATEDB',
    role.canCreateInCurrentDatabase || role.createdb ? '' : `CREATE on database ${target.currentDatabase}`,
    canSubscribe
      ? ''
      : target.major >= 16
        ? 'membership of pg_create_subscription'
        : 'superuser (needed for CREATE SUBSCRIPTION before PostgreSQL 16)',
  ].filter(Boolean);
  if (missing.length === 0) {
    return pass(
      'target-privileges',
      title,
      `${role.name} has CREATEDB and ${rdsSuperuser ? 'is a member of rds_superuser' : 'is a member of pg_create_subscription'}.`,
    );
  }
  const user = quoteIdent(role.name);
  const fixes = [
    role.createdb ? '' : `ALTER ROLE ${user} CREATEDB;`,
    canSubscribe
      ? ''
      : target.isRds
        ? `GRANT rds_superuser TO ${user};`
        : target.major >= 16
          ? `GRANT pg_create_subscription TO ${user};`
          : `ALTER ROLE ${user} SUPERUSER;`,
  ].filter(Boolean);
  return fail(
    'target-privileges',
    title,
    `${role.name} lacks ${missing.join(', ')}.`,
    `As ${target.isRds ? 'the RDS master user' : 'a superuser'} on the target, run ${fixes.join(' ')} or use a user that has them.`,
  );
};
