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

const NETWORK_REMEDY_RDS =
  'on RDS, check that the security group allows inbound TCP on this port from this machine and that the instance is publicly accessible (or reachable through VPN or peering).';
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
]);
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ENOENT']);

interface Diagnosis {
  reason: ConnectionFailureReason;
  what: string;
  remedy: string;
}

/** The client address pg_hba.conf saw ("no pg_hba.conf entry for host "10.0.0.9", ..."), which is what the new line must match. */
function hbaClientAddress(message: string): string | undefined {
  return /pg_hba\.conf entry for host "([^"]+)"/i.exec(message)?.[1];
}

function diagnoseAuth(code: string, message: string, spec: ConnectionSpec): Diagnosis | undefined {
  if (code === '28P01' || (code === '28000' && /password authentication failed/i.test(message))) {
    return {
      reason: 'auth-failed',
      what: `password authentication failed for user "${spec.user}"`,
      remedy: 'Check the user name and password; percent-encode special characters in the URL (@ as %40, : as %3A).',
    };
  }
  // pg's own wording when the server asks for a password and neither the URL, PGPASSWORD nor the password file gave one.
  if (/client password must be a string|password authentication.*no password/i.test(message)) {
    return {
      reason: 'auth-failed',
      what: `the server asked for a password for user "${spec.user}" and none was given`,
      remedy:
        'Put the password in the URL (percent-encoded), in PGPASSWORD, or in ~/.pgpass (or the file PGPASSFILE names).',
    };
  }
  if (code === '28000' && /pg_hba\.conf/i.test(message) && /no encryption|SSL off/i.test(message)) {
    return {
      reason: 'tls-required',
      what: 'the server accepts only encrypted connections from this address',
      remedy: 'Use sslmode=require (or verify-full with the server CA) instead of disable or allow.',
    };
  }
  if (code === '28000' && /pg_hba\.conf/i.test(message)) {
    const client = hbaClientAddress(message);
    const address = client ? `client address ${client}` : 'this client address';
    return {
      reason: 'pg-hba-rejected',
      what: "the server's pg_hba.conf has no entry for this client, user and database",
      remedy: `Add a host or hostssl line to pg_hba.conf for ${address}, user ${spec.user} and database ${spec.database} and reload the server; on RDS, check rds.force_ssl and connect with sslmode=require.`,
    };
  }
  if (code === '28000') {
    return {
      reason: 'auth-failed',
      what: `authentication failed for user "${spec.user}"`,
      remedy: 'Check the user name, the password and that the role may log in.',
    };
  }
  return undefined;
}

function diagnoseServer(code: string, spec: ConnectionSpec): Diagnosis | undefined {
  if (code === '3D000') {
    return {
      reason: 'database-missing',
      what: `database "${spec.database}" does not exist`,
      remedy: 'Check the database name in the URL (SELECT datname FROM pg_database lists them).',
    };
  }
  if (code === '53300') {
    return {
      reason: 'too-many-connections',
      what: 'the server has no free connection slots',
      remedy: 'Close idle sessions or raise max_connections on the server (on RDS, through the parameter group).',
    };
  }
  return undefined;
}

function diagnoseNetwork(code: string, message: string, spec: ConnectionSpec): Diagnosis | undefined {
  const hostPort = `${spec.host}:${spec.port}`;
  const socket = spec.host.startsWith('/');
  if (socket && UNREACHABLE.has(code)) {
    const socketFile = `${spec.host}/.s.PGSQL.${spec.port}`;
    return {
      reason: 'host-unreachable',
      what: `no server is listening on the socket ${socketFile} (${code})`,
      remedy: `Check that the server is running and that its unix_socket_directories and port match ${spec.host} and ${spec.port}.`,
    };
  }
  if (UNREACHABLE.has(code) && code !== 'ENOENT') {
    const what =
      code === 'ECONNRESET'
        ? `the connection to ${hostPort} was reset (${code})`
        : `nothing answered at ${hostPort} (${code})`;
    return {
      reason: 'host-unreachable',
      what,
      remedy: `Check that the server is running and listening on ${hostPort} (listen_addresses); ${NETWORK_REMEDY_RDS}`,
    };
  }
  if (code === 'ETIMEDOUT' || /timeout expired|connection timeout|timed out/i.test(message)) {
    return {
      reason: 'timeout',
      what: `the connection to ${hostPort} timed out`,
      remedy: `Check the network path to ${hostPort}; ${NETWORK_REMEDY_RDS} Raise connect_timeout in the URL for slow links.`,
    };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    const what =
      code === 'EAI_AGAIN'
        ? `the host name "${spec.host}" could not be resolved (the DNS server did not answer)`
        : `the host name "${spec.host}" could not be resolved`;
    return {
      reason: 'dns-failure',
      what,
      remedy:
        "Check the host name for typos and this machine's DNS; an RDS endpoint looks like name.abc123.region.rds.amazonaws.com, and private endpoints resolve only inside their VPC.",
    };
  }
  return undefined;
}

function diagnoseTls(code: string, message: string, spec: ConnectionSpec): Diagnosis | undefined {
  if (UNTRUSTED.has(code)) {
    return {
      reason: 'certificate-untrusted',
      what: `the server's certificate is not trusted (${code})`,
      remedy:
        'Give the CA bundle with sslrootcert=/path/to/ca.pem in the URL (for RDS, the AWS RDS global bundle, global-bundle.pem), or pass --allow-self-signed-certs to encrypt without checking the certificate.',
    };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return {
      reason: 'certificate-host-mismatch',
      what: `the server's certificate is not valid for the host name "${spec.host}"`,
      remedy:
        'Connect with the host name the certificate names (the RDS endpoint, not an IP or CNAME), or use sslmode=verify-ca, which checks the chain only.',
    };
  }
  if (/does not support SSL/i.test(message)) {
    return {
      reason: 'tls-unsupported',
      what: 'the server does not support TLS',
      remedy: 'Use sslmode=prefer or sslmode=disable, or enable ssl on the server.',
    };
  }
  return undefined;
}

/** Node's happy-eyeballs connect reports an AggregateError; its first inner error carries the useful code. */
function errorCode(error: unknown): string {
  const err = error as { code?: unknown; errors?: unknown } | null | undefined;
  if (typeof err?.code === 'string') return err.code;
  if (Array.isArray(err?.errors)) {
    const inner = (err.errors as Array<{ code?: unknown }>).find((e) => typeof e?.code === 'string');
    if (inner) return inner.code as string;
  }
  return '';
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(error);
}

/** Turns a driver or socket error into a ConnectionError naming the side and the endpoint. */
export function describeConnectionError(error: unknown, spec: ConnectionSpec, role = 'database'): ConnectionError {
  if (error instanceof ConnectionError) return error;
  const code = errorCode(error);
  const message = errorMessage(error);
  const endpoint = describeEndpoint(spec);
  const diagnosis = diagnoseAuth(code, message, spec) ??
    diagnoseServer(code, spec) ??
    diagnoseNetwork(code, message, spec) ??
    diagnoseTls(code, message, spec) ?? {
      reason: 'unknown' as const,
      // Only the first line, so the message stays one sentence whatever the driver said.
      what:
        (message.split('\n')[0] ?? '')
          .replace(/\s+/g, ' ')
          .trim()
          .replace(/[.\s]+$/, '') || 'unknown error',
      remedy: 'Check the URL, the network path and the server log.',
    };
  return new ConnectionError(
    diagnosis.reason,
    `Could not connect to the ${role} (${endpoint}): ${diagnosis.what}.`,
    diagnosis.remedy,
    endpoint,
    error,
  );
}
