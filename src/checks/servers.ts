import { sameServer } from '../catalog/identity.ts';
import { type Check, fail, pass, warn, type EndpointIdentity } from './types.ts';

export const OLDEST_SUPPORTED_MAJOR = 12;
/**
 * The newest source major the project supports. pg_dump refuses a server newer than itself, so the task
 * image's client programs must be at least this (checked when the image is built); raise it together
 * with PG_MAJOR in containers/replicator/Dockerfile.
 */
export const NEWEST_SUPPORTED_MAJOR = 18;

function describe(e: EndpointIdentity): string {
  return `${e.host}:${e.port}/${e.database}`;
}

/** The target database of each planned source database, as planJob names them. */
function plannedPairs({ databases, targetEndpoint }: Parameters<Check>[0]): { source: string; target: string }[] {
  const single = databases.length === 1 && targetEndpoint.database !== 'postgres';
  return databases.map((d) => ({ source: d.name, target: single ? targetEndpoint.database : d.name }));
}

/**
 * Replicating a database onto itself would drop, truncate or duplicate the source. What counts is
 * what the servers say (system identifier, postmaster start, database), never the URLs' spelling:
 * localhost and 127.0.0.1, an alias or another user reach the same database.
 */
export const checkDistinctDatabases: Check = (facts) => {
  const { sourceEndpoint: s, targetEndpoint: t, source, target } = facts;
  const title = 'Different databases';
  if (sameServer(source, target)) {
    const same = plannedPairs(facts).filter((p) => p.source === p.target);
    if (same.length) {
      const server = source.systemIdentifier ?? `started ${source.postmasterStartedAt}`;
      return fail(
        'distinct-databases',
        title,
        `The target is the source itself: ${describe(s)} and ${describe(t)} reach one server (${server}), and database ${same.map((p) => p.source).join(', ')} would be copied onto itself.`,
        'Point --target at a different server, or name a different target database in its URL.',
      );
    }
    return pass('distinct-databases', title, `${describe(s)} -> ${describe(t)} (one server, different databases)`);
  }
  return pass('distinct-databases', title, `${describe(s)} -> ${describe(t)}`);
};

export const checkServerVersions: Check = ({ source, target }) => {
  const title = 'PostgreSQL versions';
  const detail = `source ${source.version}, target ${target.version}`;
  const tooOld = [
    source.major < OLDEST_SUPPORTED_MAJOR ? `the source is ${source.version}` : '',
    target.major < OLDEST_SUPPORTED_MAJOR ? `the target is ${target.version}` : '',
  ].filter(Boolean);
  if (tooOld.length) {
    return fail(
      'server-versions',
      title,
      `${detail}: ${tooOld.join(' and ')}, older than ${OLDEST_SUPPORTED_MAJOR}.`,
      `Upgrade to PostgreSQL ${OLDEST_SUPPORTED_MAJOR} or newer; logical replication with pgoutput as used here needs it.`,
    );
  }
  if (target.major < source.major) {
    return warn(
      'server-versions',
      title,
      `${detail}: the target major is older than the source's.`,
      'Replicating to an older major works only when the schema uses nothing newer; prefer a target of the same or a newer major.',
    );
  }
  return pass('server-versions', title, detail);
};

export const checkLocalPgDump: Check = ({ source, localPgDump }) => {
  const title = 'Local pg_dump version';
  if ('error' in localPgDump) {
    return fail(
      'local-pg-dump',
      title,
      localPgDump.error,
      `Install the PostgreSQL ${source.major} client programs (Debian/Ubuntu: apt-get install postgresql-client-${source.major}) or set DATABASE_REPLICATOR_PG_BINDIR.`,
    );
  }
  if (localPgDump.major < source.major) {
    return fail(
      'local-pg-dump',
      title,
      `pg_dump ${localPgDump.version} (${localPgDump.path}) is older than the source (${source.version}) and cannot dump it.`,
      `Install the PostgreSQL ${source.major} client programs (Debian/Ubuntu: apt-get install postgresql-client-${source.major}) or set DATABASE_REPLICATOR_PG_BINDIR.`,
    );
  }
  return pass('local-pg-dump', title, `pg_dump ${localPgDump.version} (${localPgDump.path})`);
};
