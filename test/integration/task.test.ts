// The Fargate task's subcommands against the real test clusters: Secrets Manager mocked (secrets hold
// the clusters' URLs), the job store on dynalite, Step Functions mocked. Each subcommand runs with a
// fresh temporary state folder, as a new Fargate task would: init's state travels only through the job store.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DynamoDbJobStore } from '../../src/jobs/index.ts';
import { LocalFileJobStore } from '../../src/jobs/index.ts';
import { parseTaskConfig, type Subcommand } from '../../src/task/config.ts';
import { runTask } from '../../src/task/run.ts';
import { replicationObjectName } from '../../src/jobs/naming.ts';
import { clusterUrl, type ClusterInfo } from '../../scripts/support/cluster.ts';
import { dropReplicationObjects, fingerprintTables, replicationObjectsOnSource } from '../support/compare.ts';
import { createTestDatabase, edgeCasesSql, runPsqlFile, withClient } from '../support/db.ts';
import { startJobTable, type JobTable } from '../support/job-table.ts';
import { committedWalEnd } from '../../src/catalog/wal.ts';

const { source, target } = inject('clusters');
const ARN = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`;
const sm = mockClient(SecretsManagerClient);
const sfn = mockClient(SFNClient);
const passwords = [source.password, target.password];

let table: JobTable;
let doc: DynamoDBDocumentClient;
let store: DynamoDbJobStore;
const TABLE = 'replicator-jobs';
const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
const printed: string[] = [];

beforeAll(async () => {
  table = await startJobTable(TABLE);
  doc = table.doc;
  store = table.store;
  sfn.on(SendTaskSuccessCommand).resolves({});
});

afterAll(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await table?.close();
});

function holdSecret(name: string, cluster: ClusterInfo, database: string): string {
  sm.on(GetSecretValueCommand, { SecretId: ARN(name) }).resolves({
    ARN: ARN(name),
    SecretString: JSON.stringify({ url: clusterUrl(cluster, database) }),
  });
  return ARN(name);
}

async function sourceDatabase(prefix: string): Promise<string> {
  const { name } = await createTestDatabase(source, prefix);
  cleanups.push(() => dropReplicationObjects(source, target, name));
  return name;
}

/** Runs one subcommand as its own task; returns the exit code and what it sent to Step Functions. */
async function task(
  subcommand: Subcommand,
  jobId: string,
  database: string,
  plan: object = {},
): Promise<{ code: number; output: Record<string, unknown> }> {
  const env = {
    JOB_ID: jobId,
    DATABASE: database,
    SOURCE_SECRET_ARN: holdSecret('src', source, 'postgres'),
    TARGET_SECRET_ARN: holdSecret('tgt', target, 'postgres'),
    PLAN: JSON.stringify(plan),
    JOB_TABLE: TABLE,
    TASK_TOKEN: `token-${subcommand}`,
    JOBS: '2',
  };
  const config = parseTaskConfig([subcommand], env);
  const lines: string[] = [];
  sfn.resetHistory();
  const code = await runTask(config, {
    secrets: new SecretsManagerClient({ region: 'eu-west-1' }),
    sfn: new SFNClient({ region: 'eu-west-1' }),
    store,
    stdout: (l) => lines.push(l),
    stderr: (l) => lines.push(l),
  });
  printed.push(...lines);
  const sent = sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input.output;
  if (code !== 0) throw new Error(`${subcommand} exited ${code}: ${lines.join('\n')}`);
  return { code, output: sent ? (JSON.parse(sent) as Record<string, unknown>) : {} };
}

async function allItemsOf(jobId: string): Promise<string> {
  const { Items } = await doc.send(
    new QueryCommand({
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `JOB#${jobId}` },
    }),
  );
  return JSON.stringify(Items);
}

/**
 * Waits until the target confirmed everything the source had written: the slot's confirmed_flush_lsn,
 * not pg_stat_subscription.latest_end_lsn, which a fresh apply worker takes from the sender's
 * keepalive before it has applied anything.
 */
