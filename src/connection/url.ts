import { isIP } from 'node:net';
import { redact, registerSecret } from './redact.ts';

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
  /** Undefined when the URL has none (or an empty one): then PGPASSWORD and the password file apply, as in libpq (password-fallback.ts). */
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
  constructor(message: string) {
    // Messages quote pieces of the URL (a port, a parameter value); masking here means no quoted
    // piece can ever carry a password that was registered while parsing.
    super(redact(message));
  }
}

const SUPPORTED_PARAMETERS = [
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'connect_timeout',
  'application_name',
  'host',
] as const;
const DEFAULT_PORT = 5432;
// pg turns connect_timeout into a setTimeout delay, which Node caps at 2^31-1 ms; beyond that it fires at once.
const MAX_CONNECT_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
const ENCODE_HINT =
  'percent-encode special characters in the user and password (@ as %40, : as %3A, / as %2F, ? as %3F, # as %23)';

/** Quotes a piece of user input for a message: one line, bounded length. */
function quote(text: string): string {
  const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return JSON.stringify(shown);
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    // Never quote the part itself: it may be the password.
    throw new ConnectionUrlError(`The ${what} in the URL has invalid percent-encoding; write a literal % as %25.`);
  }
}

function parsePort(text: string): number {
  if (text === '')
    throw new ConnectionUrlError('The URL has a ":" after the host but no port number; remove it or add the port.');
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new ConnectionUrlError(`The port ${quote(text)} in the URL is not a number from 1 to 65535.`);
  }
  return Number(text);
}

/** A host as libpq takes it: a socket folder, an IP address or a DNS name; anything else is a typo we should not try to resolve. */
function checkHost(host: string): string {
  if (host.includes(','))
    throw new ConnectionUrlError('The URL names several hosts, which is not supported; give one host.');
  if (
    host === '' ||
    host.startsWith('/') ||
    isIP(host) !== 0 ||
    /^[\p{L}\p{N}_-]+(?:\.[\p{L}\p{N}_-]+)*\.?$/u.test(host)
  )
    return host;
  throw new ConnectionUrlError(
    `The host ${quote(host)} in the URL is not a host name, an IP address or a socket folder.`,
  );
}

function parseHostAndPort(hostPort: string): { host: string; port: number } {
  if (hostPort.includes(','))
    throw new ConnectionUrlError('The URL names several hosts, which is not supported; give one host.');
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    if (end < 0) throw new ConnectionUrlError('The URL has an IPv6 host without its closing bracket.');
    const rest = hostPort.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':'))
      throw new ConnectionUrlError('The URL has text after the bracketed IPv6 host that is not a :port.');
    // Decoded for a zone id: [fe80::1%25eth0].
    const host = decode(hostPort.slice(1, end), 'host');
    if (isIP(host) !== 6)
      throw new ConnectionUrlError(`The bracketed host ${quote(host)} in the URL is not an IPv6 address.`);
    return { host, port: rest ? parsePort(rest.slice(1)) : DEFAULT_PORT };
  }
  const colon = hostPort.lastIndexOf(':');
  if (colon >= 0) {
    const host = hostPort.slice(0, colon);
    if (host.includes(':'))
      throw new ConnectionUrlError('The URL has an IPv6 host without brackets; write it as [address]:port.');
    return { host: checkHost(decode(host, 'host')), port: parsePort(hostPort.slice(colon + 1)) };
  }
  return { host: checkHost(decode(hostPort, 'host')), port: DEFAULT_PORT };
}

function applyParameter(spec: ConnectionSpec, key: string, value: string): void {
  switch (key as (typeof SUPPORTED_PARAMETERS)[number]) {
    case 'sslmode':
      if (!SSL_MODES.includes(value as SslMode))
        throw new ConnectionUrlError(`The sslmode ${quote(value)} is not one of ${SSL_MODES.join(', ')}.`);
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
      if (!/^\d+$/.test(value) || Number(value) > MAX_CONNECT_TIMEOUT_SECONDS) {
        throw new ConnectionUrlError(
          `The connect_timeout ${quote(value)} is not a whole number of seconds from 0 to ${MAX_CONNECT_TIMEOUT_SECONDS}.`,
        );
      }
      spec.connectTimeoutSeconds = Number(value);
      return;
    case 'application_name':
      spec.applicationName = value;
      return;
    case 'host':
      // libpq's way to name a socket folder (?host=/var/run/postgresql); it overrides the authority's host.
      spec.host = checkHost(value);
      return;
    default:
      // libpq accepts ?password=; we refuse it, but its value must still never be echoed later.
      if (key === 'password') registerSecret(value);
      throw new ConnectionUrlError(
        `The URL parameter ${quote(key)} is not supported; use ${SUPPORTED_PARAMETERS.join(', ')}.`,
      );
  }
}

/**
 * Remembers what was probably meant as the password of a URL we refuse because of a stray @, so
 * that a later echo of the raw URL (by the shell, a log, a config dump) is masked too.
 */
function registerProbablePassword(rest: string): void {
  const token = rest.split(/\s/)[0]!;
  const colon = token.indexOf(':');
  const at = token.lastIndexOf('@');
  if (colon < 0 || colon > token.indexOf('@')) return;
  const raw = token.slice(colon + 1, at);
  registerSecret(raw);
  try {
    registerSecret(decodeURIComponent(raw));
  } catch {
    // The raw form is registered; an undecodable one can only be echoed raw.
  }
}

