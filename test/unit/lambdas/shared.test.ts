import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConnectionError } from '../../../src/connection/errors.ts';
import { registerSecret } from '../../../src/connection/redact.ts';
import { InvalidEvent, lambdaHandler, parseEvent } from '../../../lambdas/shared/errors.ts';
import { NamedError, toSafeError } from '../../../src/errors/safe-error.ts';
import { effectiveFilters, endpointsEventSchema } from '../../../lambdas/shared/events.ts';
import { assertNoSecrets, SecretLeak } from '../../support/no-secrets.ts';
import { createLambdaLogger } from '../../../lambdas/shared/logger.ts';
import { lambdaContext, SOURCE_ARN, TARGET_ARN, withLogs } from '../../support/lambda.ts';

const SECRET = 'Shared-Unit-Pa55-7';
registerSecret(SECRET);
const ENCODED_SECRET = 'Enc@ded-Unit-Pa55';
registerSecret(ENCODED_SECRET);

describe('assertNoSecrets', () => {
  it('passes a value without secrets', () => {
    expect(() =>
      assertNoSecrets({
        jobId: 'j1',
        sourceSecretArn: SOURCE_ARN,
        checks: [{ id: 'x', message: 'postgres://app@db/shop' }],
      }),
    ).not.toThrow();
  });

  it.each([
    ['a registered password', { detail: `failed with ${SECRET}` }],
    ['a percent-encoded registered password', `url part ${encodeURIComponent(ENCODED_SECRET)}`],
    ['a URL with a password', { url: 'postgresql://u:unregistered-pw@h/db' }],
    ['a password member', { password: 'whatever-it-is' }],
  ])('throws SecretLeak for %s, without repeating it', (_what, value) => {
    let error: Error | undefined;
    try {
      assertNoSecrets(value);
    } catch (e) {
      error = e as Error;
    }
    expect(error).toBeInstanceOf(SecretLeak);
    expect(error!.message).not.toContain(SECRET);
    expect(error!.message).not.toContain('Enc%40ded');
    expect(error!.message).not.toContain('unregistered-pw');
    expect(error!.message).not.toContain('whatever-it-is');
  });

  it('checks extra strings it was given', () => {
    expect(() => assertNoSecrets({ a: 'xyz-extra' }, ['xyz-extra'])).toThrow(SecretLeak);
    expect(() => assertNoSecrets({ a: 'abc' }, ['xyz-extra'])).not.toThrow();
  });
});

describe('the Powertools logger', () => {
  it('writes JSON lines with every string redacted and secret keys masked', async () => {
    const logger = createLambdaLogger('unit');
    const { logs, lines } = await withLogs(async () => {
      logger.info(`connecting with ${SECRET}`, {
        password: 'plain-member-pw',
        nested: { url: 'postgres://u:url-pw-1@h/db', note: SECRET },
      });
      logger.error('failed', new Error(`driver said ${SECRET}`));
    });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 'INFO',
      message: 'connecting with ***',
      password: '***',
      nested: { url: 'postgres://u:***@h/db', note: '***' },
    });
    expect(lines[1]).toMatchObject({ level: 'ERROR', error: { message: 'driver said ***' } });
    for (const leak of [SECRET, 'plain-member-pw', 'url-pw-1']) expect(logs).not.toContain(leak);
  });
});

describe('toSafeError', () => {
  it('keeps a typed name and masks the message and stack', () => {
    const original = new NamedError('LogicalReplicationOff', `set it; password was ${SECRET}`);
    const safe = toSafeError(original);
    expect(safe.name).toBe('LogicalReplicationOff');
    expect(safe.message).toBe('set it; password was ***');
    expect(safe.stack).toMatch(/^LogicalReplicationOff: set it; password was \*\*\*\n\s+at /);
    expect(safe.stack).not.toContain(SECRET);
  });

  it('names a connection failure ConnectionFailed and appends its remedy', () => {
    const safe = toSafeError(
      new ConnectionError(
        'auth-failed',
        'Could not connect to the source: password authentication failed.',
        'Check the password.',
        'u@h:5432/db',
        new Error(SECRET),
      ),
    );
    expect(safe).toMatchObject({
      name: 'ConnectionFailed',
      message: 'Could not connect to the source: password authentication failed. Check the password.',
    });
    expect(safe.cause).toBeUndefined();
  });

  it('names a pg server error (name "error") DatabaseError and drops its fields', () => {
    const pgError = Object.assign(new Error('permission denied for table orders'), {
      name: 'error',
      detail: `row data ${SECRET}`,
    });
    const safe = toSafeError(pgError);
    expect(safe).toMatchObject({ name: 'DatabaseError', message: 'permission denied for table orders' });
    expect(JSON.stringify({ ...safe })).not.toContain(SECRET);
  });

  it('wraps a thrown non-Error', () => {
    expect(toSafeError(`boom ${SECRET}`)).toMatchObject({ name: 'Error', message: 'boom ***' });
  });
});

