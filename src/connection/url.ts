import { registerSecret } from './redact.ts';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
export const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/** A parsed connection URL; the password stays here and in the driver, nowhere else. */
export interface ConnectionSpec {
  /** Host name, IPv4, IPv6 (without brackets), or a Unix-socket folder starting with '/'. */
  host: string;
  port: number;
  /** 'postgres' when the URL names no database. */
  database: string;
  databaseGiven: boolean;
  user: string;
  /** Undefined when the URL has none: the driver then falls back to PGPASSWORD and ~/.pgpass. */
  password?: string;
  sslmode: SslMode;
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
  connectTimeoutSeconds?: number;
  applicationName?: string;
}

export class ConnectionUrlError extends Error {
  override name = 'ConnectionUrlError';
}

const SUPPORTED_PARAMETERS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'connect_timeout', 'application_name', 'host'] as const;
const DEFAULT_PORT = 5432;

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    // Never quote the part itself: it may be the password.
    throw new ConnectionUrlError(`The ${what} in the URL has invalid percent-encoding; write a literal % as %25.`);
  }
}

function parsePort(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new ConnectionUrlError(`The port "${text}" in the URL is not a number from 1 to 65535.`);
  }
  return Number(text);
}

function parseHostAndPort(hostPort: string): { host: string; port: number } {
  if (hostPort.includes(',')) throw new ConnectionUrlError('The URL names several hosts, which is not supported; give one host.');
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    if (end < 0) throw new ConnectionUrlError('The URL has an IPv6 host without its closing bracket.');
    const rest = hostPort.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) throw new ConnectionUrlError('The URL has text after the bracketed IPv6 host that is not a :port.');
    return { host: hostPort.slice(1, end), port: rest ? parsePort(rest.slice(1)) : DEFAULT_PORT };
  }
  const colon = hostPort.lastIndexOf(':');
  if (colon >= 0) {
    const host = hostPort.slice(0, colon);
    if (host.includes(':')) throw new ConnectionUrlError('The URL has an IPv6 host without brackets; write it as [address]:port.');
    return { host: decode(host, 'host'), port: parsePort(hostPort.slice(colon + 1)) };
  }
  return { host: decode(hostPort, 'host'), port: DEFAULT_PORT };
}

function applyParameter(spec: ConnectionSpec, key: string, value: string): void {
  switch (key as (typeof SUPPORTED_PARAMETERS)[number]) {
    case 'sslmode':
      if (!SSL_MODES.includes(value as SslMode)) throw new ConnectionUrlError(`The sslmode "${value}" is not one of ${SSL_MODES.join(', ')}.`);
      spec.sslmode = value as SslMode;
      return;
    case 'sslrootcert':
      spec.sslrootcert = value;
      return;
    case 'sslcert':
      spec.sslcert = value;
      return;
    case 'sslkey':
      spec.sslkey = value;
      return;
    case 'connect_timeout':
      if (!/^\d+$/.test(value)) throw new ConnectionUrlError(`The connect_timeout "${value}" is not a whole number of seconds.`);
      spec.connectTimeoutSeconds = Number(value);
      return;
    case 'application_name':
      spec.applicationName = value;
      return;
    case 'host':
      spec.host = value;
      return;
    default:
      throw new ConnectionUrlError(`The URL parameter "${key}" is not supported; use ${SUPPORTED_PARAMETERS.join(', ')}.`);
  }
}

/**
 * Parses a libpq-style URL. Written by hand rather than with WHATWG URL, which treats postgres: as an
 * opaque scheme and silently splits an unencoded @ in a password at the last one, turning part of
 * the password into a host name.
 */
