import { describe, expect, it } from 'vitest';
import {
  assertSubscriptionCredentials,
  IAM_SUBSCRIPTION_WARNING,
  iamAuthConnection,
  IamTokenNotUsable,
  isIamAuthToken,
  signerTokenProvider,
  type TokenRequest,
} from '../../../src/connection/iam-auth.ts';
import { redact } from '../../../src/connection/redact.ts';

const HOST = 'shop.abc123.eu-west-1.rds.amazonaws.com';
const fakeToken = (r: TokenRequest) =>
  `${r.hostname}:${r.port}/?Action=connect&DBUser=${r.username}&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=900&X-Amz-Signature=f00dfeed-unit`;

describe('iamAuthConnection', () => {
  it('uses the token as the password, requires TLS and says when the token expires', async () => {
    const requests: TokenRequest[] = [];
    const spec = await iamAuthConnection(
      {
        host: HOST,
        user: 'replicator',
        database: 'shop',
        region: 'eu-west-1',
        sslmode: 'prefer',
        tokenProvider: async (r) => (requests.push(r), fakeToken(r)),
      },
      () => new Date('2026-01-01T10:00:00Z'),
    );
    expect(requests).toEqual([{ hostname: HOST, port: 5432, username: 'replicator', region: 'eu-west-1' }]);
    expect(spec).toMatchObject({
      host: HOST,
      port: 5432,
      user: 'replicator',
      database: 'shop',
      databaseGiven: true,
      sslmode: 'require',
      tokenExpiresAt: '2026-01-01T10:15:00.000Z',
    });
    expect(spec.password).toBe(fakeToken(requests[0]!));
    // The token is registered like a password: no log line can show it.
    expect(redact(`connect with ${spec.password}`)).toBe('connect with ***');
  });

  it('keeps a stricter sslmode and the root certificate', async () => {
    const spec = await iamAuthConnection({
      host: HOST,
      port: 6543,
      user: 'u',
      sslmode: 'verify-full',
      sslrootcert: '/opt/rds-ca.pem',
      tokenProvider: async (r) => fakeToken(r),
    });
    expect(spec).toMatchObject({
      port: 6543,
      database: 'postgres',
      databaseGiven: false,
      sslmode: 'verify-full',
      sslrootcert: '/opt/rds-ca.pem',
    });
  });

  it('signs a real token locally with the SDK signer and static credentials (no network)', async () => {
    const token = await signerTokenProvider({
      hostname: HOST,
      port: 5432,
      username: 'replicator',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    });
    expect(token.startsWith(`${HOST}:5432/?`)).toBe(true);
    expect(token).toContain('Action=connect');
    expect(token).toContain('DBUser=replicator');
    expect(token).toContain('X-Amz-Expires=900');
    expect(isIamAuthToken(token)).toBe(true);
  });
});

describe('subscriptions and IAM tokens', () => {
  it('refuses an IAM token for a subscription, saying to use a password secret', async () => {
    const spec = await iamAuthConnection({ host: HOST, user: 'u', tokenProvider: async (r) => fakeToken(r) });
    expect(() => assertSubscriptionCredentials(spec)).toThrow(IamTokenNotUsable);
    expect(() => assertSubscriptionCredentials(spec)).toThrow(IAM_SUBSCRIPTION_WARNING);
    expect(IAM_SUBSCRIPTION_WARNING).toMatch(/15-minute token.*password secret/);
  });

  it('accepts an ordinary password', () => {
    expect(() =>
      assertSubscriptionCredentials({
        host: HOST,
        port: 5432,
        user: 'u',
        password: 'Action=connect-ish but a password',
        database: 'd',
        databaseGiven: true,
        sslmode: 'require',
      }),
    ).not.toThrow();
    expect(isIamAuthToken(undefined)).toBe(false);
  });
});
