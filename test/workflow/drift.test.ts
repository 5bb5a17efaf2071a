// Schema drift in the serverless workflow, executed locally against the harness clusters: the wait loop's
// replication check finds a column added on the source, the job record keeps the drift with its fix, the
// alarm topic gets one notice however often the loop checks, and a new execution with plan.applyDdl
// carries the change across and finishes in sync.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { dropReplicationObjects, fingerprintTables } from '../support/compare.ts';
import { createTestDatabase, withClient, SUBSCRIPTIONS_OF_THIS_DATABASE } from '../support/db.ts';
import { SUBSTITUTIONS, WorkflowHarness, type TaskHandler } from '../support/workflow-runner.ts';

const { source, target } = inject('clusters');
let harness: WorkflowHarness;
let db: string;
let jobId: string;
let input: { jobId: string; sourceSecretArn: string; targetSecretArn: string; databases: string[] };

beforeAll(async () => {
  harness = await WorkflowHarness.start();
  db = (await createTestDatabase(source, 'wf_drift')).name;
  jobId = `drift-${db.slice(-8)}`;
  await withClient(source, db, (c) =>
    c.query(`
    CREATE TABLE public.orders (id bigserial PRIMARY KEY, amount int NOT NULL);
    INSERT INTO public.orders (amount) SELECT i FROM generate_series(1, 1000) i;`),
  );
  input = {
    jobId,
    sourceSecretArn: harness.holdSecret('drift/source', clusterUrl(source, 'postgres')),
    targetSecretArn: harness.holdSecret('drift/target', clusterUrl(target, 'postgres')),
    databases: [db],
  };
});

afterAll(async () => {
  if (db) await dropReplicationObjects(source, target, db).catch(() => undefined);
  await harness?.close();
});

/** Before the first replication check: a migration on the source, and a row that the target's apply worker then fails on. */
function migrateBeforeFirstCheck(next: TaskHandler): TaskHandler {
  let migrated = false;
  return async (payload) => {
    if (!migrated) {
      migrated = true;
      await withClient(source, db, (c) =>
        c.query(
          'ALTER TABLE public.orders ADD COLUMN c int DEFAULT 7; INSERT INTO public.orders (amount) VALUES (1001)',
        ),
      );
      await withClient(target, db, async (c) => {
        for (let i = 0; i < 100; i++) {
          const { rows } = await c.query<{ n: string }>(
            `SELECT coalesce(sum(apply_error_count), 0)::text AS n FROM pg_stat_subscription_stats WHERE ${SUBSCRIPTIONS_OF_THIS_DATABASE}`,
          );
          if (Number(rows[0]!.n) > 0) return;
          await new Promise((r) => setTimeout(r, 200));
        }
        throw new Error('the apply worker never failed on the new column');
      });
    }
    return next(payload);
  };
}

describe('schema drift in the replicate workflow', () => {
  it('records the drift in the job, publishes one notice to the alarm topic, and fails naming the drift and its fix', async () => {
    const execution = await harness.run('replicate', input, {
      wrap: { 'Check replication': migrateBeforeFirstCheck },
      catchUpWaitMs: 200,
    });
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('ReplicationBroken');
    expect(execution.cause).toContain(
      'schema drift stops replication: column c was added to public.orders on the source; the target lacks it; run sync --apply-ddl to fix it',
    );
    // Three broken checks, one drift: recorded and told once.
    expect(execution.calls['Check replication']).toBeGreaterThanOrEqual(3);
    expect(execution.calls['Record drift']).toBe(1);
    expect(harness.published).toHaveLength(1);
    expect(harness.published[0]).toMatchObject({
      TopicArn: SUBSTITUTIONS.AlarmTopicArn,
      Subject: `database-replicator: schema drift in job ${jobId}`,
    });
    expect(harness.published[0]!.Message).toContain(`Schema drift in job ${jobId}, database ${db}`);
    expect(harness.published[0]!.Message).toContain('ALTER TABLE "public"."orders" ADD COLUMN "c" integer DEFAULT 7;');
    const job = await harness.store.getJob(jobId);
    expect(job!.databases[db]!.drift).toEqual([
      'column c was added to public.orders on the source; the target lacks it - sync --apply-ddl runs: ALTER TABLE "public"."orders" ADD COLUMN "c" integer DEFAULT 7;',
    ]);
  });

  it('a new execution with plan.applyDdl applies the change, catches up, and clears the drift from the job record', async () => {
    const execution = await harness.run('replicate', { ...input, plan: { applyDdl: true } }, { catchUpWaitMs: 200 });
    expect(execution.cause, execution.cause + harness.taskOutput.slice(-6).join('\n')).toBeUndefined();
    expect(execution.status).toBe('SUCCEEDED');
    expect(harness.published).toHaveLength(1);
    const job = await harness.store.getJob(jobId);
    expect(job!.state).toBe('SUCCEEDED');
    expect(job!.databases[db]!.drift ?? []).toEqual([]);
    await withClient(target, db, async (c) => {
      for (let i = 0; i < 100; i++) {
        if (Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM public.orders')).rows[0]!.n) === 1001)
          return;
        await new Promise((r) => setTimeout(r, 200));
      }
    });
    const [s, t] = await Promise.all([fingerprintTables(source, db), fingerprintTables(target, db)]);
    expect(t).toEqual(s);
  });
});