export function parseConnectionUrl(url: string): ConnectionSpec {
  const text = url.trim();
  if (!text) throw new ConnectionUrlError('The URL is empty; expected postgres://user:password@host:5432/database.');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (!scheme || !['postgres', 'postgresql'].includes(scheme[1]!.toLowerCase())) {
    throw new ConnectionUrlError('The URL must start with postgres:// or postgresql://.');
  }
  const rest = text.slice(scheme[0].length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd >= 0 ? rest.slice(0, authorityEnd) : rest;
  const remainder = authorityEnd >= 0 ? rest.slice(authorityEnd) : '';
  const pathEnd = remainder.search(/[?#]/);
  const pathPart = pathEnd >= 0 ? remainder.slice(0, pathEnd) : remainder;
  const afterPath = pathEnd >= 0 ? remainder.slice(pathEnd) : '';
  const queryText = afterPath.startsWith('?') ? afterPath.slice(1).split('#')[0]! : '';

  const ats = authority.split('@').length - 1;
  // An unencoded @, /, ? or # in a password moves the real host into the path or query: refuse
  // rather than connect somewhere else with half a password.
  const strayAt = ats === 0 ? remainder.includes('@') : pathPart.includes('@');
  if (ats > 1 || strayAt) {
    throw new ConnectionUrlError('The URL has an @ where the host should be; percent-encode special characters in the user and password (@ as %40, : as %3A, / as %2F, ? as %3F, # as %23).');
  }
  if (ats === 0) throw new ConnectionUrlError('The URL names no user; write it as postgres://user@host/database.');
  const at = authority.lastIndexOf('@');
  const userInfo = authority.slice(0, at);
  const hostPort = authority.slice(at + 1);
  const path = pathPart.replace(/^\//, '');

  const colon = userInfo.indexOf(':');
  const user = decode(colon >= 0 ? userInfo.slice(0, colon) : userInfo, 'user name');
  const password = colon >= 0 ? decode(userInfo.slice(colon + 1), 'password') : undefined;
  registerSecret(password);
  if (!user) throw new ConnectionUrlError('The URL names no user; write it as postgres://user@host/database.');

  const { host, port } = hostPort ? parseHostAndPort(hostPort) : { host: '', port: DEFAULT_PORT };
  if (path.includes('/')) throw new ConnectionUrlError('The database name in the URL contains a "/"; percent-encode it as %2F.');
  const database = decode(path, 'database name');

  const spec: ConnectionSpec = { host, port, database: database || 'postgres', databaseGiven: database !== '', user, sslmode: 'prefer' };
  if (password !== undefined) spec.password = password;
  if (queryText) {
    for (const pair of queryText.split('&')) {
      if (!pair) continue;
      const eq = pair.indexOf('=');
      if (eq < 0) throw new ConnectionUrlError(`The URL parameter "${decode(pair, 'parameter')}" has no value; write it as name=value.`);
      applyParameter(spec, decode(pair.slice(0, eq), 'parameter name'), decode(pair.slice(eq + 1), 'parameter value'));
    }
  }
  if (!spec.host) throw new ConnectionUrlError('The URL names no host; write it as postgres://user@host:5432/database.');
  return spec;
}

export function withDatabase(spec: ConnectionSpec, database: string): ConnectionSpec {
  return { ...spec, database, databaseGiven: true };
}

function hostForUrl(host: string): string {
  if (host.includes(':')) return `[${host}]`;
  return host.startsWith('/') ? encodeURIComponent(host) : host;
}

/** `user@host:port/database`, for messages: never the password. */
export function describeEndpoint(spec: ConnectionSpec): string {
  return `${spec.user}@${hostForUrl(spec.host)}:${spec.port}/${spec.database}`;
}

/** Builds a URL back from a spec; the password is masked unless asked for (e.g. to hand to a subscription). */
export function formatConnectionUrl(spec: ConnectionSpec, options: { includePassword?: boolean } = {}): string {
  const password = spec.password === undefined ? '' : `:${options.includePassword ? encodeURIComponent(spec.password) : '***'}`;
  const params = new URLSearchParams();
  if (spec.sslmode !== 'prefer') params.set('sslmode', spec.sslmode);
  if (spec.sslrootcert) params.set('sslrootcert', spec.sslrootcert);
  if (spec.sslcert) params.set('sslcert', spec.sslcert);
  if (spec.sslkey) params.set('sslkey', spec.sslkey);
  if (spec.connectTimeoutSeconds !== undefined) params.set('connect_timeout', String(spec.connectTimeoutSeconds));
  if (spec.applicationName) params.set('application_name', spec.applicationName);
  const query = params.size ? `?${params.toString().replace(/\+/g, '%20')}` : '';
  return `postgresql://${encodeURIComponent(spec.user)}${password}@${hostForUrl(spec.host)}:${spec.port}/${encodeURIComponent(spec.database)}${query}`;
}
