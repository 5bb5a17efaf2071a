// The serverless workflow, executed locally: statemachines/replicate.asl.json, then verify.asl.json
// (started with the input the replicate run put into its verify schedule), cutover.asl.json and
// cleanup.asl.json, every Task bound to the real handler logic or task subcommand
// (test/support/workflow-runner.ts), against the harness clusters. The tests run in order and share the
// replicated database.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { clusterUrl, type ClusterInfo } from '../../scripts/support/cluster.ts';
import { dropReplicationObjects, fingerprintTables, replicationObjectsOnSource } from '../support/compare.ts';
import { createTestDatabase, edgeCasesSql, runPsqlFile, withClient } from '../support/db.ts';
import { NamedError } from '../../src/errors/safe-error.ts';
import { SUBSTITUTIONS, WorkflowHarness, type Execution } from '../support/workflow-runner.ts';

const { source, target } = inject('clusters');
const passwords = [source.password, target.password];
let harness: WorkflowHarness;
let db: string;
let jobId: string;
let sourceSecretArn: string;
let targetSecretArn: string;

beforeAll(async () => {
  harness = await WorkflowHarness.start();
  sourceSecretArn = harness.holdSecret('wf/source', clusterUrl(source, 'postgres'));
  targetSecretArn = harness.holdSecret('wf/target', clusterUrl(target, 'postgres'));
  harness.rdsInstance('shop-db', 'shop-pg16', '1');
  db = (await createTestDatabase(source, 'wf_happy')).name;
  jobId = `happy-${db.slice(-8)}`;
  await runPsqlFile(source, db, edgeCasesSql());
  await withClient(source, db, (c) =>
    c.query(`
    CREATE TABLE public.wf_orders (id bigserial PRIMARY KEY, customer int NOT NULL, total numeric(10,2));
    CREATE TABLE public.wf_notes (id int PRIMARY KEY, body text NOT NULL);
    INSERT INTO public.wf_orders (customer, total) SELECT i % 50, i * 1.5 FROM generate_series(1, 3000) i;
    INSERT INTO public.wf_notes SELECT i, 'note ' || i FROM generate_series(1, 40) i;`),
  );
});

afterAll(async () => {
  if (db) await dropReplicationObjects(source, target, db).catch(() => undefined);
  await harness?.close();
});

async function rowCount(cluster: ClusterInfo, table: string): Promise<number> {
  return withClient(cluster, db, async (c) =>
    Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n),
  );
}

/** last_value of every sequence (null before its first nextval), by schema-qualified name. */
async function sequences(cluster: ClusterInfo): Promise<Record<string, number | null>> {
  return withClient(cluster, db, async (c) => {
    const { rows } = await c.query<{ name: string; value: string | null }>(
      `SELECT schemaname || '.' || sequencename AS name, last_value::text AS value FROM pg_sequences ORDER BY 1`,
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.value === null ? null : Number(r.value)]));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, seconds = 20): Promise<void> {
  for (const end = Date.now() + seconds * 1000; Date.now() < end; await new Promise((r) => setTimeout(r, 200)))
    if (await check()) return;
  throw new Error(`${what} did not happen within ${seconds} s`);
}

/** Nothing the execution, its tasks or the job store showed holds a password. */
async function expectNoPasswords(execution: Execution): Promise<void> {
  const stored = JSON.stringify([
    await harness.store.getJob(jobId),
    await harness.store.listSteps(jobId),
    await harness.store.listVerifyRuns(jobId),
  ]);
  const shown =
    JSON.stringify(execution.events) + harness.taskOutput.join('\n') + JSON.stringify(harness.handlerLogs) + stored;
  for (const password of passwords) expect(shown).not.toContain(password);
}