describe('parseEvent', () => {
  it('names missing and wrong fields, never their values', () => {
    const leaky = `postgresql://u:${'Event-Pw-8'}@h/db`;
    let error: Error | undefined;
    try {
      parseEvent(endpointsEventSchema, { jobId: 'j1', sourceSecretArn: leaky, databases: [] });
    } catch (e) {
      error = e as Error;
    }
    expect(error).toBeInstanceOf(InvalidEvent);
    expect(error!.name).toBe('InvalidEvent');
    expect(error!.message).toContain('sourceSecretArn: must be a Secrets Manager secret ARN');
    expect(error!.message).toContain('targetSecretArn is missing');
    expect(error!.message).toContain('databases:');
    expect(error!.message).not.toContain('Event-Pw-8');
  });

  it('accepts the ARN of an RDS-managed secret (rds!...) and a host:port endpoint', () => {
    const managed = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0a1b2c3d-4e5f-AbCdEf';
    const event = parseEvent(endpointsEventSchema, {
      jobId: 'j1',
      sourceSecretArn: managed,
      targetSecretArn: TARGET_ARN,
      sourceEndpoint: 'shop.abc.rds.amazonaws.com:5433',
    });
    expect(event).toMatchObject({
      sourceSecretArn: managed,
      sourceEndpoint: { host: 'shop.abc.rds.amazonaws.com', port: 5433 },
    });
  });

  it('refuses unknown filter keys', () => {
    expect(() =>
      parseEvent(endpointsEventSchema, {
        jobId: 'j1',
        sourceSecretArn: SOURCE_ARN,
        targetSecretArn: TARGET_ARN,
        filters: { includeTabels: ['a'] },
      }),
    ).toThrow(/filters has unknown keys includeTabels/);
  });

  it('returns the parsed event, with databases as the include filter', () => {
    const event = parseEvent(endpointsEventSchema, {
      jobId: 'j1',
      sourceSecretArn: SOURCE_ARN,
      targetSecretArn: TARGET_ARN,
      databases: ['shop'],
      filters: { excludeTables: ['shop.log'] },
    });
    expect(effectiveFilters(event.databases, event.filters)).toEqual({
      includeDatabases: ['shop'],
      excludeTables: ['shop.log'],
    });
    expect(effectiveFilters(undefined, undefined)).toBeUndefined();
  });
});

describe('lambdaHandler', () => {
  it('reports a thrown error by its name with a masked message, and logs it with the request id', async () => {
    const logger = createLambdaLogger('unit-handler');
    const handler = lambdaHandler(logger, async () => {
      throw new NamedError('RebootPending', `reboot it (${SECRET})`);
    });
    const { error, lines, logs } = await withLogs(() => handler({}, lambdaContext('unit-handler')));
    expect(error).toMatchObject({ name: 'RebootPending', message: 'reboot it (***)' });
    expect(lines.at(-1)).toMatchObject({
      level: 'ERROR',
      message: 'RebootPending: reboot it (***)',
      errorName: 'RebootPending',
      function_request_id: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    });
    expect(logs).not.toContain(SECRET);
  });

  it('returns the result of the logic', async () => {
    const handler = lambdaHandler(createLambdaLogger('unit-ok'), async (event) => ({
      echoed: (event as { a: number }).a,
    }));
    expect(await handler({ a: 1 }, lambdaContext())).toEqual({ echoed: 1 });
  });

  it('validates with zod schemas of the caller', () => {
    expect(() => parseEvent(z.object({ n: z.number() }), { n: 'x' })).toThrow(/^The event is not valid: n: /);
  });
});
