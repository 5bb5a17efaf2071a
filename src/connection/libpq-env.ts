import type { TlsPolicy } from './tls.ts';
import type { ConnectionSpec } from './url.ts';

/**
 * The environment for libpq programs (pg_dump, pg_restore, psql): the password travels here, never
 * in argv, where any local user could read it in the process list.
 */
export function libpqEnvironment(spec: ConnectionSpec, policy: TlsPolicy): Record<string, string> {
  const env: Record<string, string> = {
    PGHOST: spec.host,
    PGPORT: String(spec.port),
    PGUSER: spec.user,
    PGDATABASE: spec.database,
    PGSSLMODE: spec.sslmode,
    PGAPPNAME: spec.applicationName ?? 'database-replicator',
  };
  if (spec.password !== undefined) env.PGPASSWORD = spec.password;
  // libpq would verify against a root certificate whenever one is named, so the flag drops it too.
  const skipVerification = policy.allowSelfSignedCerts && spec.sslmode !== 'disable' && spec.sslmode !== 'allow' && spec.sslmode !== 'prefer';
  if (skipVerification) env.PGSSLMODE = 'require';
  if (spec.sslrootcert && !skipVerification) env.PGSSLROOTCERT = spec.sslrootcert;
  if (spec.sslcert) env.PGSSLCERT = spec.sslcert;
  if (spec.sslkey) env.PGSSLKEY = spec.sslkey;
  if (spec.connectTimeoutSeconds !== undefined) env.PGCONNECT_TIMEOUT = String(spec.connectTimeoutSeconds);
  return env;
}

function conninfoValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * A conninfo string for `--dbname=` carrying what has no environment variable: TCP keepalives, so a
 * long dump over a NAT gateway is not cut. It never holds the password (libpq reads PGPASSWORD).
 */
export function libpqConninfo(spec: ConnectionSpec): string {
  const parts: [string, string][] = [['dbname', spec.database]];
  if (!spec.host.startsWith('/')) {
    parts.push(['keepalives', '1'], ['keepalives_idle', '30'], ['keepalives_interval', '10'], ['keepalives_count', '6']);
  }
  return parts.map(([k, v]) => `${k}=${conninfoValue(v)}`).join(' ');
}
