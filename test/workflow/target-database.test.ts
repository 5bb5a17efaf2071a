// The workflows with a target database of another name (input `targetDatabases`), executed locally as in
// replicate.test.ts: replicate copies and subscribes into the named database, the verify schedule's input
// carries the name on, and verify, cutover and cleanup work on that database. The tests run in order.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { dropReplicationObjects, fingerprintTables, replicationObjectsOnSource } from '../support/compare.ts';
import { createTestDatabase, withClient } from '../support/db.ts';
import { WorkflowHarness } from '../support/workflow-runner.ts';

const { source, target } = inject('clusters');
let harness: WorkflowHarness;
let db: string;
let renamed: string;
let jobId: string;
let sourceSecretArn: string;
let targetSecretArn: string;

beforeAll(async () => {
  harness = await WorkflowHarness.start();
  sourceSecretArn = harness.holdSecret('wf-renamed/source', clusterUrl(source, 'postgres'));
  targetSecretArn = harness.holdSecret('wf-renamed/target', clusterUrl(target, 'postgres'));
  db = (await createTestDatabase(source, 'wf_rename')).name;
  renamed = `${db}_copy`;
  jobId = `renamed-${db.slice(-8)}`;
  await withClient(source, db, (c) =>
    c.query(`
    CREATE TABLE public.items (id bigserial PRIMARY KEY, label text NOT NULL);
    INSERT INTO public.items (label) SELECT 'item ' || i FROM generate_series(1, 500) i;`),
  );
});

afterAll(async () => {
  if (db) await dropReplicationObjects(source, target, db).catch(() => undefined);
  if (renamed)
    await withClient(target, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${renamed}" WITH (FORCE)`)).catch(
      () => undefined,
    );
  await harness?.close();
});

async function targetDatabases(): Promise<string[]> {
  return withClient(target, 'postgres', async (c) =>
    (await c.query<{ datname: string }>('SELECT datname FROM pg_database')).rows.map((r) => r.datname),
  );
}

async function subscriptionsIn(database: string): Promise<string[]> {
  return withClient(target, 'postgres', async (c) =>
    (
      await c.query<{ subname: string }>(
        'SELECT s.subname FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid WHERE d.datname = $1',
        [database],
      )
    ).rows.map((r) => r.subname),
  );
}

describe('a target database of another name', () => {
  it('replicate copies and subscribes into it, and leaves no database of the source name on the target', async () => {
    const execution = await harness.run('replicate', {
      jobId,
      sourceSecretArn,
      targetSecretArn,
      databases: [db],
      targetDatabases: [renamed],
      verifySchedule: 'rate(6 hours)',
    });
    expect(execution.cause).toBeUndefined();
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.entered).toEqual(
      expect.arrayContaining(['Copy snapshot', 'Create subscription', 'Database in sync', 'Job succeeded']),
    );

    expect(await targetDatabases()).toContain(renamed);
    expect(await targetDatabases()).not.toContain(db);
    const [s, t] = await Promise.all([fingerprintTables(source, db), fingerprintTables(target, renamed)]);
    expect(s.get('public.items')!.rows).toBe(500);
    expect(t).toEqual(s);
    expect(await subscriptionsIn(renamed)).toHaveLength(1);

    await withClient(source, db, (c) =>
      c.query(`INSERT INTO public.items (label) SELECT 'late ' || i FROM generate_series(1, 20) i`),
    );
    for (const end = Date.now() + 20_000; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
      if ((await fingerprintTables(target, renamed)).get('public.items')!.rows === 520) break;
    }
    expect((await fingerprintTables(target, renamed)).get('public.items')!.rows).toBe(520);

    const schedule = harness.schedules.get(`verify-${jobId}`)!;
    expect(JSON.parse(schedule.Target.Input)).toEqual({
      jobId,
      databases: [db],
      targetDatabases: [renamed],
      sourceSecretArn,
      targetSecretArn,
      plan: {},
    });
  });

  it('verify, started with the schedule input, compares the source with that database', async () => {
    const input = JSON.parse(harness.schedules.get(`verify-${jobId}`)!.Target.Input) as Record<string, unknown>;
    const pass = await harness.run('verify', input);
    expect(pass.cause).toBeUndefined();
    expect(pass).toMatchObject({ status: 'SUCCEEDED', output: { result: { outcome: 'equal', differences: 0 } } });

    await withClient(target, renamed, (c) =>
      c.query(`UPDATE public.items SET label = 'changed on the target only' WHERE id = 7`),
    );
    const diff = await harness.run('verify', input);
    expect(diff.status).toBe('FAILED');
    expect(diff.cause).toContain(`${db} different`);
    await withClient(target, renamed, (c) => c.query(`UPDATE public.items SET label = 'item 7' WHERE id = 7`));
  });

  it('cutover sets the sequences of that database', async () => {
    const execution = await harness.run('cutover', {
      jobId,
      databases: [db],
      targetDatabases: [renamed],
      sourceSecretArn,
      targetSecretArn,
      plan: { cutover: { timeoutSeconds: 60 } },
    });
    expect(execution.cause).toBeUndefined();
    expect(execution.status).toBe('SUCCEEDED');
    const last = (cluster: typeof source, database: string) =>
      withClient(cluster, database, async (c) =>
        Number((await c.query<{ v: string }>(`SELECT last_value::text AS v FROM public.items_id_seq`)).rows[0]!.v),
      );
    expect(await last(target, renamed)).toBeGreaterThanOrEqual(await last(source, db));
  });

  it('cleanup drops the subscription in that database, and the publication and slot on the source', async () => {
    const execution = await harness.run('cleanup', {
      jobId,
      databases: [db],
      targetDatabases: [renamed],
      sourceSecretArn,
      targetSecretArn,
    });
    expect(execution.cause).toBeUndefined();
    expect(execution.status).toBe('SUCCEEDED');
    expect(await subscriptionsIn(renamed)).toEqual([]);
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
  });

  it('is refused before anything runs when the list does not name one target per database', async () => {
    const execution = await harness.run('replicate', {
      jobId: `${jobId}-bad`,
      sourceSecretArn,
      targetSecretArn,
      databases: [db],
      targetDatabases: [renamed, 'other'],
    });
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('InvalidEvent');
    expect(execution.cause).toContain('targetDatabases');
    expect(execution.entered).not.toContain('Copy snapshot');
  });
});
