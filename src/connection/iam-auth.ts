import { Signer, type SignerConfig } from '@aws-sdk/rds-signer';
import { registerSecret } from './redact.ts';
import type { ConnectionSpec, SslMode } from './url.ts';

// IAM database authentication: instead of a stored password, our own connections (validate, the
// snapshot copy, status, verify) can log in with a token signed by the caller's IAM role. RDS accepts
// such a token only over TLS, and only for 15 minutes after it was signed (an open session stays
// open). A SUBSCRIPTION cannot use it: the target server keeps the connection string and reconnects
// whenever the apply worker restarts, long after the token expired, so a subscription always needs a
// real password (the source secret's ARN), never an IAM token.

/** How long RDS accepts a freshly signed token for a new connection. */
export const IAM_TOKEN_LIFETIME_SECONDS = 15 * 60;

export const IAM_SUBSCRIPTION_WARNING =
  'A subscription cannot use an IAM authentication token: the target reconnects with the stored connection string long after the 15-minute token expired; give the subscription a password secret (its ARN) instead.';

/** Raised when IAM auth is asked for something that outlives the token (a subscription). */
export class IamTokenNotUsable extends Error {
  override name = 'IamTokenNotUsable';
}

export interface TokenRequest {
  hostname: string;
  port: number;
  username: string;
  region?: string;
  /** Defaults to the SDK's credential chain (the Lambda's or task's role). */
  credentials?: SignerConfig['credentials'];
}

/** Signs a token; the default uses `@aws-sdk/rds-signer` (a local SigV4 presign, no network call). */
export type TokenProvider = (request: TokenRequest) => Promise<string>;

export const signerTokenProvider: TokenProvider = (request) => new Signer(request).getAuthToken();

export interface IamAuthOptions {
  host: string;
  port?: number;
  /** The database user, which must have been granted rds_iam (GRANT rds_iam TO <user>). */
  user: string;
  database?: string;
  region?: string;
  credentials?: SignerConfig['credentials'];
  /** At least `require`; `verify-full` with the RDS CA bundle as sslrootcert is better still. */
  sslmode?: SslMode;
  sslrootcert?: string;
  connectTimeoutSeconds?: number;
  applicationName?: string;
  tokenProvider?: TokenProvider;
}

const TLS_MODES = new Set<SslMode>(['require', 'verify-ca', 'verify-full']);

/**
 * A connection spec whose password is a freshly signed IAM token. Open the connection right away:
 * the token is accepted for 15 minutes. For a subscription, use a password secret (see
 * `IAM_SUBSCRIPTION_WARNING`).
 */
export async function iamAuthConnection(
  options: IamAuthOptions,
  now: () => Date = () => new Date(),
): Promise<ConnectionSpec & { tokenExpiresAt: string }> {
  const port = options.port ?? 5432;
  const provide = options.tokenProvider ?? signerTokenProvider;
  const request: TokenRequest = { hostname: options.host, port, username: options.user };
  if (options.region !== undefined) request.region = options.region;
  if (options.credentials !== undefined) request.credentials = options.credentials;
  const signedAt = now();
  const token = await provide(request);
  registerSecret(token);
  // RDS refuses IAM tokens over plain TCP; anything weaker than require would only fail later.
  const sslmode: SslMode = options.sslmode && TLS_MODES.has(options.sslmode) ? options.sslmode : 'require';
  const spec: ConnectionSpec & { tokenExpiresAt: string } = {
    host: options.host,
    port,
    database: options.database ?? 'postgres',
    databaseGiven: options.database !== undefined,
    user: options.user,
    password: token,
    sslmode,
    tokenExpiresAt: new Date(signedAt.getTime() + IAM_TOKEN_LIFETIME_SECONDS * 1000).toISOString(),
  };
  if (options.sslrootcert !== undefined) spec.sslrootcert = options.sslrootcert;
  if (options.connectTimeoutSeconds !== undefined) spec.connectTimeoutSeconds = options.connectTimeoutSeconds;
  if (options.applicationName !== undefined) spec.applicationName = options.applicationName;
  return spec;
}

/** Whether a password is an RDS IAM token (a presigned `Action=connect` request) rather than a real password. */
export function isIamAuthToken(password: string | undefined): boolean {
  return password !== undefined && /[?&]Action=connect(&|$)/.test(password) && /[?&]X-Amz-Signature=/.test(password);
}

/** Refuses a spec for a subscription's connection string when its password is an IAM token. */
export function assertSubscriptionCredentials(spec: ConnectionSpec): void {
  if (isIamAuthToken(spec.password)) throw new IamTokenNotUsable(IAM_SUBSCRIPTION_WARNING);
}
