import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseTaskConfig, TaskConfigError } from '../../../src/task/config.ts';

const SOURCE = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:source-AbCdEf';
const TARGET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1234-AbCdEf';
const base = {
  JOB_ID: 'job-1',
  DATABASE: 'shop',
  SOURCE_SECRET_ARN: SOURCE,
  TARGET_SECRET_ARN: TARGET,
  STATE_DIR: '/tmp/dbr-state',
};

function configError(args: string[], env: Record<string, string | undefined>): TaskConfigError {
  try {
    parseTaskConfig(args, env);
  } catch (error) {
    if (error instanceof TaskConfigError) return error;
    throw error;
  }
  throw new Error('expected a TaskConfigError');
}

describe('parseTaskConfig', () => {
  it('reads a complete environment, with defaults and the region taken from the secret ARN', () => {
    const config = parseTaskConfig(['subscribe'], {
      ...base,
      PLAN: '{"includeTables": ["shop.orders"], "jobs": 3, "cutover": {"readOnlySource": true}}',
      LOG_LEVEL: 'debug',
      TASK_TOKEN: 'tok',
    });
    expect(config).toMatchObject({
      subcommand: 'subscribe',
      jobId: 'job-1',
      database: 'shop',
      targetDatabase: 'shop',
      sourceSecretArn: SOURCE,
      targetSecretArn: TARGET,
      store: { kind: 'local', dir: '/tmp/dbr-state' },
      taskToken: 'tok',
      region: 'eu-west-1',
      logLevel: 'debug',
      jobs: 3,
      filters: { includeTables: ['shop.orders'] },
      plan: { cutover: { readOnlySource: true } },
    });
    expect(config.filters).not.toHaveProperty('jobs');
  });

  it('prefers JOBS over PLAN.jobs, AWS_REGION over the ARN, and reads JOB_TABLE and TARGET_DATABASE', () => {
    const { STATE_DIR: _s, ...env } = base;
    const config = parseTaskConfig(['verify'], {
      ...env,
      JOB_TABLE: 'replicator-jobs',
      JOBS: '7',
      PLAN: '{"jobs": 3}',
      AWS_REGION: 'us-east-2',
      TARGET_DATABASE: 'shop_copy',
      SOURCE_ENDPOINT: 'db.example.com:6543',
    });
    expect(config).toMatchObject({
      jobs: 7,
      region: 'us-east-2',
      store: { kind: 'dynamodb', tableName: 'replicator-jobs' },
      targetDatabase: 'shop_copy',
      sourceEndpoint: { host: 'db.example.com', port: 6543 },
    });
  });

  it('names a missing JOB_ID, and treats an empty variable as missing', () => {
    const { JOB_ID: _j, ...env } = base;
    expect(configError(['snapshot'], env).message).toMatch(/JOB_ID is missing/);
    expect(configError(['snapshot'], { ...base, JOB_ID: '' }).message).toMatch(/JOB_ID is missing/);
    expect(configError(['snapshot'], { ...base, JOB_ID: 'has space' }).message).toMatch(
      /^Bad environment: JOB_ID is not valid: use 1 to 128 letters/,
    );
  });

  it('refuses a URL in place of a secret ARN without echoing it', () => {
    const error = configError(['snapshot'], { ...base, SOURCE_SECRET_ARN: 'postgres://admin:Leaky-Pa55@db/shop' });
    expect(error.message).toMatch(/SOURCE_SECRET_ARN is not valid: must be a Secrets Manager secret ARN/);
    expect(error.message).not.toContain('Leaky-Pa55');
  });

  it('carries plan.trackDdl and plan.applyDdl to the snapshot and subscribe steps', () => {
    expect(parseTaskConfig(['snapshot'], { ...base, PLAN: '{"trackDdl": true}' }).plan).toMatchObject({
      trackDdl: true,
    });
    expect(parseTaskConfig(['subscribe'], { ...base, PLAN: '{"applyDdl": true}' }).plan).toMatchObject({
      applyDdl: true,
    });
    expect(configError(['snapshot'], { ...base, PLAN: '{"trackDdl": "yes"}' }).message).toMatch(/trackDdl/);
  });

  it('says PLAN is not JSON without quoting it', () => {
    const error = configError(['snapshot'], { ...base, PLAN: '{"includeTables": [Quoted-Secret-Text' });
    expect(error.message).toMatch(/PLAN is not valid JSON/);
    expect(error.message).not.toContain('Quoted-Secret-Text');
  });

  it('takes the filters from PLAN.filters (the shape of the workflow input) or the top level, not both', () => {
    const nested = parseTaskConfig(['snapshot'], {
      ...base,
      PLAN: '{"filters": {"excludeTables": ["shop.audit"]}, "jobs": 2, "calibrate": true, "allowSelfSignedCerts": true}',
    });
    expect(nested.filters).toEqual({ excludeTables: ['shop.audit'] });
    expect(nested.plan).toMatchObject({ jobs: 2, allowSelfSignedCerts: true });
    expect(parseTaskConfig(['snapshot'], { ...base, PLAN: '{"excludeTables": ["shop.audit"]}' }).filters).toEqual({
      excludeTables: ['shop.audit'],
    });
    expect(
      configError(['snapshot'], { ...base, PLAN: '{"filters": {"includeTables": ["a"]}, "excludeTables": ["b"]}' })
        .message,
    ).toMatch(/both under "filters" and at the top level \(excludeTables\)/);
    expect(configError(['snapshot'], { ...base, PLAN: '{"filters": {"includeTable": ["a"]}}' }).message).toMatch(
      /unknown key\(s\) includeTable at filters/,
    );
    expect(configError(['snapshot'], { ...base, PLAN: '{"filters": {"excludeDatabases": ["shop"]}}' }).message).toMatch(
      /DATABASE names a database that the PLAN's excludeDatabases excludes/,
    );
  });

  it('names unknown and badly typed PLAN keys, bad filters, and passwords in PLAN', () => {
    expect(configError(['snapshot'], { ...base, PLAN: '{"includeTable": ["a"]}' }).message).toMatch(
      /unknown key\(s\) includeTable/,
    );
    expect(configError(['snapshot'], { ...base, PLAN: '{"jobs": "four"}' }).message).toMatch(
      /PLAN is not valid .* at jobs/,
    );
    expect(
      configError(['snapshot'], { ...base, PLAN: '{"timeFilters": ["shop.events:at:6 fortnights"]}' }).message,
    ).toMatch(/PLAN has a bad filter: .*not a time window/);
    const secret = configError(['snapshot'], {
      ...base,
      PLAN: `{"tableFilters": ["shop.t:url = 'postgres://u:Plan-Pa55@h/db'"]}`,
    });
    expect(secret.message).toMatch(/PLAN holds a URL with a password at tableFilters\[0\]/);
    expect(secret.message).not.toContain('Plan-Pa55');
  });

  it('wants exactly one of JOB_TABLE and STATE_DIR', () => {
    expect(configError(['snapshot'], { ...base, JOB_TABLE: 'jobs-table' }).message).toMatch(
      /only one of JOB_TABLE .* and STATE_DIR/,
    );
    const { STATE_DIR: _s, ...neither } = base;
    expect(configError(['snapshot'], neither).message).toMatch(/Set JOB_TABLE .* or STATE_DIR/);
  });

  it('wants one known subcommand, and DATABASE not excluded by PLAN', () => {
    expect(configError([], base).message).toMatch(
      /exactly one subcommand, one of snapshot, subscribe, verify, cutover, cleanup \(got none\)/,
    );
    expect(configError(['sync'], base).message).toMatch(/\(got "sync"\)/);
    expect(configError(['snapshot', 'extra'], base).message).toMatch(/exactly one subcommand/);
    expect(configError(['snapshot'], { ...base, PLAN: '{"excludeDatabases": ["shop"]}' }).message).toMatch(
      /DATABASE names a database that the PLAN's excludeDatabases excludes/,
    );
    expect(configError(['snapshot'], { ...base, JOBS: '0' }).message).toMatch(
      /JOBS is not valid: must be a whole number from 1 to 64/,
    );
    expect(configError(['snapshot'], { ...base, LOG_LEVEL: 'loud' }).message).toMatch(
      /LOG_LEVEL is not valid: must be one of error, warn, info, debug/,
    );
  });
});

describe('the entry point', () => {
  const entry = fileURLToPath(new URL('../../../containers/replicator/entrypoint.ts', import.meta.url));
  it('exits 2 with one line naming the bad variable', async () => {
    const { JOB_ID: _j, ...env } = base;
    const result = await promisify(execFile)(process.execPath, [entry, 'snapshot'], {
      env: { PATH: process.env.PATH, ...env },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: Bad environment: JOB_ID is missing/);
  });
});
