import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { handler as checkGrants, type CheckGrantsResult } from '../../lambdas/check-grants.ts';
import { handler as checkReplication, type CheckReplicationResult } from '../../lambdas/check-replication.ts';
import { handler as estimateSize, type EstimateSizeResult } from '../../lambdas/estimate-size.ts';
import { assertNoSecrets } from '../support/no-secrets.ts';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { createTestDatabase, createTestRole, dropTestDatabase, uniqueName, withClient } from '../support/db.ts';
import { lambdaContext, SOURCE_ARN, TARGET_ARN, withLogs } from '../support/lambda.ts';

// The Lambda handlers as deployed (middy, Powertools logger, module-scope clients) against the
// harness clusters; only Secrets Manager is mocked, holding the harness credentials.

const smMock = mockClient(SecretsManagerClient);

describe('Lambda handlers against the harness clusters', () => {
  const { source, target } = inject('clusters');
  const created: { cluster: typeof source; name: string }[] = [];
  const passwords = [source.password, target.password];
  let database: string;
  /** A target database for check-replication (which reads the subscription from inside it). */
  let targetDatabase: string;

  /** The source secret in the {url} shape, the target secret in the RDS-managed shape (no dbname). */
  function storeSecrets(sourceUrl = clusterUrl(source, database)) {
    smMock
      .on(GetSecretValueCommand, { SecretId: SOURCE_ARN })
      .resolves({ ARN: SOURCE_ARN, SecretString: JSON.stringify({ url: sourceUrl }) });
    smMock.on(GetSecretValueCommand, { SecretId: TARGET_ARN }).resolves({
      ARN: TARGET_ARN,
      SecretString: JSON.stringify({
        username: target.user,
        password: target.password,
        engine: 'postgres',
        host: target.host,
        port: target.port,
        dbInstanceIdentifier: 'target',
      }),
    });
  }

  beforeAll(async () => {
    const db = await createTestDatabase(source, 'lambdas');
    database = db.name;
    created.push({ cluster: source, name: database });
    await withClient(source, database, (c) =>
      c.query(`CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL);
               INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 5000) i;
               CREATE TABLE orders (id bigint PRIMARY KEY, item int NOT NULL, note text);
               INSERT INTO orders SELECT i, i % 5000 + 1, repeat('x', 200) FROM generate_series(1, 20000) i;
               ANALYZE;`),
    );
    targetDatabase = (await createTestDatabase(target, 'lambdas_t')).name;
    created.push({ cluster: target, name: targetDatabase });
  });
  afterAll(async () => {
    for (const { cluster, name } of created) await dropTestDatabase(cluster, name);
  });
  beforeEach(() => {
    smMock.reset();
    storeSecrets();
  });

  it('check-grants passes for a logical source and a target read from both secret shapes', async () => {
    const { result, error, logs, lines } = await withLogs(
      () =>
        checkGrants(
          { jobId: 'it-1', sourceSecretArn: SOURCE_ARN, targetSecretArn: TARGET_ARN, databases: [database] },
          lambdaContext('check-grants'),
        ) as Promise<CheckGrantsResult>,
    );
    expect(error).toBeUndefined();
    expect(result!.ok).toBe(true);
    expect(result!.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(result!.checks.map((c) => c.id)).toEqual(
      expect.arrayContaining([
        'source-reachable',
        'target-reachable',
        'source-wal-level',
        'source-replication-privilege',
        'source-select-privileges',
        'replica-identity',
      ]),
    );
    expect(result!.checks.map((c) => c.id)).not.toContain('local-pg-dump');
    // The target secret names no database; with one database planned, the target is that database (which init creates).
    expect(result!.checks.find((c) => c.id === 'target-reachable')!.message).toContain('init will create it');
    expect(result!.checks.find((c) => c.id === 'source-databases')!.message).toBe(database);
    expect(lines.some((l) => l.message === 'validation passed' && l.jobId === 'it-1')).toBe(true);
    assertNoSecrets(result, passwords);
    assertNoSecrets(logs, passwords);
    expect(
      smMock
        .commandCalls(GetSecretValueCommand)
        .map((c) => c.args[0].input.SecretId)
        .sort(),
    ).toEqual([SOURCE_ARN, TARGET_ARN].sort());
  });

  it('check-grants fails with ValidationFailed naming the replication privilege and the table ownership for a role without them', async () => {
    const rolePassword = `Role-${uniqueName('pw')}`;
    const role = await createTestRole(source, rolePassword);
    await withClient(source, database, (c) => c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO "${role}"`));
    storeSecrets(clusterUrl(source, database, role, rolePassword));
    const { error, logs } = await withLogs(() =>
      checkGrants(
        { jobId: 'it-2', sourceSecretArn: SOURCE_ARN, targetSecretArn: TARGET_ARN, databases: [database] },
        lambdaContext('check-grants'),
      ),
    );
    expect(error).toBeDefined();
    expect(error!.name).toBe('ValidationFailed');
    // It owns none of the tables either, so it could not publish them: both are named, each with its fix.
    expect(error!.message).toMatch(
      /^2 check\(s\) failed: source-replication-privilege: .* Fix: Run ALTER ROLE "role_[0-9a-f]+" REPLICATION; as a superuser\. \| source-table-ownership: role_[0-9a-f]+ does not own .* Fix: Run GRANT "postgres" TO "role_[0-9a-f]+";/,
    );
    assertNoSecrets(`${error!.message}\n${error!.stack}\n${logs}`, [...passwords, rolePassword]);
  });

  it('estimate-size plans the database and returns its size and estimated time', async () => {
    const { result, error, logs } = await withLogs(
      () =>
        estimateSize(
          {
            jobId: 'it-3',
            sourceSecretArn: SOURCE_ARN,
            targetSecretArn: TARGET_ARN,
            databases: [database],
            jobs: 2,
            calibrate: true,
          },
          lambdaContext('estimate-size'),
        ) as Promise<EstimateSizeResult>,
    );
    expect(error).toBeUndefined();
    const sizes = await withClient(
      source,
      database,
      async (c) =>
        (
          await c.query<{ items: string; orders: string }>(
            `SELECT pg_relation_size('items')::text AS items, pg_relation_size('orders')::text AS orders`,
          )
        ).rows[0]!,
    );
    const expectedBytes = Number(sizes.items) + Number(sizes.orders);
    expect(expectedBytes).toBeGreaterThan(1_000_000);
    expect(result).toMatchObject({ jobId: 'it-3', jobs: 2, totalBytes: expectedBytes });
    expect(result!.databases).toHaveLength(1);
    const db = result!.databases[0]!;
    expect(db).toMatchObject({
      source: database,
      target: database,
      bytes: expectedBytes,
      tables: { data: 2, schemaOnly: 0, excluded: 0 },
    });
    expect(db.largestTables.map((t) => t.table)).toEqual(['public.orders', 'public.items']);
    expect(db.largestTables[0]).toMatchObject({ bytes: Number(sizes.orders), estimatedRows: 20000 });
    expect(db.bytesPerSecondPerWorker).toBeGreaterThan(0);
    expect(db.estimatedSeconds).toBeCloseTo(expectedBytes / (db.bytesPerSecondPerWorker * 2), 0);
    assertNoSecrets(result, passwords);
    assertNoSecrets(logs, passwords);
  });

  it('estimate-size reports a filter naming a missing table as FilterError', async () => {
    const { error } = await withLogs(() =>
      estimateSize(
        {
          jobId: 'it-3',
          sourceSecretArn: SOURCE_ARN,
          targetSecretArn: TARGET_ARN,
          databases: [database],
          filters: { excludeTables: ['nope'] },
        },
        lambdaContext(),
      ),
    );
    expect(error).toMatchObject({
      name: 'FilterError',
      message: expect.stringContaining('names a table that does not exist'),
    });
  });

  it('check-replication fails with ConnectionFailed when the target database does not exist yet', async () => {
    const { error, logs } = await withLogs(() =>
      checkReplication(
        {
          jobId: 'it-4',
          database,
          sourceSecretArn: SOURCE_ARN,
          targetSecretArn: TARGET_ARN,
          subscription: 'dbr_none',
          slot: 'dbr_none',
        },
        lambdaContext(),
      ),
    );
    expect(error).toMatchObject({
      name: 'ConnectionFailed',
      message: expect.stringContaining(`database "${database}" does not exist`),
    });
    assertNoSecrets(`${error!.message}\n${error!.stack}\n${logs}`, passwords);
  });

  it('check-replication reports a database without slot or subscription as broken, not in sync', async () => {
    const { result, error, logs } = await withLogs(
      () =>
        checkReplication(
          {
            jobId: 'it-4',
            database,
            targetDatabase,
            sourceSecretArn: SOURCE_ARN,
            targetSecretArn: TARGET_ARN,
            subscription: 'dbr_none',
            slot: 'dbr_none',
          },
          lambdaContext('check-replication'),
        ) as Promise<CheckReplicationResult>,
    );
    expect(error).toBeUndefined();
    expect(result).toMatchObject({
      inSync: false,
      verdict: 'broken',
      slotExists: false,
      subscriptionExists: false,
      targetDatabase,
    });
    expect(result!.reason).toContain('replication slot is missing');
    assertNoSecrets(result, passwords);
    assertNoSecrets(logs, passwords);
  });

  it('check-replication with a slot but no subscription: initializing before sync, broken after', async () => {
    const slot = uniqueName('dbr_it').toLowerCase();
    await withClient(source, database, (c) =>
      c.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]),
    );
    try {
      const event = {
        jobId: 'it-5',
        database,
        targetDatabase,
        sourceSecretArn: SOURCE_ARN,
        targetSecretArn: TARGET_ARN,
        subscription: slot,
        slot,
      };
      const before = await withLogs(
        () => checkReplication({ ...event, subscribed: false }, lambdaContext()) as Promise<CheckReplicationResult>,
      );
      expect(before.result).toMatchObject({
        inSync: false,
        verdict: 'initializing',
        slotExists: true,
        slotActive: false,
        subscriptionExists: false,
        diskRisk: true,
      });
      const after = await withLogs(() => checkReplication(event, lambdaContext()) as Promise<CheckReplicationResult>);
      expect(after.result).toMatchObject({
        inSync: false,
        verdict: 'broken',
        reason: expect.stringContaining('subscription is missing'),
      });
      expect(after.lines.at(-1)).toMatchObject({
        level: 'WARN',
        jobId: 'it-5',
        message: expect.stringContaining('is broken'),
      });
      assertNoSecrets([before.result, after.result], passwords);
      assertNoSecrets(before.logs + after.logs, passwords);
    } finally {
      await withClient(source, database, (c) => c.query('SELECT pg_drop_replication_slot($1)', [slot]));
    }
  });
});
