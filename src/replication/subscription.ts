import type pg from 'pg';
import { quoteIdent, quoteLiteral } from '../catalog/ident.ts';
import { formatConninfo } from '../connection/conninfo.ts';
import type { TlsPolicy } from '../connection/tls.ts';
import type { ConnectionSpec } from '../connection/url.ts';

/** How the target server checks the source's certificate when its subscription connects. */
export interface SubscriptionTls {
  /**
   * A CA file on the target server (a path there, not here). Without one the subscription encrypts
   * but checks no certificate (`sslmode=require`), whatever checks our own connections make.
   */
  targetSslRootCert?: string | undefined;
}

/**
 * The conninfo the target uses to reach the source. It holds the password, which PostgreSQL stores
 * in pg_subscription on the target: use a dedicated replication user. The target server's libpq
 * reads its own file system, so our sslrootcert (a file on this side) never goes into it:
 * verify-ca and verify-full become `require` unless a CA path on the target is given, and
 * --allow-self-signed-certs always means `require`.
 */
export function subscriptionConninfo(spec: ConnectionSpec, tls: TlsPolicy, target: SubscriptionTls = {}): string {
  const rootCert = !tls.allowSelfSignedCerts && spec.sslmode !== 'disable' ? target.targetSslRootCert : undefined;
  const sslmode = spec.sslmode.startsWith('verify') && rootCert === undefined ? 'require' : spec.sslmode;
  const parts: [string, string | undefined][] = [
    ['host', spec.host],
    ['port', String(spec.port)],
    ['dbname', spec.database],
    ['user', spec.user],
    ['password', spec.password],
    ['sslmode', sslmode],
    ['sslrootcert', rootCert],
    ['application_name', spec.applicationName],
  ];
  return formatConninfo(parts);
}

/** Whether the subscription checks less than our own connections to the source do (a note for the user). */
export function subscriptionChecksLess(spec: ConnectionSpec, tls: TlsPolicy, target: SubscriptionTls = {}): boolean {
  return !tls.allowSelfSignedCerts && spec.sslmode.startsWith('verify') && target.targetSslRootCert === undefined;
}

export interface SubscriptionAtSlot {
  name: string;
  conninfo: string;
  publication: string;
  slot: string;
  consistentPoint: string;
  binary: boolean;
  /** Large transactions streamed before they commit ('parallel' needs PostgreSQL 16+ on the target). */
  streaming?: 'on' | 'parallel';
}

/**
 * Attaches a subscription to an existing slot without a copy, moves its replication origin to the
 * slot's consistent point (what the snapshot copy already holds), then enables it: streaming starts
 * exactly after the snapshot, so nothing is lost or applied twice.
 */
export async function createSubscriptionAtSlot(target: pg.Client, s: SubscriptionAtSlot): Promise<void> {
  const options = [
    `create_slot = false`,
    `slot_name = ${quoteLiteral(s.slot)}`,
    `copy_data = false`,
    `enabled = false`,
    ...(s.binary ? ['binary = true'] : []),
    ...(s.streaming ? [`streaming = ${s.streaming}`] : []),
  ];
  await createSubscription(target, s.name, s.conninfo, s.publication, options);
  await target.query(
    `SELECT pg_replication_origin_advance('pg_' || oid, $2::pg_lsn) FROM pg_subscription WHERE subname = $1`,
    [s.name, s.consistentPoint],
  );
  await target.query(`ALTER SUBSCRIPTION ${quoteIdent(s.name)} ENABLE`);
}

/**
 * CREATE SUBSCRIPTION's text holds the source's password, and a failing statement is written to the
 * target's server log (log_min_error_statement = error by default). Our session stops logging the
 * statements of its errors around it; the error itself (e.g. "could not connect to the publisher")
 * is still logged and returned. Returns false when the target user may not change that setting.
 */
export async function createSubscription(
  target: pg.Client,
  name: string,
  conninfo: string,
  publication: string,
  options: string[],
): Promise<boolean> {
  let quiet = true;
  try {
    await target.query('SET log_min_error_statement = panic');
  } catch {
    // Not a superuser and no SET privilege on the parameter (PostgreSQL 15+: GRANT SET ON PARAMETER).
    quiet = false;
  }
  try {
    await target.query(
      `CREATE SUBSCRIPTION ${quoteIdent(name)} CONNECTION ${quoteLiteral(conninfo)} PUBLICATION ${quoteIdent(publication)}${options.length ? ` WITH (${options.join(', ')})` : ''}`,
    );
  } finally {
    if (quiet) await target.query('RESET log_min_error_statement').catch(() => undefined);
  }
  return quiet;
}

export async function subscriptionExists(target: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await target.query('SELECT 1 FROM pg_subscription WHERE subname = $1', [name]);
  return (rowCount ?? 0) > 0;
}

export async function refreshPublication(target: pg.Client, name: string, copyData: boolean): Promise<void> {
  await target.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} REFRESH PUBLICATION WITH (copy_data = ${copyData})`);
}

/** The subscription's initial table synchronization did not finish in time. */
export class TableSyncTimeout extends Error {
  override name = 'TableSyncTimeout';
}

/** Waits until every table of the subscription is synchronized ('r'), or throws after `timeoutMs`. */
export async function waitForTableSync(
  target: pg.Client,
  name: string,
  timeoutMs: number,
  onWait?: (pending: number) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await target.query<{ pending: string }>(
      `SELECT count(*) FILTER (WHERE r.srsubstate <> 'r') AS pending FROM pg_subscription s JOIN pg_subscription_rel r ON r.srsubid = s.oid WHERE s.subname = $1`,
      [name],
    );
    const pending = Number(rows[0]?.pending ?? 0);
    if (pending === 0) return;
    onWait?.(pending);
    if (Date.now() > deadline)
      throw new TableSyncTimeout(
        `Table synchronization of subscription ${name} did not finish within ${Math.round(timeoutMs / 1000)} s (${pending} table(s) pending); check the target's server log.`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Disables and drops a subscription; DROP also drops its slot on the source. */
export async function dropSubscription(target: pg.Client, name: string): Promise<void> {
  if (!(await subscriptionExists(target, name))) return;
  await target.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} DISABLE`);
  await target.query(`DROP SUBSCRIPTION ${quoteIdent(name)}`);
}
