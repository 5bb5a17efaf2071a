// The replicate workflow when something is wrong, executed locally with every Task bound to the real
// handler logic or task subcommand (test/support/workflow-runner.ts): a configuration error stops it
// before anything is created, a transient error is retried, a replication that never comes up fails.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { clusterUrl, startCluster } from '../../scripts/support/cluster.ts';
import { dropReplicationObjects, fingerprintTables, replicationObjectsOnSource } from '../support/compare.ts';
import { createTestDatabase, withClient } from '../support/db.ts';
import { NamedError } from '../../src/errors/safe-error.ts';
import { failOnce, WorkflowHarness, type TaskHandler } from '../support/workflow-runner.ts';

const { source, target } = inject('clusters');
let harness: WorkflowHarness;
let sourceSecretArn: string;
let targetSecretArn: string;
const created: string[] = [];

beforeAll(async () => {
  harness = await WorkflowHarness.start();
  sourceSecretArn = harness.holdSecret('wf/source', clusterUrl(source, 'postgres'));
  targetSecretArn = harness.holdSecret('wf/target', clusterUrl(target, 'postgres'));
});

afterAll(async () => {
  for (const db of created) await dropReplicationObjects(source, target, db).catch(() => undefined);
  await harness?.close();
});

/** A source database with two small tables. */
async function smallDatabase(prefix: string): Promise<string> {
  const { name } = await createTestDatabase(source, prefix);
  created.push(name);
  await withClient(source, name, (c) =>
    c.query(`
    CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL);
    CREATE TABLE events (id bigserial PRIMARY KEY, item int NOT NULL, at timestamptz NOT NULL DEFAULT now());
    INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 500) i;
    INSERT INTO events (item) SELECT i % 500 + 1 FROM generate_series(1, 1500) i;`),
  );
  return name;
}

const targetHas = async (db: string) =>
  withClient(
    target,
    'postgres',
    async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).rowCount === 1,
  );

