import { describe, expect, it } from 'vitest';
import { assertNoSecrets, findSecret, SecretInRecordError } from '../../../src/jobs/index.ts';
import { redact } from '../../../src/connection/redact.ts';

describe('findSecret in text', () => {
  it.each([
    'postgres://app:hunter2@db.example.com:5432/app',
    'postgresql://app:hunter2@db.example.com/app?sslmode=require',
    'POSTGRES://app:hunter2@db',
    'failed to reach postgres://app:p%40ss@db:5432/app: timeout',
    'mysql://root:toor@localhost/db',
    'postgres://app:pa@ss@db/app',
  ])('refuses a URL with a password: %s', (text) => {
    expect(findSecret({ description: text })).toEqual(['description', 'holds a URL with a password']);
  });

  it.each([
    ['host=db user=app password=hunter2', 'holds a password=... setting'],
    ["password = 'two words'", 'holds a password=... setting'],
    ['PGPASSWORD=hunter2 pg_dump', 'holds a password=... setting'],
    ['secret document {"password": "hunter2"}', 'holds a JSON password'],
    ['{"SecretString":"x"}', 'holds a JSON password'],
  ])('refuses %s', (text, reason) => {
    expect(findSecret({ detail: text })?.[1]).toBe(reason);
  });

  it.each([
    'postgres://app@db.example.com:5432/app',
    'postgres://db.example.com:5432/app',
    'postgres://app:@db/app',
    'db.example.com:5432/app',
    'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-db-AbCdEf',
    'password authentication failed for user "app"',
    'https://console.aws.amazon.com/states/home#/executions',
  ])('accepts text without a password: %s', (text) => {
    expect(findSecret({ description: text })).toBeUndefined();
  });

  it('accepts what redact() masked', () => {
    const text =
      'postgres://app:hunter2@db/app and password=hunter2 and {"password": "hunter2"} and PGPASSWORD=hunter2';
    expect(findSecret({ detail: text })).toBeDefined();
    expect(findSecret({ detail: redact(text) })).toBeUndefined();
  });
});

describe('findSecret in keys', () => {
  it.each([
    'password',
    'Password',
    'PGPASSWORD',
    'db_password',
    'dbPassword',
    'passwd',
    'pwd',
    'secret',
    'clientSecret',
    'SecretString',
    'secret_value',
  ])('refuses a field named %s, however deep', (key) => {
    expect(findSecret({ source: { options: [{ [key]: 'x' }] } })).toEqual([
      `source.options[0].${key}`,
      'is a field named like a password or secret',
    ]);
  });

  it.each(['secretArn', 'secretName', 'passwordless', 'description'])('accepts a field named %s', (key) => {
    expect(findSecret({ source: { [key]: 'x' } })).toBeUndefined();
  });

  it('treats database names as names, not fields, but still checks them as text', () => {
    const progress = {
      state: 'RUNNING',
      phase: '',
      tablesDone: 0,
      tablesTotal: 0,
      rowsCopied: 0,
      bytesCopied: 0,
      updatedAt: '2025-01-01T00:00:00.000Z',
    };
    expect(findSecret({ jobId: 'j', databases: { secret: progress, password: progress } })).toBeUndefined();
    expect(findSecret({ databases: { 'postgres://u:pw@h/db': progress } })).toEqual([
      'a key of databases',
      'holds a URL with a password',
    ]);
    expect(findSecret({ databases: { app: { ...progress, password: 'x' } } })).toEqual([
      'databases.app.password',
      'is a field named like a password or secret',
    ]);
  });
});

describe('assertNoSecrets', () => {
  it('throws one sentence naming the record and the field, never the value', () => {
    const error = (() => {
      try {
        assertNoSecrets({ cause: 'connect postgres://app:hunter2@db/app' }, 'job transition');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(SecretInRecordError);
    expect(error).toMatchObject({
      path: 'cause',
      message:
        'Refusing to store the job transition because cause holds a URL with a password; record a secret ARN or a redacted host:port/db instead of credentials.',
    });
    expect(String((error as Error).message)).not.toContain('hunter2');
  });

  it('passes clean records, numbers, nulls and arrays', () => {
    expect(() => assertNoSecrets({ a: 1, b: null, c: [true, 'db:5432/app'], d: undefined }, 'job')).not.toThrow();
  });
});
