import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { clusterUrl, restartCluster, startCluster, type ClusterInfo } from '../../scripts/support/cluster.ts';
import { endpoints, runCli } from '../support/cli.ts';
import { fingerprintTables } from '../support/compare.ts';
import { connectAs, createTestDatabase, withClient } from '../support/db.ts';

interface StatusJson {
  ok: boolean;
  job: {
    state: string;
    phase: string;
    databases: Record<string, { state: string; tablesDone: number; tablesTotal: number; rowsCopied: number }>;
  } | null;
  steps: { step: string; state: string }[];
  databases: {
    database: string;
    verdict: string;
    reason: string;
    diskRisk: boolean;
    slot: { exists: boolean; lagBytes: number };
  }[];
}

/**
 * The whole flow on clusters of its own (the test restarts the source): init under load, sync,
 * status, a source restart, cutover, cleanup.
 */
describe('sync, status, cutover and cleanup under continuous writes', () => {
  let source: ClusterInfo & { stop: () => Promise<void> };
  let target: ClusterInfo & { stop: () => Promise<void> };
  const state = mkdtempSync(join(tmpdir(), 'dbr-flow-state-'));
  beforeAll(async () => {
    [source, target] = await Promise.all([
      startCluster({ name: 'flow-source' }),
      startCluster({ name: 'flow-target' }),
    ]);
    await withClient(source, 'postgres', (c) => c.query('CREATE DATABASE shop'));
    await withClient(source, 'shop', (c) =>
      c.query(`
      CREATE TABLE log (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), payload text);
      CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
      CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text NOT NULL);
      CREATE TABLE notes (body text NOT NULL);
      ALTER TABLE notes REPLICA IDENTITY FULL;
      INSERT INTO accounts SELECT i, 1000 FROM generate_series(1, 500) i;
      INSERT INTO items (label) SELECT 'item ' || i FROM generate_series(1, 5000) i;
      INSERT INTO log (payload) SELECT 'seed ' || i FROM generate_series(1, 20000) i;
      INSERT INTO notes SELECT 'note ' || (i % 10) FROM generate_series(1, 100) i;`),
    );
  });
  afterAll(async () => {
    await Promise.allSettled([source?.stop(), target?.stop()]);
    rmSync(state, { recursive: true, force: true });
  });

  const env = () => endpoints(clusterUrl(source, 'shop'), clusterUrl(target, 'shop'));
  const cli = (args: string[]) => runCli([...args, '--state-dir', state], env());
  async function status(): Promise<StatusJson> {
    const run = await cli(['status', '--json']);
    return JSON.parse(run.stdout) as StatusJson;
  }
  async function waitForVerdict(verdict: string, timeoutMs = 60_000): Promise<StatusJson> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await status();
      if (s.databases.every((d) => d.verdict === verdict)) return s;
      if (Date.now() > deadline) throw new Error(`status never became ${verdict}: ${JSON.stringify(s.databases)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  it('replicates gap-free through a source restart and switches over with sequences ahead', async () => {
    // A writer that survives the restart: inserts into the insert-only log, updates, deletes and re-inserts.
    let writing = true;
    let committed = 0;
    let client: pg.Client | undefined;
    const load = (async () => {
      let i = 0;
      while (writing) {
        try {
          client ??= await connectAs(source, 'shop');
          i++;
          await client.query(`BEGIN;
            INSERT INTO log (payload) VALUES ('live ${i}');
            UPDATE accounts SET balance = balance + 1 WHERE id = ${1 + (i % 500)};
            DELETE FROM items WHERE id = (SELECT min(id) FROM items);
            INSERT INTO items (label) VALUES ('new ${i}');
            UPDATE notes SET body = body || '.' WHERE ctid = (SELECT ctid FROM notes LIMIT 1);
            COMMIT;`);
          committed++;
        } catch {
          await client?.end().catch(() => undefined);
          client = undefined;
          await new Promise((r) => setTimeout(r, 100));
        }
        await new Promise((r) => setTimeout(r, 3));
      }
      await client?.end().catch(() => undefined);
    })();

    try {
      const init = await cli(['init', '--yes', '--json']);
      expect(init.exitCode, init.stderr).toBe(0);
      const waiting = await status();
      expect(waiting.databases[0]).toMatchObject({ verdict: 'initializing', diskRisk: true });
      // The job record: the same model the serverless workflow writes.
      expect(waiting.job).toMatchObject({ state: 'RUNNING', phase: expect.stringMatching(/slot waits for sync/) });
      expect(waiting.job!.databases.shop).toMatchObject({ state: 'RUNNING', tablesDone: 4, tablesTotal: 4 });
      expect(waiting.job!.databases.shop!.rowsCopied).toBeGreaterThanOrEqual(25_600);
      expect(waiting.steps).toEqual([expect.objectContaining({ step: 'init', state: 'SUCCEEDED' })]);

      const sync = await cli(['sync', '--json']);
      expect(sync.exitCode, sync.stderr).toBe(0);
      expect(JSON.parse(sync.stdout).databases[0]).toMatchObject({
        action: 'created',
        note: expect.stringContaining('dedicated replication user'),
      });
      await waitForVerdict('in sync');
      const again = await cli(['sync', '--json']);
      expect(JSON.parse(again.stdout).databases[0]).toMatchObject({ action: 'unchanged' });

      await restartCluster(source);
      await new Promise((r) => setTimeout(r, 1000));
      await waitForVerdict('in sync', 90_000);
      const text = await cli(['status']);
      expect(text.exitCode).toBe(0);
      expect(text.stdout).toMatch(/shop: in sync/);
      expect(text.stdout).toMatch(/^Job \w+: RUNNING - Streaming changes/);
    } finally {
      writing = false;
      await load;
    }
    expect(committed).toBeGreaterThan(50);

    const cutover = await cli(['cutover', '--json', '--read-only-source', '--timeout', '120']);
    expect(cutover.exitCode, cutover.stderr).toBe(0);
    const done = await status();
    expect(done.job).toMatchObject({
      state: 'SUCCEEDED',
      databases: { shop: expect.objectContaining({ state: 'SUCCEEDED' }) },
    });
    expect(done.steps.map((st) => `${st.step} ${st.state}`)).toEqual([
      'init SUCCEEDED',
      'sync SUCCEEDED',
      'sync SUCCEEDED',
      'cutover SUCCEEDED',
    ]);
    const [s, t] = await Promise.all([fingerprintTables(source, 'shop'), fingerprintTables(target, 'shop')]);
    expect(t).toEqual(s);
    expect(t.get('public.log')!.rows).toBe(20000 + committed);

    // Sequences are at least the source's, and the next insert on the target does not collide.
    const seq = async (cluster: ClusterInfo) =>
      withClient(
        cluster,
        'shop',
        async (c) =>
          (
            await c.query<{ name: string; v: string }>(
              'SELECT sequencename AS name, last_value::text AS v FROM pg_sequences ORDER BY 1',
            )
          ).rows,
      );
    const [ss, ts] = await Promise.all([seq(source), seq(target)]);
    for (const [i, row] of ss.entries()) expect(BigInt(ts[i]!.v)).toBeGreaterThanOrEqual(BigInt(row.v));
    await withClient(target, 'shop', (c) =>
      c.query("INSERT INTO log (payload) VALUES ('after cutover'); INSERT INTO items (label) VALUES ('after cutover')"),
    );
    // The source is read-only for new sessions after --read-only-source.
    await expect(
      withClient(source, 'shop', (c) => c.query("INSERT INTO log (payload) VALUES ('late')")),
    ).rejects.toThrow(/read-only transaction/);
  });

  it('status says broken, with the reason, when the subscription is disabled; sync enables it again', async () => {
    await withClient(target, 'shop', async (c) => {
      const { rows } = await c.query<{ subname: string }>('SELECT subname FROM pg_subscription');
      await c.query(`ALTER SUBSCRIPTION "${rows[0]!.subname}" DISABLE`);
    });
    const run = await cli(['status', '--json']);
    expect(run.exitCode).toBe(1);
    expect((JSON.parse(run.stdout) as StatusJson).databases[0]).toMatchObject({
      verdict: 'broken',
      reason: expect.stringContaining('disabled'),
    });
    const sync = await cli(['sync', '--json']);
    expect(JSON.parse(sync.stdout).databases[0]).toMatchObject({ action: 'enabled' });
  });

  it('status says broken when the slot is dropped', async () => {
    const name = await withClient(target, 'shop', async (c) => {
      const { rows } = await c.query<{ subname: string }>('SELECT subname FROM pg_subscription');
      await c.query(`ALTER SUBSCRIPTION "${rows[0]!.subname}" DISABLE`);
      return rows[0]!.subname;
    });
    await withClient(source, 'postgres', async (c) => {
      for (let i = 0; i < 50; i++) {
        const { rows } = await c.query<{ active: boolean }>(
          'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
          [name],
        );
        if (!rows[0]?.active) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await c.query('SELECT pg_drop_replication_slot($1)', [name]);
    });
    const run = await cli(['status', '--json']);
    expect(run.exitCode).toBe(1);
    expect((JSON.parse(run.stdout) as StatusJson).databases[0]).toMatchObject({
      verdict: 'broken',
      reason: expect.stringContaining('slot is missing'),
    });
  });

  it('cleanup removes every subscription, publication and slot of the job; a second cleanup does nothing', async () => {
    const first = await cli(['cleanup', '--yes', '--json']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).dropped.join(' ')).toMatch(/subscription .*publication /);
    const left = {
      subscriptions: await withClient(
        target,
        'shop',
        async (c) => (await c.query('SELECT subname FROM pg_subscription')).rowCount,
      ),
      publications: await withClient(
        source,
        'shop',
        async (c) => (await c.query('SELECT pubname FROM pg_publication')).rowCount,
      ),
      slots: await withClient(
        source,
        'postgres',
        async (c) => (await c.query('SELECT slot_name FROM pg_replication_slots')).rowCount,
      ),
    };
    expect(left).toEqual({ subscriptions: 0, publications: 0, slots: 0 });
    const second = await cli(['cleanup', '--yes']);
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toContain('Nothing to clean up');
    // The target keeps its data.
    expect((await fingerprintTables(target, 'shop')).get('public.accounts')!.rows).toBe(500);
  });

  it('sync refuses without a slot from init unless --copy-data', async () => {
    const run = await cli(['sync']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/no slot from init .*--copy-data/);
  });

  it('sync names the network remedy when the target cannot reach the source', async () => {
    await withClient(source, 'postgres', (c) => c.query('CREATE DATABASE crm'));
    await withClient(source, 'crm', (c) => c.query('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);'));
    const crmEnv = endpoints(clusterUrl(source, 'crm'), clusterUrl(target, 'crm'));
    const crm = (args: string[], extra: Record<string, string> = {}) =>
      runCli([...args, '--state-dir', state], { ...crmEnv, ...extra });
    expect((await crm(['init', '--yes'])).exitCode).toBe(0);
    const run = await crm(['sync'], {
      DATABASE_REPLICATOR_SUBSCRIPTION_SOURCE_URL: clusterUrl({ ...source, port: 1 }, 'crm'),
    });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(
      /The target could not connect to the source for database crm .*security group.*--subscription-source-url/,
    );
    expect(run.stderr).not.toContain(source.password);
    expect((await crm(['sync'])).exitCode).toBe(0);
    expect((await crm(['cleanup', '--yes'])).exitCode).toBe(0);
  });
});

describe('sync --copy-data without init', () => {
  it('lets PostgreSQL copy into existing empty tables, then status, cutover and cleanup work on it', async () => {
    const { source, target } = inject('clusters');
    const db = (await createTestDatabase(source, 'copydata')).name;
    const schema =
      'CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL); CREATE TABLE events (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());';
    await withClient(source, db, (c) =>
      c.query(
        `${schema} INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 5000) g; INSERT INTO events (at) SELECT now() FROM generate_series(1, 300);`,
      ),
    );
    await withClient(target, 'postgres', (c) => c.query(`CREATE DATABASE "${db}"`));
    await withClient(target, db, (c) => c.query(schema));
    const state = mkdtempSync(join(tmpdir(), 'dbr-copydata-'));
    try {
      const cli = (args: string[]) =>
        runCli([...args, '--state-dir', state], endpoints(clusterUrl(source, db), clusterUrl(target, db)));
      const sync = await cli(['sync', '--copy-data', '--json']);
      expect(sync.exitCode, sync.stderr).toBe(0);
      expect(JSON.parse(sync.stdout).databases[0]).toMatchObject({ action: 'created' });
      await withClient(source, db, (c) =>
        c.query("INSERT INTO items VALUES (5001, 'after the copy started'); INSERT INTO events (at) VALUES (now())"),
      );
      const deadline = Date.now() + 60_000;
      for (;;) {
        const status = JSON.parse((await cli(['status', '--json'])).stdout) as { databases: { verdict: string }[] };
        if (status.databases[0]!.verdict === 'in sync') break;
        if (Date.now() > deadline) throw new Error(`never in sync: ${JSON.stringify(status)}`);
        await new Promise((r) => setTimeout(r, 300));
      }
      expect((await cli(['cutover'])).exitCode).toBe(0);
      const [s, t] = await Promise.all([fingerprintTables(source, db), fingerprintTables(target, db)]);
      expect(t).toEqual(s);
      expect(t.get('public.items')!.rows).toBe(5001);
      expect((await cli(['cleanup', '--yes'])).exitCode).toBe(0);
      expect(
        await withClient(
          source,
          'postgres',
          async (c) => (await c.query('SELECT 1 FROM pg_replication_slots WHERE database = $1', [db])).rowCount,
        ),
      ).toBe(0);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});
