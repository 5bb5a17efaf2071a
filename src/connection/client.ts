import pg from 'pg';
import { ConnectionError, describeConnectionError } from './errors.ts';
import { fallbackPassword, type FallbackPassword } from './password-fallback.ts';
import { tlsAttempts, tlsOptionsFor, type TlsPolicy } from './tls.ts';
import type { ConnectionSpec } from './url.ts';

export interface OpenClientOptions extends TlsPolicy {
  /** Names the side in error messages: "Could not connect to the source (...)". */
  role: string;
  /** Open a replication connection (walsender in database mode) instead of a normal session. */
  replication?: boolean;
  /** Used when the URL has no connect_timeout. libpq waits forever; a CLI should not. */
  defaultConnectTimeoutSeconds?: number;
}

const DEFAULT_APPLICATION_NAME = 'database-replicator';

/**
 * Sent as startup parameters, so they beat the server's, the database's and the role's settings: the
 * session that exports the snapshot sits idle in a transaction while the schema restores, and copies,
 * index builds and verify run statements far longer than an application's limits. (pg sends only
 * truthy values, so the zeros are strings.)
 */
const NO_SESSION_TIMEOUTS = { statement_timeout: '0', idle_in_transaction_session_timeout: '0' };

/** `fallback.used` records where a password missing from the URL was found, once the server asked for one. */
export function clientConfig(
  spec: ConnectionSpec,
  ssl: pg.ClientConfig['ssl'],
  options: OpenClientOptions,
  fallback: { used?: FallbackPassword } = {},
): pg.ClientConfig {
  const timeout = spec.connectTimeoutSeconds ?? options.defaultConnectTimeoutSeconds ?? 30;
  const config: pg.ClientConfig = {
    host: spec.host,
    port: spec.port,
    user: spec.user,
    database: spec.database,
    ssl,
    application_name: spec.applicationName ?? DEFAULT_APPLICATION_NAME,
    // 0 means "no limit" to both libpq and pg.
    connectionTimeoutMillis: timeout * 1000,
    // Long copies sit idle on one side while the other works; keepalives stop NAT and load balancers dropping them.
    keepAlive: true,
    keepAliveInitialDelayMillis: 30_000,
  };
  // Without a password in the URL, libpq's fallbacks are looked up here rather than by pg, whose own
  // ~/.pgpass reading differs from libpq's (and prints a deprecation warning): pg_dump, which gets the same
  // PGPASSWORD and PGPASSFILE, then reaches the server with the same password as our sessions.
  // (pg's types want a string back; at run time it takes undefined as "no password", as libpq does.)
  config.password =
    spec.password ?? ((async () => (fallback.used = fallbackPassword(spec)).password) as () => Promise<string>);
  if (options.replication) (config as pg.ClientConfig & { replication: string }).replication = 'database';
  Object.assign(config, NO_SESSION_TIMEOUTS);
  return config;
}

function isTlsRefusal(error: unknown): boolean {
  return error instanceof Error && /does not support SSL/i.test(error.message);
}

function isPlainRejected(error: unknown): boolean {
  // pg_hba "hostssl only" rejections come back as 28000 with "no encryption" in the message.
  return (
    error instanceof Error &&
    (error as { code?: string }).code === '28000' &&
    /no encryption|SSL off/i.test(error.message)
  );
}

/**
 * Opens a connected pg client, trying TLS and plain TCP in the order libpq's sslmode implies
 * (prefer: TLS, then plain if the server has no TLS). Failures become a ConnectionError: one sentence with a remedy.
 */
export async function openClient(spec: ConnectionSpec, options: OpenClientOptions): Promise<pg.Client> {
  const attempts = tlsAttempts(spec);
  const fallback: { used?: FallbackPassword } = {};
  let lastError: unknown;
  for (const [index, attempt] of attempts.entries()) {
    const ssl = attempt === 'tls' ? tlsOptionsFor(spec, options) : false;
    const client = new pg.Client(clientConfig(spec, ssl, options, fallback));
    // A server that goes away later emits 'error' on the client; without a listener Node would crash.
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (error) {
      lastError = error;
      await client.end().catch(() => undefined);
      const hasNext = index < attempts.length - 1;
      const fallBack = attempt === 'tls' ? isTlsRefusal(error) : isPlainRejected(error);
      if (!hasNext || !fallBack) break;
    }
  }
  throw withFallbackNote(describeConnectionError(lastError, spec, options.role), fallback.used);
}

/**
 * A rejected password that the URL did not hold says where it came from (a stale PGPASSWORD is easy to
 * forget), and a missing one says why the password file was passed over.
 */
function withFallbackNote(error: ConnectionError, used: FallbackPassword | undefined): ConnectionError {
  if (error.reason !== 'auth-failed' || !used) return error;
  const note = used.from ? `the password came from ${used.from}` : used.ignoredFile?.what;
  if (!note) return error;
  const remedy = used.ignoredFile ? `${used.ignoredFile.remedy} ${error.remedy}` : error.remedy;
  return new ConnectionError(
    error.reason,
    error.message.replace(/\.$/, ` (${note}).`),
    remedy,
    error.endpoint,
    error.cause,
  );
}

/** Runs `fn` with a fresh client and always ends it, so no socket keeps Node alive. */
export async function withConnection<T>(
  spec: ConnectionSpec,
  options: OpenClientOptions,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = await openClient(spec, options);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Waits for every client being opened. When one fails, the ones that did connect are ended before the
 * first failure is rethrown: a connected client nobody holds any more keeps Node running after the error.
 */
export async function openClients(opening: Promise<pg.Client>[]): Promise<pg.Client[]> {
  const settled = await Promise.allSettled(opening);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const clients = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  if (!failed) return clients;
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  throw failed.reason;
}
