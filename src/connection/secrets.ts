import { ACCESS_DENIED } from '../errors/aws-errors.ts';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { registerSecret } from './redact.ts';
import {
  ConnectionUrlError,
  parseConnectionUrl,
  SSL_MODES,
  withDatabase,
  type ConnectionSpec,
  type SslMode,
} from './url.ts';

// Credentials in AWS come from Secrets Manager: the workflow passes secret ARNs between its steps and
// each function or task reads the value itself. Every message here names the secret and the key,
// never a value: a secret's document may hold the password under any key.

/**
 * The caller's IAM role may not call an AWS action. The one error name for every permission problem
 * (Secrets Manager, KMS, RDS), so a state machine can match `MissingPermission` wherever it happens.
 */
export class MissingPermission extends Error {
  override name = 'MissingPermission';
  /** The IAM action to grant, e.g. `secretsmanager:GetSecretValue`. */
  readonly action: string;
  constructor(action: string, message: string) {
    super(message);
    this.action = action;
  }
}

export function isAccessDenied(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { Code?: string }).Code;
  return ACCESS_DENIED.has(error.name) || (code !== undefined && ACCESS_DENIED.has(code));
}

export class SecretNotFound extends Error {
  override name = 'SecretNotFound';
}

/** The secret exists but does not hold a usable PostgreSQL connection; the message names the key. */
export class SecretMalformed extends Error {
  override name = 'SecretMalformed';
}

const SHAPES_HINT =
  'store either the RDS shape {"username", "password", "host", "port", "dbname"} or {"url": "postgresql://user:password@host:5432/db"}';

const portSchema = z.union([
  z.number().int().min(1).max(65535),
  z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(1).max(65535)),
]);

/** The document RDS writes for a managed master user secret (and the console's "Credentials for RDS database"). */
const rdsSecretSchema = z.object({
  username: z.string().min(1),
  password: z.string().min(1),
  host: z.string().min(1),
  port: portSchema.optional(),
  dbname: z.string().min(1).optional(),
  engine: z.string().optional(),
  // Not written by RDS; accepted so a secret can demand verify-full (with the RDS CA bundle) or relax TLS for a lab.
  sslmode: z.enum(SSL_MODES as [SslMode, ...SslMode[]]).optional(),
  sslrootcert: z.string().min(1).optional(),
});

const urlSecretSchema = z.object({ url: z.string().min(1) });

const POSTGRES_ENGINES = new Set(['postgres', 'aurora-postgresql']);

export interface ResolveSecretOptions {
  /** Connect to this database instead of the secret's `dbname` (or the URL's database). */
  database?: string;
  /**
   * Resolved secrets of this invocation, by ARN: each secret is fetched once per Lambda invocation or
   * task run. Create a new Map per invocation, so a rotated password is picked up by the next one.
   */
  cache?: SecretCache;
  /**
   * Where to connect when the secret holds only a user name and password (the master user secret
   * RDS manages for an instance with ManageMasterUserPassword has no host): the source's endpoint.
   */
  endpoint?: { host: string; port?: number };
}

export type SecretCache = Map<string, Promise<ConnectionSpec>>;

/** One sentence about a schema problem: which key, and what kind of value it must be. Never the value. */
function describeIssue(
  secretArn: string,
  document: Record<string, unknown>,
  issue: z.ZodError['issues'][number],
): string {
  const key = String(issue.path[0] ?? '');
  if (!key) return `The secret ${secretArn} is not a JSON object; ${SHAPES_HINT}.`;
  if (!(key in document) || document[key] === null) {
    const managed =
      key === 'host' && 'username' in document && 'password' in document
        ? ' (an RDS-managed master user secret holds only the user name and password: give the endpoint with it)'
        : '';
    return `The secret ${secretArn} has no "${key}" key${managed}; ${SHAPES_HINT}.`;
  }
  const expectation: Record<string, string> = {
    port: 'a port number from 1 to 65535',
    sslmode: `one of ${SSL_MODES.join(', ')}`,
  };
  return `The secret ${secretArn} has a "${key}" key that is not ${expectation[key] ?? 'a non-empty string'}; fix that key (${SHAPES_HINT}).`;
}

/** Defaults for a secret that names no sslmode: RDS always offers TLS, so insist on it there. */
function defaultSslMode(host: string): SslMode {
  return /\.amazonaws\.com\.?$/i.test(host) ? 'require' : 'prefer';
}