describe('the replicate workflow', () => {
  it('checks, copies and subscribes: the target equals the source, replication streams, the job is SUCCEEDED with progress', async () => {
    // What the snapshot copies: every table but the materialized view (refreshed on the target, not copied).
    const tables = [...(await fingerprintTables(source, db))].filter(
      ([name]) => name !== 'sales.customer_order_counts',
    );
    // Through the handlers as deployed: middy, Powertools with the Lambda context, the invoke response envelope.
    const execution = await harness.run(
      'replicate',
      {
        jobId,
        sourceSecretArn,
        targetSecretArn,
        source: { instanceIdentifier: 'shop-db' },
        databases: [db],
        verifySchedule: 'rate(6 hours)',
      },
      { viaHandlers: true },
    );
    expect(execution.cause).toBeUndefined();
    expect(execution.status).toBe('SUCCEEDED');
    const services = new Set(harness.handlerLogs.map((l) => l.service));
    for (const name of [
      'record-job',
      'check-rds-parameter-group',
      'check-grants',
      'check-target-reaches-source',
      'estimate-size',
      'check-replication',
    ])
      expect(services, name).toContain(`database-replicator-${name}`);
    for (const line of harness.handlerLogs)
      expect(line, JSON.stringify(line)).toMatchObject({
        level: expect.any(String),
        function_request_id: expect.any(String),
        cold_start: expect.any(Boolean),
      });
    expect(execution.entered).toEqual(
      expect.arrayContaining([
        'Record job started',
        'Check RDS parameter group',
        'Check grants',
        'Estimate size',
        'Copy snapshot',
        'Create subscription',
        'Check replication',
        'Database in sync',
        'Create verify schedule',
        'Record job succeeded',
        'Job succeeded',
      ]),
    );
    expect(execution.entered).not.toContain('Record job failed');
    // The monitor schedule is made before the copy, so the slot is watched from its first minute.
    expect(execution.entered.indexOf('Create monitor schedule')).toBeLessThan(
      execution.entered.indexOf('Copy snapshot'),
    );
    expect(execution.calls).toMatchObject({ 'Copy snapshot': 1, 'Create subscription': 1, 'Estimate size': 1 });

    const [s, t] = await Promise.all([fingerprintTables(source, db), fingerprintTables(target, db)]);
    expect(s.get('public.wf_orders')!.rows).toBe(3000);
    expect(s.size).toBeGreaterThan(8);
    expect(t).toEqual(s);

    // The subscription streams: rows written on the source now arrive on the target.
    await withClient(source, db, (c) =>
      c.query(
        `INSERT INTO public.wf_orders (customer, total) SELECT 99, 1 FROM generate_series(1, 25); DELETE FROM public.wf_notes WHERE id <= 5; UPDATE sales.customers SET name = name || ' (moved)' WHERE id % 7 = 0;`,
      ),
    );
    await waitFor(
      'the writes arriving on the target',
      async () =>
        (await rowCount(target, 'public.wf_orders')) === 3025 && (await rowCount(target, 'public.wf_notes')) === 35,
    );
    await waitFor(
      'the target equalling the source',
      async () =>
        JSON.stringify([...(await fingerprintTables(target, db))]) ===
        JSON.stringify([...(await fingerprintTables(source, db))]),
    );

    const job = await harness.store.getJob(jobId);
    expect(job).toMatchObject({
      jobId,
      state: 'SUCCEEDED',
      phase: 'Replicating: every database is in sync',
      source: { description: 'RDS shop-db', secretArn: sourceSecretArn },
    });
    expect(job!.executionArn).toMatch(/^arn:aws:states:eu-west-1:\d{12}:execution:replicator-replicate:/);
    const progress = job!.databases[db]!;
    expect(progress).toMatchObject({ state: 'RUNNING', phase: 'Replicating' });
    expect(tables.length).toBeGreaterThanOrEqual(10);
    expect(progress.tablesTotal).toBe(tables.length);
    expect(progress.tablesDone).toBe(tables.length);
    expect(progress.rowsCopied).toBe(tables.reduce((n, [, f]) => n + f.rows, 0));
    expect(progress.bytesCopied).toBeGreaterThan(0);
    expect((await harness.store.listSteps(jobId)).map((st) => `${st.step}:${st.state}`)).toEqual([
      'snapshot:SUCCEEDED',
      'subscribe:SUCCEEDED',
    ]);

    // The verify schedule starts the verify workflow for this job with identifiers and ARNs only.
    const schedule = harness.schedules.get(`verify-${jobId}`);
    expect(schedule).toMatchObject({
      GroupName: SUBSTITUTIONS.ScheduleGroupName,
      ScheduleExpression: 'rate(6 hours)',
      Target: { Arn: SUBSTITUTIONS.VerifyStateMachineArn, RoleArn: SUBSTITUTIONS.SchedulerRoleArn },
    });
    // A fire that cannot start verify lands in the dead-letter queue, which an alarm watches.
    expect(schedule!.Target.DeadLetterConfig).toEqual({ Arn: SUBSTITUTIONS.ScheduleDeadLetterQueueArn });
    expect(JSON.parse(schedule!.Target.Input)).toEqual({
      jobId,
      databases: [db],
      sourceSecretArn,
      targetSecretArn,
      plan: {},
    });
    await expectNoPasswords(execution);
  });

  it('made the monitor schedule, whose fire publishes a streaming, in-sync replication', async () => {
    const schedule = harness.schedules.get(`health-${jobId}`);
    expect(schedule).toMatchObject({
      GroupName: SUBSTITUTIONS.ScheduleGroupName,
      ScheduleExpression: 'rate(1 minute)',
      Target: {
        Arn: SUBSTITUTIONS.MonitorFunctionArn,
        RoleArn: SUBSTITUTIONS.SchedulerRoleArn,
        DeadLetterConfig: { Arn: SUBSTITUTIONS.ScheduleDeadLetterQueueArn },
      },
    });
    // Identifiers and ARNs only; the RDS instance for its free storage.
    expect(JSON.parse(schedule!.Target.Input)).toEqual({
      jobId,
      databases: [db],
      sourceSecretArn,
      targetSecretArn,
      sourceInstanceIdentifier: 'shop-db',
    });
    const { result, metrics } = await harness.fireMonitor(`health-${jobId}`);
    expect(result.databases).toEqual([
      { database: db, retainedBytes: expect.any(Number), lagBytes: expect.any(Number) },
    ]);
    expect(metrics.published[0]!.dimensions).toEqual({ JobId: jobId, Database: db });
    expect(metrics.values('SlotConsumed')).toEqual([1]);
    expect(metrics.values('SubscriptionEnabled')).toEqual([1]);
    expect(metrics.values('TablesNotReady')).toEqual([0]);
    expect(JSON.stringify(result)).not.toContain(source.password);
  });

  it('an execution of a job whose earlier run made the monitor schedule updates it with the new input (maxRetainedWalGb) instead of failing', async () => {
    const again = `${jobId}-again`;
    const made = {
      ...harness.schedules.get(`health-${jobId}`)!,
      Name: `health-${again}`,
      Target: { ...harness.schedules.get(`health-${jobId}`)!.Target, Input: '{}' },
    };
    harness.schedules.set(made.Name, made);
    // The copy is made to fail: only the schedule matters here.
    const stop = () => async () => {
      throw new NamedError('TaskStopped', 'stopped by the test before copying');
    };
    const execution = await harness.run(
      'replicate',
      { jobId: again, sourceSecretArn, targetSecretArn, databases: [db], maxRetainedWalGb: 50 },
      { wrap: { 'Copy snapshot': stop } },
    );
    expect(execution.entered).toEqual(
      expect.arrayContaining(['Create monitor schedule', 'Update monitor schedule', 'Replicate each database']),
    );
    expect(execution.status).toBe('FAILED');
    expect(JSON.parse(harness.schedules.get(`health-${again}`)!.Target.Input)).toEqual({
      jobId: again,
      databases: [db],
      sourceSecretArn,
      targetSecretArn,
      maxRetainedWalGb: 50,
    });
    harness.schedules.delete(`health-${again}`);
  });
});