describe('the replicate workflow, when things go wrong', () => {
  it('stops at the RDS check when rds.logical_replication is off: a readable cause, the job FAILED, nothing created', async () => {
    const db = await smallDatabase('wf_nolr');
    const jobId = `nolr-${db.slice(-8)}`;
    harness.rdsInstance('legacy-db', 'legacy-pg15', '0');
    // Through the deployed handlers: the error leaves check-rds-parameter-group's middleware named and safe.
    const execution = await harness.run(
      'replicate',
      { jobId, sourceSecretArn, targetSecretArn, source: { instanceIdentifier: 'legacy-db' }, databases: [db] },
      { viaHandlers: true },
    );

    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('LogicalReplicationOff');
    // The function's error reached the Fail state as one sentence (record-job unwrapped the Lambda error JSON).
    expect(execution.cause).toMatch(
      /^rds\.logical_replication is 0 in the DB parameter group legacy-pg15 of instance legacy-db; .*reboot legacy-db/,
    );
    expect(execution.cause).not.toContain('errorType');
    expect(execution.entered).toEqual(
      expect.arrayContaining([
        'Check RDS parameter group',
        'Note RDS check failure',
        'Checks passed?',
        'RDS source not ready',
        'Record job failed',
        'Job failed',
      ]),
    );
    for (const never of ['Estimate size', 'Replicate each database', 'Copy snapshot'])
      expect(execution.entered).not.toContain(never);
    // A configuration error is not retried.
    expect(execution.calls['Check RDS parameter group']).toBe(1);
    expect(
      harness.handlerLogs.find(
        (l) => l.service === 'database-replicator-check-rds-parameter-group' && l.level === 'ERROR',
      ),
    ).toMatchObject({ errorName: 'LogicalReplicationOff', function_request_id: expect.any(String) });

    const job = await harness.store.getJob(jobId);
    expect(job).toMatchObject({
      state: 'FAILED',
      phase: 'Failed',
      cause: 'LogicalReplicationOff',
      error: execution.cause,
    });
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
    expect(await targetHas(db)).toBe(false);
  });

  it('stops before the copy when the target server cannot reach the source as its subscription would, creating nothing', async () => {
    // A TLS source our side checks with its CA file; the plan names a CA path the target server does not have.
    const tls = await startCluster({ name: 'wf-tls', tls: { hostName: 'db.internal.example' } });
    try {
      const { name: db } = await createTestDatabase(tls, 'wf_reach');
      await withClient(tls, db, (c) =>
        c.query('CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 10)'),
      );
      const tlsSecret = harness.holdSecret(
        'wf/tls-source',
        `${clusterUrl(tls, 'postgres')}?sslmode=verify-ca&sslrootcert=${encodeURIComponent(tls.serverCertFile!)}`,
      );
      const jobId = `reach-${db.slice(-8)}`;
      const execution = await harness.run('replicate', {
        jobId,
        sourceSecretArn: tlsSecret,
        targetSecretArn,
        databases: [db],
        plan: { subscriptionSslRootCert: '/nonexistent/rds-ca.pem' },
      });
      expect(execution.status).toBe('FAILED');
      expect(execution.error).toBe('SourceUnreachableFromTarget');
      expect(execution.cause).toMatch(
        new RegExp(
          `^The target could not connect to the source for database ${db} \\(.*/nonexistent/rds-ca\\.pem.*\\); the target server itself must reach the source`,
        ),
      );
      expect(execution.entered).toEqual(
        expect.arrayContaining([
          'Check grants',
          'Check target reaches source',
          'Note reach check failure',
          'Target cannot reach source',
          'Record job failed',
          'Job failed',
        ]),
      );
      for (const never of ['Estimate size', 'Copy snapshot']) expect(execution.entered).not.toContain(never);
      expect(execution.calls['Check target reaches source']).toBe(1);
      expect(await harness.store.getJob(jobId)).toMatchObject({
        state: 'FAILED',
        cause: 'SourceUnreachableFromTarget',
      });
      expect(await replicationObjectsOnSource(tls, db)).toEqual({ slots: [], publications: [] });
      expect(await targetHas(db)).toBe(false);
      expect(
        await withClient(
          target,
          'postgres',
          async (c) => (await c.query("SELECT subname FROM pg_subscription WHERE subname LIKE 'dbr\\_probe\\_%'")).rows,
        ),
      ).toEqual([]);
    } finally {
      await tls.stop();
    }
  });

  it('retries a transient Lambda error and a transient ECS error, and still succeeds', async () => {
    const db = await smallDatabase('wf_retry');
    const jobId = `retry-${db.slice(-8)}`;
    const execution = await harness.run(
      'replicate',
      { jobId, sourceSecretArn, targetSecretArn, databases: [db] },
      {
        wrap: {
          'Estimate size': failOnce(
            'Lambda.TooManyRequestsException',
            'Rate Exceeded. (Service: Lambda, Status Code: 429)',
          ),
          'Create subscription': failOnce(
            'ECS.AmazonECSException',
            'Service Unavailable. (Service: AmazonECS, Status Code: 503)',
          ),
        },
      },
    );
    expect(execution.cause).toBeUndefined();
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.calls).toMatchObject({ 'Estimate size': 2, 'Create subscription': 2, 'Copy snapshot': 1 });
    const retried = execution.events.filter((e) => e.type === 'StateRetried').map((e) => e.state!.name);
    expect(retried.sort()).toEqual(['Create subscription', 'Estimate size']);
    // No source in the input: the RDS check is skipped.
    expect(execution.entered).toContain('Not an RDS source');
    expect(execution.calls['Check RDS parameter group']).toBeUndefined();

    expect(await harness.store.getJob(jobId)).toMatchObject({
      state: 'SUCCEEDED',
      databases: { [db]: { phase: 'Replicating', tablesDone: 2, tablesTotal: 2, rowsCopied: 2000 } },
    });
    expect(await fingerprintTables(target, db)).toEqual(await fingerprintTables(source, db));
  });

  it('runs Copy snapshot once more after its task stopped (States.TaskFailed), and the second run resumes what the first copied', async () => {
    const db = await smallDatabase('wf_stopped');
    const jobId = `stopped-${db.slice(-8)}`;
    // The first task copies everything, then is stopped before it exits cleanly (Fargate retirement, out of memory).
    let stopped = false;
    const stopAfterWork =
      (next: TaskHandler): TaskHandler =>
      async (input) => {
        const result = await next(input);
        if (stopped) return result;
        stopped = true;
        throw new NamedError(
          'States.TaskFailed',
          JSON.stringify({
            StopCode: 'SpotInterruption',
            StoppedReason: 'Your Spot Task was interrupted.',
            Containers: [{ Name: 'replicator', ExitCode: 137 }],
          }),
        );
      };
    const execution = await harness.run(
      'replicate',
      { jobId, sourceSecretArn, targetSecretArn, databases: [db] },
      { wrap: { 'Copy snapshot': stopAfterWork } },
    );
    expect(execution.cause).toBeUndefined();
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.calls).toMatchObject({ 'Copy snapshot': 2, 'Create subscription': 1 });
    expect(execution.events.filter((e) => e.type === 'StateRetried').map((e) => e.state!.name)).toEqual([
      'Copy snapshot',
    ]);
    const snapshots = (await harness.store.listSteps(jobId)).filter((st) => st.step === 'snapshot');
    expect(snapshots.map((st) => st.state)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(await fingerprintTables(target, db)).toEqual(await fingerprintTables(source, db));
  });

  it('refuses a second execution of a job while the first still runs, leaving the job to the first', async () => {
    const db = await smallDatabase('wf_twice');
    const jobId = `twice-${db.slice(-8)}`;
    const input = { jobId, sourceSecretArn, targetSecretArn, databases: [db] };
    let copying!: () => void;
    const copyStarted = new Promise<void>((resolve) => (copying = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const holdCopy =
      (next: TaskHandler): TaskHandler =>
      async (i) => {
        copying();
        await gate;
        return next(i);
      };
    const first = harness.run('replicate', input, { wrap: { 'Copy snapshot': holdCopy } });
    await copyStarted;
    const second = await harness.run('replicate', input);
    expect(second.status).toBe('FAILED');
    expect(second.error).toBe('JobAlreadyRunning');
    expect(second.cause).toMatch(
      new RegExp(
        `^Job ${jobId} is being replicated by the execution arn:aws:states:.*:execution:replicator-replicate:.*, which is still running; follow that one`,
      ),
    );
    expect(second.entered).toEqual(['Record job started', 'Describe job already running', 'Job already running']);
    expect(await harness.store.getJob(jobId)).toMatchObject({ state: 'RUNNING' });
    release();
    const done = await first;
    expect(done.cause).toBeUndefined();
    expect(done.status).toBe('SUCCEEDED');
    expect(await harness.store.getJob(jobId)).toMatchObject({ state: 'SUCCEEDED' });
  });

  it('fails after three broken replication checks in a row, naming the database, when the subscription never comes up', async () => {
    const db = await smallDatabase('wf_broken');
    const jobId = `broken-${db.slice(-8)}`;
    // The tasks "succeed" without doing anything: the target database exists, but no slot or subscription does.
    await withClient(target, 'postgres', (c) => c.query(`CREATE DATABASE "${db}"`));
    const noop = () => async () => ({ LastStatus: 'STOPPED' });
    const execution = await harness.run(
      'replicate',
      { jobId, sourceSecretArn, targetSecretArn, databases: [db] },
      { wrap: { 'Copy snapshot': noop, 'Create subscription': noop }, catchUpWaitMs: 0 },
    );
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('ReplicationBroken');
    expect(execution.cause).toMatch(
      new RegExp(`^Database ${db}: the replication is broken \\(3 checks in a row\\): .+`),
    );
    expect(execution.calls['Check replication']).toBe(3);
    expect(execution.entered.filter((s) => s === 'Wait for catch-up')).toHaveLength(2);
    expect(await harness.store.getJob(jobId)).toMatchObject({
      state: 'FAILED',
      cause: 'ReplicationBroken',
      error: execution.cause,
    });
  });
});
