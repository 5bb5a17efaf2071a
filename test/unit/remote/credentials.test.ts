// Credentials in remote mode: URLs become secrets under the deployment's prefix, ARNs pass as they are,
// and a password given in a URL reaches nothing but the secret's value.
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConnectionUrl } from '../../../src/connection/url.ts';
import { deriveJobId } from '../../../src/jobs/naming.ts';
import {
  CLEANUP_ARN,
  cli,
  deploymentEnv,
  executionArn,
  REPLICATE_ARN,
  SOURCE_SECRET,
  TARGET_SECRET,
  testIo,
  useJobTable,
} from '../../support/remote.ts';

const sm = mockClient(SecretsManagerClient);
const sfn = mockClient(SFNClient);
const table = useJobTable();

// Distinctive, with characters that change under percent-encoding and JSON escaping.
const PASSWORD = 'Zq7!unique@Pass"word~91';
const SOURCE_URL = `postgresql://repl:${encodeURIComponent(PASSWORD)}@shop-db.abc123.eu-west-1.rds.amazonaws.com:5432/shop?sslmode=require`;
const TARGET_URL = 'postgresql://admin:Other-Target-Pw-77@10.0.0.12:5432/shop';
const spellings = (p: string) => [
  p,
  encodeURIComponent(p),
  encodeURIComponent(p).toLowerCase(),
  JSON.stringify(p).slice(1, -1),
];
const jobId = deriveJobId(parseConnectionUrl(SOURCE_URL), parseConnectionUrl(TARGET_URL));
const secretArn = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`;

beforeEach(() => {
  sm.reset();
  sfn.reset();
  sm.on(CreateSecretCommand).callsFake((input: { Name: string }) => ({ ARN: secretArn(input.Name), Name: input.Name }));
  sm.on(CreateSecretCommand, { Name: `database-replicator/${jobId}/target` }).rejects(
    new ResourceExistsException({ message: 'the secret already exists', $metadata: {} }),
  );
  sm.on(PutSecretValueCommand).callsFake((input: { SecretId: string }) => ({
    ARN: secretArn(input.SecretId),
    Name: input.SecretId,
  }));
  const arn = executionArn('Replicate', `${jobId}-init-x`);
  sfn.on(StartExecutionCommand).resolves({ executionArn: arn, startDate: new Date() });
  sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
  // The cause echoes the URL, as a driver's message might: it must be masked on the way out.
  sfn.on(DescribeExecutionCommand).resolves({
    executionArn: arn,
    stateMachineArn: REPLICATE_ARN,
    name: `${jobId}-init-x`,
    status: 'FAILED',
    startDate: new Date(),
    stopDate: new Date(),
    error: 'ConnectionFailed',
    cause: `could not connect with ${SOURCE_URL} (password ${PASSWORD})`,
  });
});

describe('credentials in remote mode', () => {
  it('stores URLs as secrets named after the job and passes only ARNs; the password reaches nothing else', async () => {
    const io = testIo(
      deploymentEnv(table.tableName, {
        DATABASE_REPLICATOR_SOURCE_URL: SOURCE_URL,
        DATABASE_REPLICATOR_TARGET_URL: TARGET_URL,
      }),
      { table },
    );
    expect(await cli(['init', '--remote', '--yes'], io)).toBe(1);

    const created = sm.commandCalls(CreateSecretCommand).map((c) => c.args[0].input);
    expect(created.map((c) => c.Name)).toEqual([
      `database-replicator/${jobId}/source`,
      `database-replicator/${jobId}/target`,
    ]);
    expect(JSON.parse(created[0]!.SecretString!)).toEqual({ url: SOURCE_URL });
    expect(created[0]!.Tags).toEqual([
      { Key: 'database-replicator:job', Value: jobId },
      { Key: 'database-replicator:role', Value: 'source' },
    ]);
    // The target's secret existed: its value is replaced.
    const put = sm.commandCalls(PutSecretValueCommand).map((c) => c.args[0].input);
    expect(put).toEqual([
      { SecretId: `database-replicator/${jobId}/target`, SecretString: JSON.stringify({ url: TARGET_URL }) },
    ]);

    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!);
    expect(input).toEqual({
      jobId,
      sourceSecretArn: secretArn(`database-replicator/${jobId}/source`),
      targetSecretArn: secretArn(`database-replicator/${jobId}/target`),
      databases: ['shop'],
      plan: { copyRoles: true },
    });

    const mustNotHold = [
      JSON.stringify(sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input)),
      JSON.stringify(created.map(({ SecretString: _value, ...rest }) => rest)),
      io.out.join(''),
      io.err.join(''),
    ];
    for (const text of mustNotHold) {
      for (const spelling of [...spellings(PASSWORD), ...spellings('Other-Target-Pw-77')])
        expect(text).not.toContain(spelling);
    }
    // The failure was printed, masked.
    expect(io.out.join('')).toContain('ConnectionFailed: could not connect with postgresql://repl:***@shop-db');
  });

  it('passes secret ARNs as they are, without writing any secret', async () => {
    const io = testIo(deploymentEnv(table.tableName, { DATABASE_REPLICATOR_SOURCE_URL: SOURCE_URL }), { table });
    expect(
      await cli(
        [
          'init',
          '--remote',
          '--yes',
          '--source-secret',
          SOURCE_SECRET,
          '--target-secret',
          TARGET_SECRET,
          '--include-databases',
          'a,b',
          '--source-endpoint',
          'db.example.com:5432',
          '--source-instance',
          'shop-db',
        ],
        io,
      ),
    ).toBe(1);
    expect(sm.calls()).toHaveLength(0);
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!);
    // Two databases: roles are left to a local init (parallel tasks would race on them).
    expect(input).toEqual({
      jobId: input.jobId,
      sourceSecretArn: SOURCE_SECRET,
      targetSecretArn: TARGET_SECRET,
      source: { instanceIdentifier: 'shop-db', endpoint: 'db.example.com:5432' },
      databases: ['a', 'b'],
      plan: { filters: { includeDatabases: ['a', 'b'] } },
    });
    expect(io.err.join('')).toContain('Roles are not copied');
  });

  it('refuses what cannot work remotely before anything is stored or started', async () => {
    const env = deploymentEnv(table.tableName, {
      DATABASE_REPLICATOR_SOURCE_URL: SOURCE_URL,
      DATABASE_REPLICATOR_TARGET_URL: TARGET_URL,
    });
    const cases: [string[], RegExp][] = [
      [
        ['init', '--remote', '--yes', '--source-secret', 'my-secret'],
        /--source-secret must be a Secrets Manager secret ARN/,
      ],
      [['init', '--remote', '--yes', '--no-sync'], /--no-sync runs with --local only/],
      [['init', '--remote', '--yes', '--job-id', 'has.dot'], /--job-id "has\.dot" cannot name a workflow job/],
      [['init', '--remote', '--yes', '--source-endpoint', 'http://x'], /--source-endpoint must be host or host:port/],
      [['init', '--remote'], /init asks for confirmation but there is no terminal to ask on; pass --yes/],
      [
        ['init', '--remote', '--yes', '--source', 'mysql://u:p@h/db'],
        /The --source URL is not valid: the URL must start with postgres/,
      ],
    ];
    for (const [args, message] of cases) {
      const io = testIo(env, { table });
      expect(await cli(args, io), args.join(' ')).toBe(2);
      expect(io.err.join('')).toMatch(message);
    }
    const noDatabase = testIo(deploymentEnv(table.tableName), { table });
    expect(
      await cli(
        ['init', '--remote', '--yes', '--source-secret', SOURCE_SECRET, '--target-secret', TARGET_SECRET],
        noDatabase,
      ),
    ).toBe(2);
    expect(noDatabase.err.join('')).toMatch(/Name the databases to replicate with --include-databases/);
    expect(sm.calls()).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('refuses a URL naming a file on this machine before storing anything, and takes the bundle the workflow carries', async () => {
    const local = `${SOURCE_URL.replace('sslmode=require', 'sslmode=verify-full')}&sslrootcert=%2Fhome%2Fme%2Fglobal-bundle.pem`;
    const io = testIo(
      deploymentEnv(table.tableName, {
        DATABASE_REPLICATOR_SOURCE_URL: TARGET_URL,
        DATABASE_REPLICATOR_TARGET_URL: `${TARGET_URL}?sslmode=require&sslcert=%2Fhome%2Fme%2Fclient.crt`,
      }),
      { table },
    );
    expect(await cli(['init', '--remote', '--yes'], io)).toBe(2);
    expect(io.err.join('')).toContain(
      'The target URL names sslcert=/home/me/client.crt, a file on this machine that the workflow cannot read',
    );
    const refused = testIo(
      deploymentEnv(table.tableName, {
        DATABASE_REPLICATOR_SOURCE_URL: local,
        DATABASE_REPLICATOR_TARGET_URL: TARGET_URL,
      }),
      { table },
    );
    expect(await cli(['init', '--remote', '--yes'], refused)).toBe(2);
    expect(refused.err.join('')).toContain(
      'The source URL names sslrootcert=/home/me/global-bundle.pem, a file on this machine that the workflow cannot read; for an RDS server use sslrootcert=/opt/rds-ca/global-bundle.pem',
    );
    for (const spelling of spellings(PASSWORD)) expect(refused.err.join('')).not.toContain(spelling);
    expect(sm.calls()).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);

    const bundled = `${SOURCE_URL.replace('sslmode=require', 'sslmode=verify-full')}&sslrootcert=%2Fopt%2Frds-ca%2Fglobal-bundle.pem`;
    const ok = testIo(
      deploymentEnv(table.tableName, {
        DATABASE_REPLICATOR_SOURCE_URL: bundled,
        DATABASE_REPLICATOR_TARGET_URL: TARGET_URL,
      }),
      { table },
    );
    await cli(['init', '--remote', '--yes'], ok);
    expect(JSON.parse(sm.commandCalls(CreateSecretCommand)[0]!.args[0].input.SecretString!)).toEqual({ url: bundled });
  });

  it('deletes the secrets it stored for a job once the clean-up is done, and leaves secrets given by ARN alone', async () => {
    const cleanupJob = 'cleanme';
    const stored = secretArn(`database-replicator/${cleanupJob}/source`);
    await table.store.createJob({
      jobId: cleanupJob,
      state: 'RUNNING',
      source: { description: 'secret s', secretArn: stored },
      target: { description: 'secret t', secretArn: TARGET_SECRET },
    });
    await table.store.updateDatabaseProgress(cleanupJob, 'shop', {
      state: 'RUNNING',
      phase: 'Replicating',
      tablesDone: 1,
      tablesTotal: 1,
      rowsCopied: 1,
      bytesCopied: 1,
    });
    const arn = executionArn('Cleanup', `${cleanupJob}-cleanup-x`);
    const outcome = (status: 'SUCCEEDED' | 'FAILED') =>
      sfn.on(DescribeExecutionCommand).resolves({
        executionArn: arn,
        stateMachineArn: CLEANUP_ARN,
        name: `${cleanupJob}-cleanup-x`,
        status,
        startDate: new Date(),
        stopDate: new Date(),
        ...(status === 'FAILED' ? { error: 'States.TaskFailed', cause: 'stopped' } : {}),
      });
    sfn.on(StartExecutionCommand).resolves({ executionArn: arn, startDate: new Date() });
    sm.on(DeleteSecretCommand).resolves({});

    outcome('FAILED');
    expect(
      await cli(
        ['cleanup', '--remote', '--yes', '--job-id', cleanupJob],
        testIo(deploymentEnv(table.tableName), { table }),
      ),
    ).toBe(1);
    expect(sm.commandCalls(DeleteSecretCommand)).toHaveLength(0);

    outcome('SUCCEEDED');
    const io = testIo(deploymentEnv(table.tableName), { table });
    expect(await cli(['cleanup', '--remote', '--yes', '--job-id', cleanupJob], io)).toBe(0);
    expect(sm.commandCalls(DeleteSecretCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: stored, RecoveryWindowInDays: 7 },
    ]);
    expect(io.err.join('')).toContain(
      `Deleted the secret(s) the CLI stored for job ${cleanupJob} (database-replicator/${cleanupJob}/source-AbCdEf); they can be restored for 7 days.`,
    );
  });

  it('warns when a URL holds no password, since the workflow has no ~/.pgpass', async () => {
    const io = testIo(
      deploymentEnv(table.tableName, {
        DATABASE_REPLICATOR_SOURCE_URL: 'postgresql://repl@db.example.com/shop',
        DATABASE_REPLICATOR_TARGET_URL: TARGET_URL,
      }),
      { table },
    );
    await cli(['init', '--remote', '--yes'], io);
    expect(io.err.join('')).toContain(
      'warn: the source URL has no password, and the workflow has no ~/.pgpass or PGPASSWORD to fall back on',
    );
  });
});