describe('the verify workflow', () => {
  const verifyInput = () =>
    JSON.parse(harness.schedules.get(`verify-${jobId}`)!.Target.Input) as Record<string, unknown>;

  it('records a pass, then a difference made on the target only: the execution fails (told once, by the verify alarm)', async () => {
    const pass = await harness.run('verify', verifyInput());
    expect(pass.cause).toBeUndefined();
    expect(pass).toMatchObject({
      status: 'SUCCEEDED',
      output: { jobId, result: { outcome: 'equal', differences: 0 } },
    });
    expect(pass.entered).toContain('Verified');
    expect(pass.entered).not.toContain('Notify difference');
    expect((await harness.store.listVerifyRuns(jobId))[0]).toMatchObject({
      database: db,
      outcome: 'equal',
      differences: 0,
    });
    expect(harness.metrics.at(-1)).toEqual({ name: 'VerifyDifferences', value: 0 });

    await withClient(target, db, (c) =>
      c.query(`UPDATE public.wf_notes SET body = 'changed on the target only' WHERE id = 20`),
    );
    const diff = await harness.run('verify', verifyInput());
    expect(diff.status).toBe('FAILED');
    expect(diff.error).toBe('VerifyDifference');
    expect(diff.entered).toEqual(
      expect.arrayContaining(['Note verify task failure', 'Record verify result', 'Differences found']),
    );
    expect(diff.cause).toContain(`job ${jobId}`);
    expect(diff.cause).toContain(`${db} different`);
    const runs = await harness.store.listVerifyRuns(jobId);
    expect(runs).toHaveLength(2);
    expect(runs[0]).toMatchObject({ database: db, outcome: 'different', differences: 1 });
    expect(harness.metrics.at(-1)).toEqual({ name: 'VerifyDifferences', value: 1 });
    expect(diff.cause).toContain(`Verify of job ${jobId}: ${db} different`);
    await expectNoPasswords(diff);
  });
});

