import { formatConninfo } from './conninfo.ts';
import { inheritedPasswordFallback } from './password-fallback.ts';
import type { TlsPolicy } from './tls.ts';
import type { ConnectionSpec } from './url.ts';

/** Same default as the pg clients, so our sessions are recognisable in pg_stat_activity whichever way they connect. */
const DEFAULT_APPLICATION_NAME = 'database-replicator';

/**
 * The environment for libpq programs (pg_dump, pg_restore, psql): the password travels here, never
 * in argv, where any local user could read it in the process list. A URL without a password keeps
 * libpq's fallbacks: the caller's PGPASSWORD and PGPASSFILE pass through (and ~/.pgpass is found through
 * HOME), the same ones our own sessions use; no other inherited PG* variable does (see childEnvironment).
 */
export function libpqEnvironment(
  spec: ConnectionSpec,
  policy: TlsPolicy,
  parent: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {
    ...inheritedPasswordFallback(spec, parent),
    PGHOST: spec.host,
    PGPORT: String(spec.port),
    PGUSER: spec.user,
    PGDATABASE: spec.database,
    PGSSLMODE: spec.sslmode,
    PGAPPNAME: spec.applicationName ?? DEFAULT_APPLICATION_NAME,
  };
  if (spec.password !== undefined) env.PGPASSWORD = spec.password;
  if (policy.allowSelfSignedCerts && (spec.sslmode === 'verify-ca' || spec.sslmode === 'verify-full'))
    env.PGSSLMODE = 'require';
  // libpq checks the chain in every TLS mode once it has a root certificate, so the flag drops it.
  if (spec.sslrootcert !== undefined && !policy.allowSelfSignedCerts) env.PGSSLROOTCERT = spec.sslrootcert;
  if (spec.sslcert !== undefined) env.PGSSLCERT = spec.sslcert;
  if (spec.sslkey !== undefined) env.PGSSLKEY = spec.sslkey;
  if (spec.connectTimeoutSeconds !== undefined) env.PGCONNECT_TIMEOUT = String(spec.connectTimeoutSeconds);
  return env;
}

/**
 * A conninfo string for `--dbname=` carrying what has no environment variable: TCP keepalives, so a
 * long dump over a NAT gateway is not cut. It never holds the password (libpq reads PGPASSWORD).
 * The database is repeated here because pg_dump and pg_restore read --dbname before PGDATABASE.
 */
export function libpqConninfo(spec: ConnectionSpec): string {
  const parts: Array<[string, string]> = [['dbname', spec.database]];
  // Keepalives are TCP settings; libpq ignores them on a Unix socket, so they are left out there.
  if (!spec.host.startsWith('/')) {
    parts.push(
      ['keepalives', '1'],
      ['keepalives_idle', '30'],
      ['keepalives_interval', '10'],
      ['keepalives_count', '6'],
    );
  }
  return formatConninfo(parts);
}
