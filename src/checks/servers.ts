import { type Check, fail, pass, warn, type EndpointIdentity } from './types.ts';

export const OLDEST_SUPPORTED_MAJOR = 12;

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1']);
function sameHost(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x === y || (LOOPBACK.has(x) && LOOPBACK.has(y));
}

function describe(e: EndpointIdentity): string {
  return `${e.host}:${e.port}/${e.database}`;
}

/**
 * Replicating a database onto itself would truncate or duplicate the source. Two URLs are the same
 * database when they name the same host, port and database (the user does not matter), or when the
 * servers report one system identifier and the same database name.
 */
export const checkDistinctDatabases: Check = ({ sourceEndpoint: s, targetEndpoint: t, source, target }) => {
  const title = 'Different databases';
  const sameEndpoint = sameHost(s.host, t.host) && s.port === t.port && s.database === t.database;
  const sameServer = source.systemIdentifier !== null && source.systemIdentifier === target.systemIdentifier && source.currentDatabase === target.currentDatabase;
  if (sameEndpoint || sameServer) {
    return fail('distinct-databases', title, `The source and the target are both ${describe(t)}.`, 'Point --target at a different server or database than --source.');
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
    return fail('server-versions', title, `${detail}: ${tooOld.join(' and ')}, older than ${OLDEST_SUPPORTED_MAJOR}.`, `Upgrade to PostgreSQL ${OLDEST_SUPPORTED_MAJOR} or newer; logical replication with pgoutput as used here needs it.`);
  }
  if (target.major < source.major) {
    return warn('server-versions', title, `${detail}: the target major is older than the source's.`, 'Replicating to an older major works only when the schema uses nothing newer; prefer a target of the same or a newer major.');
  }
  return pass('server-versions', title, detail);
};

export const checkLocalPgDump: Check = ({ source, localPgDump }) => {
  const title = 'Local pg_dump version';
  if ('error' in localPgDump) {
    return fail('local-pg-dump', title, localPgDump.error, `Install the PostgreSQL ${source.major} client programs (Debian/Ubuntu: apt-get install postgresql-client-${source.major}) or set DATABASE_REPLICATOR_PG_BINDIR.`);
  }
  if (localPgDump.major < source.major) {
    return fail('local-pg-dump', title, `pg_dump ${localPgDump.version} (${localPgDump.path}) is older than the source (${source.version}) and cannot dump it.`, `Install the PostgreSQL ${source.major} client programs (Debian/Ubuntu: apt-get install postgresql-client-${source.major}) or set DATABASE_REPLICATOR_PG_BINDIR.`);
  }
  return pass('local-pg-dump', title, `pg_dump ${localPgDump.version} (${localPgDump.path})`);
};