describe('the cutover workflow', () => {
  const input = () => ({
    jobId,
    databases: [db],
    sourceSecretArn,
    targetSecretArn,
    plan: { cutover: { timeoutSeconds: 60 } },
  });

  it('drains the lag and sets every target sequence to at least the source value; the job stays SUCCEEDED', async () => {
    // Rows written while replicating arrive on the target; the sequence values they drew do not.
    await withClient(source, db, (c) =>
      c.query(`INSERT INTO public.wf_orders (customer, total) SELECT 7, 2 FROM generate_series(1, 40)`),
    );
    await waitFor('the rows arriving on the target', async () => (await rowCount(target, 'public.wf_orders')) === 3065);
    const expected = await sequences(source);
    expect(expected['public.wf_orders_id_seq']).toBe(3065);
    expect((await sequences(target))['public.wf_orders_id_seq']).toBeLessThan(3065);

    const execution = await harness.run('cutover', input());
    expect(execution.cause).toBeUndefined();
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.entered).toEqual([
      'Set defaults',
      'Apply defaults',
      'Cut over each database',
      'Run cutover',
      'Record job succeeded',
      'Cut over',
    ]);
    expect(execution.calls).toEqual({ 'Run cutover': 1, 'Record job succeeded': 1 });

    const after = await sequences(target);
    expect(Object.keys(after).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, value] of Object.entries(expected))
      if (value !== null) expect(after[name], name).toBeGreaterThanOrEqual(value);
    // A new row on the target takes a fresh key, not one the source already used.
    const id = await withClient(
      target,
      db,
      async (c) =>
        (await c.query<{ id: string }>(`INSERT INTO public.wf_orders (customer, total) VALUES (1, 1) RETURNING id`))
          .rows[0]!.id,
    );
    expect(Number(id)).toBeGreaterThan(3065);
    await withClient(target, db, (c) => c.query('DELETE FROM public.wf_orders WHERE id = $1', [id]));

    expect(await harness.store.getJob(jobId)).toMatchObject({
      jobId,
      state: 'SUCCEEDED',
      phase: 'Replicating: every database is in sync',
    });
    expect(
      (await harness.store.listSteps(jobId))
        .filter((st) => st.step === 'cutover')
        .map((st) => `${st.database}:${st.state}`),
    ).toEqual([`${db}:SUCCEEDED`]);
    await expectNoPasswords(execution);
  });

  it('fails with a cause that names the database and what its task recorded, leaving the job SUCCEEDED', async () => {
    const execution = await harness.run('cutover', { ...input(), databases: ['never_replicated'] });
    expect(execution.status).toBe('FAILED');
    expect(execution.entered).toEqual([
      'Set defaults',
      'Apply defaults',
      'Cut over each database',
      'Run cutover',
      'Describe database failure',
      'Database cut-over failed',
      'Record job failed',
      'Cut-over failed',
    ]);
    expect(execution.error).toBe('States.TaskFailed');
    expect(execution.cause).toMatch(
      /^Database never_replicated: The replicator task \w+ stopped: .*exited with code 1\. .*The task recorded: never_replicated: SnapshotMissing: No snapshot of database never_replicated is recorded for job /,
    );
    expect(await harness.store.getJob(jobId)).toMatchObject({ state: 'SUCCEEDED' });
  });
});

describe('the cleanup workflow', () => {
  it('removes subscription, publication, slot and the verify schedule, and records the step', async () => {
    expect((await replicationObjectsOnSource(source, db)).slots).toHaveLength(1);
    const input = { jobId, databases: [db], sourceSecretArn, targetSecretArn };
    const execution = await harness.run('cleanup', input);
    expect(execution.cause).toBeUndefined();
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.entered).toEqual([
      'Set defaults',
      'Apply defaults',
      'Clean up each database',
      'Run cleanup',
      'Delete verify schedule',
      'Delete monitor schedule',
      'Record clean-up',
      'Cleaned up',
    ]);
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
    const subscriptions = await withClient(
      target,
      db,
      // pg_subscription is shared by every database of the cluster, and other test files subscribe beside this one.
      async (c) =>
        (
          await c.query(
            'SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())',
          )
        ).rows,
    );
    expect(subscriptions).toEqual([]);
    expect(harness.schedules.has(`verify-${jobId}`)).toBe(false);
    expect(harness.schedules.has(`health-${jobId}`)).toBe(false);
    expect((await harness.store.listSteps(jobId)).find((st) => st.step === 'Clean up')).toMatchObject({
      state: 'SUCCEEDED',
      detail: expect.stringContaining(db),
    });

    // Again: nothing is left, the schedule is gone already (ResourceNotFoundException is caught), it still succeeds.
    const again = await harness.run('cleanup', input);
    expect(again.status).toBe('SUCCEEDED');
    expect(again.entered).toContain('Record clean-up');
  });
});