function specFromDocument(
  secretArn: string,
  document: unknown,
  endpoint: ResolveSecretOptions['endpoint'],
): ConnectionSpec {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new SecretMalformed(`The secret ${secretArn} is not a JSON object; ${SHAPES_HINT}.`);
  }
  let record = document as Record<string, unknown>;
  if (endpoint && !('url' in record) && record.host === undefined) {
    record = {
      ...record,
      host: endpoint.host,
      ...(record.port === undefined && endpoint.port !== undefined ? { port: endpoint.port } : {}),
    };
  }
  // Registered before any validation, so no later message or log line can echo it.
  if (typeof record.password === 'string') registerSecret(record.password);
  if ('url' in record) {
    const parsed = urlSecretSchema.safeParse(record);
    if (!parsed.success)
      throw new SecretMalformed(
        `The secret ${secretArn} has a "url" key that is not a non-empty string; ${SHAPES_HINT}.`,
      );
    try {
      return parseConnectionUrl(parsed.data.url);
    } catch (error) {
      if (error instanceof ConnectionUrlError)
        throw new SecretMalformed(
          `The secret ${secretArn} has a "url" key that is not a usable PostgreSQL URL: ${error.message}`,
        );
      throw error;
    }
  }
  const parsed = rdsSecretSchema.safeParse(record);
  if (!parsed.success) throw new SecretMalformed(describeIssue(secretArn, record, parsed.error.issues[0]!));
  const secret = parsed.data;
  if (secret.engine !== undefined && !POSTGRES_ENGINES.has(secret.engine)) {
    throw new SecretMalformed(
      `The secret ${secretArn} is for the engine "${secret.engine}", not PostgreSQL; give the secret of a postgres or aurora-postgresql database.`,
    );
  }
  const spec: ConnectionSpec = {
    host: secret.host,
    port: secret.port ?? 5432,
    database: secret.dbname ?? 'postgres',
    databaseGiven: secret.dbname !== undefined,
    user: secret.username,
    password: secret.password,
    sslmode: secret.sslmode ?? defaultSslMode(secret.host),
  };
  if (secret.sslrootcert !== undefined) spec.sslrootcert = secret.sslrootcert;
  return spec;
}

async function fetchSecret(
  client: SecretsManagerClient,
  secretArn: string,
  endpoint: ResolveSecretOptions['endpoint'],
): Promise<ConnectionSpec> {
  let text: string | undefined;
  try {
    const output = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    text = output.SecretString;
  } catch (error) {
    if (isAccessDenied(error)) {
      throw new MissingPermission(
        'secretsmanager:GetSecretValue',
        `This role may not read the secret ${secretArn}; grant it secretsmanager:GetSecretValue on that secret (and kms:Decrypt on its KMS key if it uses a customer managed key).`,
      );
    }
    const name = (error as Error).name;
    if (name === 'DecryptionFailure') {
      throw new MissingPermission(
        'kms:Decrypt',
        `The secret ${secretArn} could not be decrypted; grant this role kms:Decrypt on the secret's KMS key.`,
      );
    }
    if (name === 'ResourceNotFoundException')
      throw new SecretNotFound(
        `The secret ${secretArn} does not exist (or has no current version); check the ARN and the region.`,
      );
    if (name === 'InvalidRequestException')
      throw new SecretNotFound(
        `The secret ${secretArn} cannot be read (it may be scheduled for deletion); restore it or give another secret.`,
      );
    throw error;
  }
  if (text === undefined)
    throw new SecretMalformed(`The secret ${secretArn} holds binary data, not a JSON document; ${SHAPES_HINT}.`);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error, which may be the password.
    throw new SecretMalformed(`The secret ${secretArn} is not valid JSON; ${SHAPES_HINT}.`);
  }
  return specFromDocument(secretArn, document, endpoint);
}

/**
 * Reads a Secrets Manager secret holding PostgreSQL credentials and returns the connection it
 * describes. The password is registered with the redactor before anything else can echo it.
 * The returned spec holds the password: keep it inside the function or task that resolved it,
 * and pass only the ARN on.
 */
export async function resolveSecretConnection(
  client: SecretsManagerClient,
  secretArn: string,
  options: ResolveSecretOptions = {},
): Promise<ConnectionSpec> {
  const key = options.endpoint ? `${secretArn} ${options.endpoint.host}:${options.endpoint.port ?? ''}` : secretArn;
  let pending = options.cache?.get(key);
  if (!pending) {
    pending = fetchSecret(client, secretArn, options.endpoint);
    options.cache?.set(key, pending);
    // A failed read is not cached: the next call within the invocation tries again.
    pending.catch(() => options.cache?.delete(key));
  }
  const spec = await pending;
  return options.database !== undefined ? withDatabase(spec, options.database) : { ...spec };
}
