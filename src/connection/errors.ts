import { redact } from './redact.ts';
import { describeEndpoint, type ConnectionSpec } from './url.ts';

export type ConnectionFailureReason =
  | 'auth-failed'
  | 'pg-hba-rejected'
  | 'database-missing'
  | 'host-unreachable'
  | 'timeout'
  | 'dns-failure'
  | 'certificate-untrusted'
  | 'certificate-host-mismatch'
  | 'tls-unsupported'
  | 'tls-required'
  | 'too-many-connections'
  | 'unknown';

/** A failed connection as one sentence (`message`) plus what to do (`remedy`); never holds a password. */
export class ConnectionError extends Error {
  override name = 'ConnectionError';
  readonly reason: ConnectionFailureReason;
  readonly remedy: string;
  readonly endpoint: string;
  constructor(reason: ConnectionFailureReason, message: string, remedy: string, endpoint: string, cause?: unknown) {
    super(redact(message), { cause });
    this.reason = reason;
    this.remedy = redact(remedy);
    this.endpoint = endpoint;
  }
}

const NETWORK_REMEDY_RDS = 'on RDS, check that the security group allows inbound TCP on this port from this machine and that the instance is publicly accessible (or reachable through VPN or peering).';
const UNTRUSTED = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED']);

interface Diagnosis {
  reason: ConnectionFailureReason;
  what: string;
  remedy: string;
}

function diagnose(code: string, message: string, spec: ConnectionSpec): Diagnosis {
  const hostPort = `${spec.host}:${spec.port}`;
  if (code === '28P01' || (code === '28000' && /password authentication failed/i.test(message))) {
    return { reason: 'auth-failed', what: `password authentication failed for user "${spec.user}"`, remedy: 'Check the user name and password; percent-encode special characters in the URL (@ as %40, : as %3A).' };
  }
  if (code === '28000' && /no pg_hba\.conf entry/i.test(message) && /no encryption|SSL off/i.test(message)) {
    return { reason: 'tls-required', what: 'the server accepts only encrypted connections from this address', remedy: 'Use sslmode=require (or verify-full with the server CA) instead of disable.' };
  }
  if (code === '28000' && /pg_hba\.conf/i.test(message)) {
    return { reason: 'pg-hba-rejected', what: 'the server\'s pg_hba.conf has no entry for this client, user and database', remedy: `Add a host or hostssl line to pg_hba.conf for this client address, user ${spec.user} and database ${spec.database} and reload the server; on RDS, connect with sslmode=require when rds.force_ssl is on.` };
  }
  if (code === '28000') {
    return { reason: 'auth-failed', what: `authentication failed for user "${spec.user}"`, remedy: 'Check the user name, the password and that the role may log in.' };
  }
  if (code === '3D000') {
    return { reason: 'database-missing', what: `database "${spec.database}" does not exist`, remedy: 'Check the database name in the URL (SELECT datname FROM pg_database lists them).' };
  }
  if (code === '53300') {
    return { reason: 'too-many-connections', what: 'the server has no free connection slots', remedy: 'Close idle sessions or raise max_connections on the server.' };
  }
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ECONNRESET') {
    return { reason: 'host-unreachable', what: `nothing answered at ${hostPort} (${code})`, remedy: `Check that the server is running and listening on ${hostPort} (listen_addresses); ${NETWORK_REMEDY_RDS}` };
  }
  if (code === 'ETIMEDOUT' || /timeout expired|connection timeout|timed out/i.test(message)) {
    return { reason: 'timeout', what: `the connection to ${hostPort} timed out`, remedy: `Check the network path to ${hostPort}; ${NETWORK_REMEDY_RDS} Raise connect_timeout in the URL for slow links.` };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return { reason: 'dns-failure', what: `the host name "${spec.host}" could not be resolved`, remedy: 'Check the host name for typos; an RDS endpoint looks like name.abc123.region.rds.amazonaws.com, and private endpoints resolve only inside their VPC.' };
  }
  if (UNTRUSTED.has(code)) {
    return { reason: 'certificate-untrusted', what: `the server's certificate is not trusted (${code})`, remedy: 'Give the CA bundle with sslrootcert=/path/to/ca.pem in the URL (for RDS, AWS\'s global-bundle.pem), or pass --allow-self-signed-certs to encrypt without checking the certificate.' };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return { reason: 'certificate-host-mismatch', what: `the server's certificate is not valid for the host name "${spec.host}"`, remedy: 'Connect with the host name the certificate names (the RDS endpoint, not an IP or CNAME), or use sslmode=verify-ca, which checks the chain only.' };
  }
  if (/does not support SSL/i.test(message)) {
    return { reason: 'tls-unsupported', what: 'the server does not support TLS', remedy: `Use sslmode=prefer or sslmode=disable, or enable ssl on the server.` };
  }
  return { reason: 'unknown', what: message.replace(/\s+/g, ' ').replace(/[.\s]+$/, '') || 'unknown error', remedy: 'Check the URL, the network path and the server log.' };
}

/** Turns a driver or socket error into a ConnectionError naming the side and the endpoint. */
export function describeConnectionError(error: unknown, spec: ConnectionSpec, role = 'database'): ConnectionError {
  if (error instanceof ConnectionError) return error;
  const err = (error ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof err.code === 'string' ? err.code : '';
  const message = typeof err.message === 'string' ? err.message : String(error);
  const endpoint = describeEndpoint(spec);
  const { reason, what, remedy } = diagnose(code, message, spec);
  return new ConnectionError(reason, `Could not connect to the ${role} (${endpoint}): ${what}.`, remedy, endpoint, error);
}
