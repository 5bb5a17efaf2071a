import {
  GetSecretValueCommand,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { checkGrants, checkGrantsEvent, handler, ValidationFailed } from '../../../lambdas/check-grants.ts';
import { parseEvent } from '../../../lambdas/shared/errors.ts';
import { assertNoSecrets } from '../../support/no-secrets.ts';
import type { CheckResult } from '../../../src/checks/types.ts';
import type { ValidationRequest } from '../../../src/checks/validate.ts';
import { lambdaContext, SOURCE_ARN, TARGET_ARN, withLogs } from '../../support/lambda.ts';

const smMock = mockClient(SecretsManagerClient);
const secrets = new SecretsManagerClient({ region: 'eu-west-1' });
const SOURCE_PASSWORD = 'Grants-Src-Pa55-10';
const TARGET_PASSWORD = 'Grants-Tgt-Pa55@11';

function secretsAt(host: string, port: number) {
  smMock.on(GetSecretValueCommand, { SecretId: SOURCE_ARN }).resolves({
    SecretString: JSON.stringify({
      username: 'repl',
      password: SOURCE_PASSWORD,
      engine: 'postgres',
      host,
      port,
      dbname: 'shop',
    }),
  });
  smMock.on(GetSecretValueCommand, { SecretId: TARGET_ARN }).resolves({
    SecretString: JSON.stringify({
      url: `postgresql://admin:${encodeURIComponent(TARGET_PASSWORD)}@${host}:${port}`,
    }),
  });
}

const pass = (id: string, detail = 'fine'): CheckResult => ({ id, title: id, status: 'pass', detail });

beforeEach(() => {
  smMock.reset();
});

describe('checkGrants', () => {
  it('warns that an RDS-managed source secret rotates away from the password the subscription keeps', async () => {
    const managed = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0a1b2c3d-AbCdEf';
    smMock
      .on(GetSecretValueCommand, { SecretId: managed })
      .resolves({ SecretString: JSON.stringify({ username: 'master', password: SOURCE_PASSWORD }) });
    secretsAt('db.internal', 5432);
    const validate = async () => ({ ok: true, checks: [pass('source-reachable')] });
    const result = await checkGrants(
      {
        jobId: 'job-9',
        sourceSecretArn: managed,
        targetSecretArn: TARGET_ARN,
        sourceEndpoint: { host: 'db.internal' },
      },
      { secrets, validate },
    );
    expect(result.ok).toBe(true);
    expect(result.checks.at(-1)).toMatchObject({
      id: 'rotating-source-secret',
      status: 'warn',
      message: expect.stringContaining('replication stops at the next rotation'),
      remedy: expect.stringContaining('dedicated replication user'),
    });
    const plain = await checkGrants(
      { jobId: 'job-9', sourceSecretArn: SOURCE_ARN, targetSecretArn: TARGET_ARN },
      { secrets, validate },
    );
    expect(plain.checks.map((c) => c.id)).toEqual(['source-reachable']);
  });

  it('validates the specs read from both secrets, leaving out the local pg_dump check', async () => {
    secretsAt('db.internal', 5432);
    const requests: ValidationRequest[] = [];
    const result = await checkGrants(
      { jobId: 'job-2', sourceSecretArn: SOURCE_ARN, targetSecretArn: TARGET_ARN, databases: ['shop'] },
      {
        secrets,
        validate: async (request) => {
          requests.push(request);
          return {
            ok: false,
            checks: [
              pass('source-reachable', `PostgreSQL 16 at repl@db.internal:5432/shop (server said ${SOURCE_PASSWORD})`),
              { id: 'local-pg-dump', title: 'pg_dump', status: 'fail', detail: 'no pg_dump', remedy: 'install it' },
              { id: 'sequences', title: 'Sequences', status: 'warn', detail: '2 sequences', remedy: 'run cutover' },
            ],
          };
        },
      },
    );
    expect(requests).toHaveLength(1);
    expect(requests[0]!.source).toMatchObject({ user: 'repl', password: SOURCE_PASSWORD, database: 'shop' });
    // One database and a target secret without one: the target database is that database.
    expect(requests[0]!.target).toMatchObject({
      user: 'admin',
      password: TARGET_PASSWORD,
      database: 'shop',
      databaseGiven: true,
    });
    expect(requests[0]!.filters).toEqual({ includeDatabases: ['shop'] });
    expect(result).toEqual({
      jobId: 'job-2',
      ok: true,
      checks: [
        {
          id: 'source-reachable',
          status: 'pass',
          message: 'PostgreSQL 16 at repl@db.internal:5432/shop (server said ***)',
        },
        { id: 'sequences', status: 'warn', message: '2 sequences', remedy: 'run cutover' },
      ],
    });
    assertNoSecrets(result, [SOURCE_PASSWORD, TARGET_PASSWORD]);
    expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('takes the endpoint from the event for a secret that holds only a user name and password', async () => {
    smMock
      .on(GetSecretValueCommand, { SecretId: SOURCE_ARN })
      .resolves({ SecretString: JSON.stringify({ username: 'postgres', password: SOURCE_PASSWORD }) });
    smMock
      .on(GetSecretValueCommand, { SecretId: TARGET_ARN })
      .resolves({ SecretString: JSON.stringify({ url: 'postgresql://admin:x-pw-unit@10.0.0.9/shop' }) });
    const requests: ValidationRequest[] = [];
    const event = parseEvent(checkGrantsEvent, {
      jobId: 'job-2',
      sourceSecretArn: SOURCE_ARN,
      targetSecretArn: TARGET_ARN,
      sourceEndpoint: 'shop.abc123.eu-west-1.rds.amazonaws.com:5433',
    });
    await checkGrants(event, {
      secrets,
      validate: async (request) => (requests.push(request), { ok: true, checks: [] }),
    });
    expect(requests[0]!.source).toMatchObject({
      host: 'shop.abc123.eu-west-1.rds.amazonaws.com',
      port: 5433,
      user: 'postgres',
      sslmode: 'require',
    });
    expect(requests[0]!.target).toMatchObject({ host: '10.0.0.9', database: 'shop' });
  });

  it('throws ValidationFailed listing each failed check with its remedy', async () => {
    secretsAt('db.internal', 5432);
    const error = await checkGrants(
      { jobId: 'job-2', sourceSecretArn: SOURCE_ARN, targetSecretArn: TARGET_ARN },
      {
        secrets,
        validate: async (request) => {
          expect(request.filters).toBeUndefined();
          return {
            ok: false,
            checks: [
              pass('source-reachable'),
              {
                id: 'source-replication-privilege',
                title: 'Replication privilege',
                status: 'fail',
                detail: 'repl cannot create a replication slot.',
                remedy: 'Run GRANT rds_replication TO repl; as the RDS master user.',
              },
              {
                id: 'replica-identity',
                title: 'Replica identity',
                status: 'fail',
                detail: 'shop: public.log has none.',
                remedy: 'ALTER TABLE public.log REPLICA IDENTITY FULL;',
              },
            ],
          };
        },
      },
    ).then(
      () => undefined,
      (e: unknown) => e as ValidationFailed,
    );
    if (!error) throw new Error('expected checkGrants to fail');
    expect(error).toBeInstanceOf(ValidationFailed);
    expect(error.name).toBe('ValidationFailed');
    expect(error.message).toBe(
      '2 check(s) failed: source-replication-privilege: repl cannot create a replication slot. Fix: Run GRANT rds_replication TO repl; as the RDS master user. | replica-identity: shop: public.log has none. Fix: ALTER TABLE public.log REPLICA IDENTITY FULL;',
    );
    expect(error.checks.map((c) => c.status)).toEqual(['pass', 'fail', 'fail']);
  });
});

describe('check-grants handler', () => {
  it('fails with ValidationFailed naming the unreachable sides, with no password in the error or the logs', async () => {
    secretsAt('127.0.0.1', 1);
    const { error, logs, lines } = await withLogs(() =>
      handler(
        { jobId: 'job-3', sourceSecretArn: SOURCE_ARN, targetSecretArn: TARGET_ARN },
        lambdaContext('check-grants'),
      ),
    );
    expect(error).toMatchObject({ name: 'ValidationFailed' });
    expect(error!.message).toMatch(/^2 check\(s\) failed: source-reachable: .*127\.0\.0\.1:1.* \| target-reachable: /);
    expect(lines.filter((l) => l.level === 'WARN').map((l) => l.check)).toEqual([
      'source-reachable',
      'target-reachable',
    ]);
    const everything = `${error!.message}\n${error!.stack}\n${logs}`;
    assertNoSecrets(everything, [SOURCE_PASSWORD, TARGET_PASSWORD]);
  });

  it('fails with MissingPermission when the role may not read a secret', async () => {
    smMock.on(GetSecretValueCommand).rejects(
      new SecretsManagerServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        $metadata: {},
        message: 'not authorized',
      }),
    );
    const { error } = await withLogs(() =>
      handler({ jobId: 'job-3', sourceSecretArn: SOURCE_ARN, targetSecretArn: TARGET_ARN }, lambdaContext()),
    );
    expect(error).toMatchObject({
      name: 'MissingPermission',
      message: expect.stringContaining('secretsmanager:GetSecretValue'),
    });
  });

  it('fails with SecretMalformed naming the key, never the value', async () => {
    smMock
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ username: 'u', host: 'h', passwd: SOURCE_PASSWORD }) });
    const { error, logs } = await withLogs(() =>
      handler({ jobId: 'job-3', sourceSecretArn: SOURCE_ARN, targetSecretArn: TARGET_ARN }, lambdaContext()),
    );
    expect(error).toMatchObject({ name: 'SecretMalformed', message: expect.stringContaining('has no "password" key') });
    expect(error!.message + logs).not.toContain(SOURCE_PASSWORD);
  });
});