/**
 * Parses a libpq-style URL. Written by hand rather than with WHATWG URL, which treats postgres: as an
 * opaque scheme and silently splits an unencoded @ in a password at the last one, turning part of
 * the password into a host name.
 */
export function parseConnectionUrl(url: string): ConnectionSpec {
  const text = url.trim();
  if (!text) throw new ConnectionUrlError('The URL is empty; expected postgres://user@host:5432/database.');
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
  // rather than connect somewhere else with half a password. With no @ in the authority, a colon
  // followed by something other than a port ("u:pa/ss@h") marks a password cut short.
  const cutPassword = ats === 0 && remainder.includes('@') && !authority.startsWith('[') && /:(?!\d*$)/.test(authority);
  if (ats > 1 || cutPassword || (ats === 1 && pathPart.includes('@'))) {
    registerProbablePassword(rest);
    throw new ConnectionUrlError(`The URL has an @ where the host should be; ${ENCODE_HINT}.`);
  }
  if (ats === 0) throw new ConnectionUrlError('The URL names no user; write it as postgres://user@host/database.');
  const at = authority.indexOf('@');
  const userInfo = authority.slice(0, at);
  const hostPort = authority.slice(at + 1);

  // Only the first colon separates: libpq reads "u:a:b" as user u, password "a:b".
  const colon = userInfo.indexOf(':');
  const rawPassword = colon >= 0 ? userInfo.slice(colon + 1) : undefined;
  registerSecret(rawPassword);
  const password = rawPassword === undefined ? undefined : decode(rawPassword, 'password');
  registerSecret(password);
  const user = decode(colon >= 0 ? userInfo.slice(0, colon) : userInfo, 'user name');
  if (!user) throw new ConnectionUrlError('The URL names no user; write it as postgres://user@host/database.');

  const { host, port } = hostPort ? parseHostAndPort(hostPort) : { host: '', port: DEFAULT_PORT };
  const path = pathPart.replace(/^\//, '');
  if (path.includes('/'))
    throw new ConnectionUrlError('The database name in the URL contains a "/"; percent-encode it as %2F.');
  const database = decode(path, 'database name');

  const spec: ConnectionSpec = {
    host,
    port,
    database: database || 'postgres',
    databaseGiven: database !== '',
    user,
    sslmode: 'prefer',
  };
  // libpq treats an empty password as none and consults ~/.pgpass, so we do too.
  if (password) spec.password = password;
  for (const pair of queryText.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    if (eq < 0)
      throw new ConnectionUrlError(
        `The URL parameter ${quote(decode(pair, 'parameter'))} has no value; write it as name=value.`,
      );
    applyParameter(spec, decode(pair.slice(0, eq), 'parameter name'), decode(pair.slice(eq + 1), 'parameter value'));
  }
  if (!spec.host)
    throw new ConnectionUrlError('The URL names no host; write it as postgres://user@host:5432/database.');
  return spec;
}

export function withDatabase(spec: ConnectionSpec, database: string): ConnectionSpec {
  return { ...spec, database, databaseGiven: true };
}

function hostForUrl(host: string): string {
  // A socket folder may hold a colon, so it is checked before the IPv6 test.
  if (host.startsWith('/')) return encodeURIComponent(host);
  if (host.includes(':')) return `[${host.replace(/%/g, '%25')}]`;
  return host;
}

/** `user@host:port/database`, for messages: never the password. */
export function describeEndpoint(spec: ConnectionSpec): string {
  return `${spec.user}@${hostForUrl(spec.host)}:${spec.port}/${spec.database}`;
}

/**
 * Builds a URL back from a spec, for messages: the password is masked; `parseConnectionUrl` reads it
 * back to an equal spec but for the password. Nothing connects with it (subscriptions take a conninfo).
 */
export function formatConnectionUrl(spec: ConnectionSpec): string {
  const password = spec.password === undefined ? '' : ':***';
  const params = new URLSearchParams();
  if (spec.sslmode !== 'prefer') params.set('sslmode', spec.sslmode);
  if (spec.sslrootcert !== undefined) params.set('sslrootcert', spec.sslrootcert);
  if (spec.sslcert !== undefined) params.set('sslcert', spec.sslcert);
  if (spec.sslkey !== undefined) params.set('sslkey', spec.sslkey);
  if (spec.connectTimeoutSeconds !== undefined) params.set('connect_timeout', String(spec.connectTimeoutSeconds));
  if (spec.applicationName !== undefined) params.set('application_name', spec.applicationName);
  // URLSearchParams writes a space as "+", which libpq (and our parser) would keep as a literal plus.
  const query = params.size ? `?${params.toString().replace(/\+/g, '%20')}` : '';
  // A defaulted database stays implicit, so databaseGiven survives the round trip.
  const path = spec.databaseGiven ? `/${encodeURIComponent(spec.database)}` : '';
  return `postgresql://${encodeURIComponent(spec.user)}${password}@${hostForUrl(spec.host)}:${spec.port}${path}${query}`;
}