async function waitForSlotConfirmed(database: string, slot: string): Promise<void> {
  await withClient(source, database, async (c) => {
    const lsn = await committedWalEnd(c);
    for (let i = 0; i < 600; i++) {
      const { rows } = await c.query<{ done: boolean }>(
        'SELECT confirmed_flush_lsn >= $2::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = $1',
        [slot, lsn],
      );
      if (rows[0]?.done) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the target did not confirm ${lsn} on slot ${slot} within 60 s`);
  });
}

async function subscriptionsOn(database: string): Promise<string[]> {
  return withClient(target, database, async (c) =>
    (
      await c.query<{ subname: string }>(
        'SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())',
      )
    ).rows.map((r) => r.subname),
  );
}

describe('the Fargate task refuses a target that is the source', () => {
  it('snapshot (with dropExisting), subscribe, cutover and cleanup fail by name and leave the source as it was', async () => {
    const db = await sourceDatabase('task_guard');
    await runPsqlFile(source, db, edgeCasesSql());
    const before = await fingerprintTables(source, db);
    // The target secret names the source server by another spelling, as a copied secret might.
    sm.on(GetSecretValueCommand, { SecretId: ARN('same') }).resolves({
      ARN: ARN('same'),
      SecretString: JSON.stringify({ url: clusterUrl({ ...source, host: 'localhost' }, 'postgres') }),
    });
    for (const subcommand of ['snapshot', 'subscribe', 'cutover', 'cleanup'] as const) {
      const env = {
        JOB_ID: `guard_${db.slice(-8)}`,
        DATABASE: db,
        SOURCE_SECRET_ARN: holdSecret('src', source, 'postgres'),
        TARGET_SECRET_ARN: ARN('same'),
        PLAN: JSON.stringify({ dropExisting: true }),
        JOB_TABLE: TABLE,
        TASK_TOKEN: `token-${subcommand}`,
        JOBS: '2',
      };
      const lines: string[] = [];
      sfn.resetHistory();
      sfn.on(SendTaskFailureCommand).resolves({});
      const code = await runTask(parseTaskConfig([subcommand], env), {
        secrets: new SecretsManagerClient({ region: 'eu-west-1' }),
        sfn: new SFNClient({ region: 'eu-west-1' }),
        store,
        stdout: (l) => lines.push(l),
        stderr: (l) => lines.push(l),
      });
      expect(code, lines.join('\n')).not.toBe(0);
      const failure = sfn.commandCalls(SendTaskFailureCommand)[0]?.args[0].input;
      if (subcommand === 'snapshot') {
        // validate's check speaks first, before anything is created.
        expect(failure?.error).toBe('PreconditionFailed');
        expect(failure?.cause).toMatch(/The target is the source itself/);
      } else {
        // No snapshot is recorded for this job: those refuse before they connect.
        expect(failure?.error, failure?.cause).toMatch(/SnapshotMissing|SameDatabaseError/);
      }
      expect(lines.join('\n')).not.toContain(source.password);
    }
    expect(await fingerprintTables(source, db)).toEqual(before);
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
  });
});

describe('the Fargate task subcommands', () => {
  it('snapshot, subscribe, writes, cutover, verify, cleanup: the target equals the source, and the job store shows each phase', async () => {
    const db = await sourceDatabase('task_flow');
    const other = await sourceDatabase('task_other');
    await withClient(source, db, (c) =>
      c.query(`
      CREATE TABLE orders (id bigserial PRIMARY KEY, customer int NOT NULL, total numeric(10,2));
      CREATE TABLE notes (body text NOT NULL);
      ALTER TABLE notes REPLICA IDENTITY FULL;
      CREATE TABLE skipme (id int PRIMARY KEY);
      INSERT INTO orders (customer, total) SELECT i % 50, i * 1.5 FROM generate_series(1, 3000) i;
      INSERT INTO notes SELECT 'note ' || i FROM generate_series(1, 40) i;
      INSERT INTO skipme SELECT generate_series(1, 10);`),
    );
    // The PLAN names tables of two databases, as the whole job's plan does; each task keeps its own.
    const plan = {
      excludeTables: [`${db}.skipme`, `${other}.whatever`],
      cutover: { timeoutSeconds: 120, sequenceMargin: 5 },
    };
    // A job id as the workflow admits it: the slot is named from it, as record-job computes the name.
    const jobId = `flow_${db.slice(-8)}`;

    const snap = await task('snapshot', jobId, db, plan);
    expect(snap.output).toMatchObject({
      ok: true,
      database: db,
      tables: 2,
      rows: 3040,
      slot: replicationObjectName(jobId, db),
      consistentPoint: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/),
    });
    let job = await store.getJob(jobId);
    expect(job).toMatchObject({ state: 'RUNNING', phase: 'Copy snapshot', source: { secretArn: ARN('src') } });
    expect(job!.databases[db]).toMatchObject({
      state: 'RUNNING',
      phase: 'Snapshot copied',
      tablesDone: 2,
      tablesTotal: 2,
      rowsCopied: 3040,
    });
    expect(JSON.stringify(job)).not.toContain('consistentPoint');
    expect((await store.getCheckpoint(jobId, db))!.databases[db]).toMatchObject({
      slot: snap.output.slot,
      slotCreated: true,
      done: true,
    });

    // Written between snapshot and subscribe: the slot keeps them for the subscription.
    await withClient(source, db, (c) =>
      c.query(
        `INSERT INTO orders (customer, total) SELECT 7, 1 FROM generate_series(1, 100); UPDATE notes SET body = body || '!' WHERE body LIKE 'note 1%'; DELETE FROM orders WHERE id % 10 = 0;`,
      ),
    );
    const sub = await task('subscribe', jobId, db, plan);
    expect(sub.output).toMatchObject({ action: 'created', subscription: snap.output.slot });
    await withClient(source, db, (c) =>
      c.query(`INSERT INTO orders (customer, total) VALUES (1, 2), (3, 4); INSERT INTO notes VALUES ('late');`),
    );
    const cut = await task('cutover', jobId, db, plan);
    expect(cut.output).toMatchObject({ sequences: 1, sourceReadOnly: false });

    const [s, t] = await Promise.all([fingerprintTables(source, db), fingerprintTables(target, db)]);
    expect(t.get('public.skipme')!.rows).toBe(0);
    s.delete('public.skipme');
    t.delete('public.skipme');
    expect(t).toEqual(s);
    expect(t.get('public.orders')!.rows).toBe(3000 + 100 - 310 + 2);
    const seq = async (cluster: ClusterInfo) =>
      withClient(cluster, db, async (c) =>
        BigInt((await c.query<{ v: string }>('SELECT last_value::text AS v FROM orders_id_seq')).rows[0]!.v),
      );
    expect(await seq(target)).toBe((await seq(source)) + 5n);

    const verified = await task('verify', jobId, db, plan);
    expect(verified.output).toMatchObject({ outcome: 'equal', tables: { total: 2, equal: 2, different: 0 } });
    expect(await store.listVerifyRuns(jobId)).toEqual([
      expect.objectContaining({
        database: db,
        outcome: 'equal',
        differences: 0,
        tables: expect.objectContaining({ total: 2, equal: 2 }),
      }),
    ]);

    job = await store.getJob(jobId);
    expect(job!.databases[db]).toMatchObject({ state: 'SUCCEEDED', phase: 'Cut over' });
    expect((await store.listSteps(jobId)).map((st) => [st.step, st.state])).toEqual([
      ['snapshot', 'SUCCEEDED'],
      ['subscribe', 'SUCCEEDED'],
      ['cutover', 'SUCCEEDED'],
      ['verify', 'SUCCEEDED'],
    ]);

    const clean = await task('cleanup', jobId, db, plan);
    expect(clean.output.dropped).toEqual(
      expect.arrayContaining([expect.stringMatching(/^subscription /), expect.stringMatching(/^publication /)]),
    );
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
    expect(await subscriptionsOn(db)).toEqual([]);
    job = await store.getJob(jobId);
    expect(job!.databases[db]).toMatchObject({ state: 'SUCCEEDED', phase: 'Cleaned up' });
    expect(await store.getCheckpoint(jobId, db)).toBeUndefined();
    // Cleanup again finds nothing and succeeds.
    expect((await task('cleanup', jobId, db, plan)).output.dropped).toEqual([]);

    const everything =
      (await allItemsOf(jobId)) + printed.join('\n') + JSON.stringify(sfn.calls().map((c) => c.args[0].input));
    for (const password of passwords) expect(everything).not.toContain(password);
  });

  it('carries the edge-case database through snapshot and subscribe exactly', async () => {
    const db = await sourceDatabase('task_edge');
    await runPsqlFile(source, db, edgeCasesSql());
    const jobId = `edge-${db}`;
    await task('snapshot', jobId, db, { splitTablesLargerThanBytes: 1024 * 1024 });
    await withClient(source, db, (c) =>
      c.query(`
      INSERT INTO sales.customers (email, name, home, tags, prefs) VALUES ('New@Example.com', 'new one', ROW('1 St', 'X', '00001'), '{a,b}', '{"k": [1, 2]}');
      UPDATE sales.customers SET prefs = prefs || '{"changed": true}', tags = tags || '{t9}' WHERE id % 97 = 0;
      DELETE FROM sales.orders WHERE id % 101 = 0;
      INSERT INTO sales.orders (customer_id, status, total, placed_at) VALUES (1, 'paid', 12.5, '2024-06-01'), (2, 'shipped', 0, '2030-01-01');
      INSERT INTO sales.events_nopk SELECT at, kind, payload FROM sales.events_nopk LIMIT 5;
      UPDATE "Reporting Dept"."Daily Totals" SET "Amount" = 'NaN' WHERE "Region" = 'R1' AND "Day" < '2024-02-01';
      INSERT INTO sales.categories VALUES (5, 4, 'forward ref'), (4, 1, 'parent later');`),
    );
    const sub = await task('subscribe', jobId, db);
    await withClient(source, db, (c) => c.query(`UPDATE sales.orders SET status = 'cancelled' WHERE id % 103 = 0;`));
    await waitForSlotConfirmed(db, String(sub.output.slot));
    const [s, t] = await Promise.all([fingerprintTables(source, db), fingerprintTables(target, db)]);
    expect(t.size).toBeGreaterThan(5);
    expect(t).toEqual(s);
    await task('cleanup', jobId, db);
    expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
  });

  it('PLAN.trackDdl: the snapshot sets up DDL capture, a column added on the source reaches the target by itself, cleanup removes it', async () => {
    const db = await sourceDatabase('task_ddl');
    await withClient(source, db, (c) =>
      c.query(
        'CREATE TABLE orders (id int PRIMARY KEY, amount int); INSERT INTO orders SELECT i, i FROM generate_series(1, 200) i;',
      ),
    );
    const jobId = `ddl_${db.slice(-8)}`;
    const plan = { trackDdl: true };
    await task('snapshot', jobId, db, plan);
    expect((await store.getCheckpoint(jobId, db))!.trackDdl).toBe(true);
    const sub = await task('subscribe', jobId, db, plan);
    await withClient(source, db, (c) =>
      c.query('ALTER TABLE orders ADD COLUMN c int DEFAULT 7; INSERT INTO orders VALUES (201, 201, 9)'),
    );
    await waitForSlotConfirmed(db, String(sub.output.slot));
    expect(
      await withClient(
        target,
        db,
        async (c) =>
          (await c.query<{ n: number; s: number }>('SELECT count(*)::int AS n, sum(c)::int AS s FROM orders')).rows[0],
      ),
    ).toEqual({ n: 201, s: 200 * 7 + 9 });
    const ours = (cluster: ClusterInfo) =>
      withClient(cluster, db, async (c) =>
        (
          await c.query<{ x: string }>(
            "SELECT 'event trigger' AS x FROM pg_event_trigger UNION ALL SELECT 'schema' FROM pg_namespace WHERE nspname ~ '^dbr_.+_ddl$'",
          )
        ).rows
          .map((r) => r.x)
          .sort(),
      );
    expect(await ours(source)).toEqual(['event trigger', 'schema']);
    expect(await ours(target)).toEqual(['schema']);
    await task('cleanup', jobId, db, plan);
    expect(await ours(source)).toEqual([]);
    expect(await ours(target)).toEqual([]);
  });

  it('a snapshot retried after a crash resumes from the state in the job store', async () => {
    const db = await sourceDatabase('task_resume');
    await withClient(source, db, (c) =>
      c.query(`
      CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text);
      INSERT INTO a SELECT i, 'a' || i FROM generate_series(1, 1000) i; INSERT INTO b SELECT i, 'b' || i FROM generate_series(1, 1000) i;`),
    );
    const jobId = `resume-${db}`;
    await task('snapshot', jobId, db);
    // As if the task died while b was being copied: b's COPY never committed, a's did.
    const { updatedAt: _u, ...entry } = (await store.getJob(jobId))!.databases[db]!;
    const state = (await store.getCheckpoint(jobId, db))!;
    const dbState = state.databases[db]!;
    dbState.done = false;
    delete dbState.copied['public.b'];
    for (const step of ['data', 'largeObjects', 'sequences', 'postData', 'analyze'] as const)
      delete dbState.steps[step];
    await store.saveCheckpoint(jobId, state, db);
    await store.updateDatabaseProgress(jobId, db, { ...entry, state: 'FAILED' });
    await withClient(target, db, (c) => c.query('TRUNCATE b'));
    await withClient(source, db, (c) =>
      c.query(
        `INSERT INTO a VALUES (1001, 'late'); UPDATE b SET v = 'changed' WHERE id <= 10; DELETE FROM b WHERE id > 990;`,
      ),
    );

    const retry = await task('snapshot', jobId, db);
    expect(retry.output).toMatchObject({ resumed: true, resynced: ['public.b'], subscription: retry.output.slot });
    expect((await store.getJob(jobId))!.databases[db]).toMatchObject({ state: 'RUNNING', phase: 'Snapshot copied' });
    expect((await task('subscribe', jobId, db)).output).toMatchObject({ action: 'unchanged' });
    await waitForSlotConfirmed(db, String(retry.output.slot));
    expect(await fingerprintTables(target, db)).toEqual(await fingerprintTables(source, db));
    await task('cleanup', jobId, db);
  });

  it('runs as a child process with the task definition variables, a local job store and a Secrets Manager endpoint', async () => {
    const db = await sourceDatabase('task_child');
    await withClient(source, db, (c) =>
      c.query(
        `CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 500) i;`,
      ),
    );
    const secretsById = new Map([
      [ARN('child-src'), clusterUrl(source, db)],
      [ARN('child-tgt'), clusterUrl(target, 'postgres')],
    ]);
    const requests: string[] = [];
    // Secrets Manager's JSON protocol: POST / with X-Amz-Target: secretsmanager.GetSecretValue.
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        requests.push(String(req.headers['x-amz-target']));
        const id = (JSON.parse(body) as { SecretId: string }).SecretId;
        const url = secretsById.get(id);
        res.writeHead(url ? 200 : 400, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(
          JSON.stringify(
            url
              ? { ARN: id, Name: id, SecretString: JSON.stringify({ url }) }
              : { __type: 'ResourceNotFoundException', message: 'not found' },
          ),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const stateDir = mkdtempSync(join(tmpdir(), 'dbr-task-child-'));
    dirs.push(stateDir);
    const entry = fileURLToPath(new URL('../../containers/replicator/entrypoint.ts', import.meta.url));
    const env = {
      JOB_ID: 'child-job',
      DATABASE: db,
      SOURCE_SECRET_ARN: ARN('child-src'),
      TARGET_SECRET_ARN: ARN('child-tgt'),
      PLAN: '{"jobs": 2}',
      STATE_DIR: stateDir,
      AWS_REGION: 'eu-west-1',
      LOG_LEVEL: 'info',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      PGPASSWORD: undefined,
    };
    const child = (subcommand: string) =>
      execa(process.execPath, [entry, subcommand], {
        env,
        extendEnv: true,
        reject: false,
        stdin: 'ignore',
        timeout: 120_000,
      });
    try {
      const snap = await child('snapshot');
      expect(snap.exitCode, String(snap.stderr)).toBe(0);
      expect(JSON.parse(String(snap.stdout))).toMatchObject({
        ok: true,
        jobId: 'child-job',
        database: db,
        subcommand: 'snapshot',
        tables: 1,
        rows: 500,
      });
      expect(requests).toEqual(['secretsmanager.GetSecretValue', 'secretsmanager.GetSecretValue']);
      const local = new LocalFileJobStore(stateDir);
      expect((await local.getJob('child-job'))!.databases[db]).toMatchObject({
        phase: 'Snapshot copied',
        rowsCopied: 500,
      });
      expect(await fingerprintTables(target, db)).toEqual(await fingerprintTables(source, db));
      expect((await replicationObjectsOnSource(source, db)).slots).toHaveLength(1);

      const clean = await child('cleanup');
      expect(clean.exitCode, String(clean.stderr)).toBe(0);
      expect(await replicationObjectsOnSource(source, db)).toEqual({ slots: [], publications: [] });
      expect((await local.listSteps('child-job')).map((st) => `${st.step}:${st.state}`)).toEqual([
        'snapshot:SUCCEEDED',
        'cleanup:SUCCEEDED',
      ]);
      for (const password of passwords)
        expect(`${snap.stdout}${snap.stderr}${clean.stdout}${clean.stderr}`).not.toContain(password);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
