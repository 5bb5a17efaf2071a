import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { redact } from '../../../src/connection/redact.ts';
import {
  MissingPermission,
  resolveSecretConnection,
  SecretMalformed,
  SecretNotFound,
  type SecretCache,
} from '../../../src/connection/secrets.ts';

const smMock = mockClient(SecretsManagerClient);
const client = new SecretsManagerClient({ region: 'eu-west-1' });
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1234-AbCdEf';

function holds(document: unknown) {
  smMock
    .on(GetSecretValueCommand, { SecretId: ARN })
    .resolves({ ARN, SecretString: typeof document === 'string' ? document : JSON.stringify(document) });
}

async function failure(): Promise<Error> {
  const error = await resolveSecretConnection(client, ARN).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!error) throw new Error('expected resolveSecretConnection to fail');
  return error;
}

beforeEach(() => {
  smMock.reset();
});

describe('resolveSecretConnection', () => {
  it('reads the RDS-managed shape, defaulting dbname to postgres and requiring TLS for an RDS host', async () => {
    holds({
      username: 'master',
      password: 'Rds-Pa55-unit-1',
      engine: 'postgres',
      host: 'shop.abc123.eu-west-1.rds.amazonaws.com',
      port: 5432,
      dbInstanceIdentifier: 'shop',
    });
    const spec = await resolveSecretConnection(client, ARN);
    expect(spec).toEqual({
      host: 'shop.abc123.eu-west-1.rds.amazonaws.com',
      port: 5432,
      database: 'postgres',
      databaseGiven: false,
      user: 'master',
      password: 'Rds-Pa55-unit-1',
      sslmode: 'require',
    });
    expect(smMock.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({ SecretId: ARN });
  });

  it('registers the password with the redactor, so logs mask it', async () => {
    holds({ username: 'master', password: 'Rds-Pa55-unit-2@x', host: 'db.internal', port: '6432', dbname: 'shop' });
    const spec = await resolveSecretConnection(client, ARN);
    expect(spec).toMatchObject({
      host: 'db.internal',
      port: 6432,
      database: 'shop',
      databaseGiven: true,
      sslmode: 'prefer',
    });
    expect(redact('login failed with Rds-Pa55-unit-2@x and Rds-Pa55-unit-2%40x')).toBe('login failed with *** and ***');
  });

  it("takes a database override and the secret's own sslmode", async () => {
    holds({
      username: 'app',
      password: 'Rds-Pa55-unit-3',
      host: 'db.internal',
      port: 5432,
      dbname: 'shop',
      sslmode: 'verify-full',
      sslrootcert: '/opt/rds-ca.pem',
    });
    const spec = await resolveSecretConnection(client, ARN, { database: 'orders' });
    expect(spec).toMatchObject({
      database: 'orders',
      databaseGiven: true,
      sslmode: 'verify-full',
      sslrootcert: '/opt/rds-ca.pem',
    });
  });

  it('connects an RDS-managed master user secret (user name and password only) to the endpoint it is given', async () => {
    holds({ username: 'postgres', password: 'Managed-Pa55-unit' });
    const missing = await failure();
    expect(missing.message).toBe(
      `The secret ${ARN} has no "host" key (an RDS-managed master user secret holds only the user name and password: give the endpoint with it); store either the RDS shape {"username", "password", "host", "port", "dbname"} or {"url": "postgresql://user:password@host:5432/db"}.`,
    );
    const spec = await resolveSecretConnection(client, ARN, {
      endpoint: { host: 'shop.abc123.eu-west-1.rds.amazonaws.com', port: 5433 },
    });
    expect(spec).toMatchObject({
      host: 'shop.abc123.eu-west-1.rds.amazonaws.com',
      port: 5433,
      user: 'postgres',
      password: 'Managed-Pa55-unit',
      sslmode: 'require',
    });
  });

  it("keeps the secret's own host over a given endpoint", async () => {
    holds({ username: 'u', password: 'Own-Host-Pa55', host: 'own.internal', port: 5432 });
    expect(
      await resolveSecretConnection(client, ARN, { endpoint: { host: 'other.internal', port: 6000 } }),
    ).toMatchObject({ host: 'own.internal', port: 5432 });
  });

  it('reads the {url} shape with a percent-encoded password', async () => {
    holds({ url: 'postgresql://repl:s3cr%40t-unit-4@10.0.0.5:5433/shop?sslmode=require' });
    const spec = await resolveSecretConnection(client, ARN);
    expect(spec).toMatchObject({
      host: '10.0.0.5',
      port: 5433,
      database: 'shop',
      user: 'repl',
      password: 's3cr@t-unit-4',
      sslmode: 'require',
    });
    expect(redact('s3cr@t-unit-4')).toBe('***');
  });

  it.each([
    [
      'a missing password',
      { username: 'u', host: 'h.example', port: 5432, other: 'Leaky-Value-5' },
      /has no "password" key/,
    ],
    ['a missing host', { username: 'u', password: 'Leaky-Value-5', port: 5432 }, /has no "host" key/],
    [
      'a port that is not a number',
      { username: 'u', password: 'Leaky-Value-5', host: 'h', port: 'Leaky-Value-5x' },
      /has a "port" key that is not a port number from 1 to 65535/,
    ],
    [
      'a password that is not a string',
      { username: 'u', password: 123456789, host: 'h' },
      /has a "password" key that is not a non-empty string/,
    ],
    [
      'an unknown sslmode',
      { username: 'u', password: 'Leaky-Value-5', host: 'h', sslmode: 'Leaky-Value-5y' },
      /has a "sslmode" key that is not one of disable, allow/,
    ],
    [
      'another engine',
      { username: 'u', password: 'Leaky-Value-5', host: 'h', engine: 'mysql' },
      /is for the engine "mysql", not PostgreSQL/,
    ],
    [
      'a url that is not PostgreSQL',
      { url: 'mysql://u:Leaky-Value-5@h/db' },
      /has a "url" key that is not a usable PostgreSQL URL: The URL must start with postgres:\/\//,
    ],
    [
      'a url with an unencoded @ in the password',
      { url: 'postgres://u:Leaky@Value-5@h/db' },
      /has a "url" key that is not a usable PostgreSQL URL: The URL has an @ where the host should be/,
    ],
    ['a url that is not a string', { url: 42 }, /has a "url" key that is not a non-empty string/],
    ['a JSON array', ['Leaky-Value-5'], /is not a JSON object/],
    ['text that is not JSON', 'user=u password=Leaky-Value-5', /is not valid JSON/],
  ])('refuses %s with one sentence naming the key and the ARN, never a value', async (_what, document, pattern) => {
    holds(document);
    const error = await failure();
    expect(error).toBeInstanceOf(SecretMalformed);
    expect(error.name).toBe('SecretMalformed');
    expect(error.message).toMatch(pattern);
    expect(error.message).toContain(ARN);
    expect(error.message).not.toMatch(/Leaky|123456789\b/);
    expect(error.message.endsWith('.')).toBe(true);
  });

  it('refuses a binary secret', async () => {
    smMock.on(GetSecretValueCommand).resolves({ ARN, SecretBinary: new Uint8Array([1, 2, 3]) });
    expect((await failure()).message).toMatch(/holds binary data, not a JSON document/);
  });

  it('turns AccessDeniedException into MissingPermission naming secretsmanager:GetSecretValue', async () => {
    smMock.on(GetSecretValueCommand).rejects(
      new SecretsManagerServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message:
          'User arn:aws:sts::123456789012:assumed-role/fn is not authorized to perform: secretsmanager:GetSecretValue',
      }),
    );
    const error = await failure();
    expect(error).toBeInstanceOf(MissingPermission);
    expect(error).toMatchObject({ name: 'MissingPermission', action: 'secretsmanager:GetSecretValue' });
    expect(error.message).toBe(
      `This role may not read the secret ${ARN}; grant it secretsmanager:GetSecretValue on that secret (and kms:Decrypt on its KMS key if it uses a customer managed key).`,
    );
  });

  it('turns a KMS DecryptionFailure into MissingPermission naming kms:Decrypt', async () => {
    smMock.on(GetSecretValueCommand).rejects(
      new SecretsManagerServiceException({
        name: 'DecryptionFailure',
        $fault: 'client',
        $metadata: {},
        message: 'denied',
      }),
    );
    expect(await failure()).toMatchObject({ name: 'MissingPermission', action: 'kms:Decrypt' });
  });

  it('reports a missing secret as SecretNotFound', async () => {
    smMock
      .on(GetSecretValueCommand)
      .rejects(
        new ResourceNotFoundException({ $metadata: {}, message: "Secrets Manager can't find the specified secret." }),
      );
    const error = await failure();
    expect(error).toBeInstanceOf(SecretNotFound);
    expect(error.message).toBe(
      `The secret ${ARN} does not exist (or has no current version); check the ARN and the region.`,
    );
  });

  it('fetches each secret once per cache, and does not keep a failure', async () => {
    const cache: SecretCache = new Map();
    smMock
      .on(GetSecretValueCommand)
      .rejectsOnce(
        new SecretsManagerServiceException({
          name: 'InternalServiceError',
          $fault: 'server',
          $metadata: {},
          message: 'try again',
        }),
      )
      .resolves({ SecretString: JSON.stringify({ username: 'u', password: 'Cached-Pa55-6', host: 'h.internal' }) });
    await expect(resolveSecretConnection(client, ARN, { cache })).rejects.toMatchObject({
      name: 'InternalServiceError',
    });
    expect(cache.size).toBe(0);
    const first = await resolveSecretConnection(client, ARN, { cache });
    const second = await resolveSecretConnection(client, ARN, { cache, database: 'orders' });
    expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(second).toMatchObject({ database: 'orders', password: 'Cached-Pa55-6' });
    // Callers get their own copy: changing one spec does not change the cached one.
    first.database = 'changed';
    expect((await resolveSecretConnection(client, ARN, { cache })).database).toBe('postgres');
    // Without a cache, every call reads the secret (a rotated password is picked up).
    await resolveSecretConnection(client, ARN);
    expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(3);
  });
});
