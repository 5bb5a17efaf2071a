// End to end in remote mode: the CLI (init, status, verify, cleanup with --remote) against the
// workflows of statemachines/*.asl.json run in-process by aws-local-stepfunctions, whose Task states
// call the real Lambda logic (lambdas/*.ts) and the Fargate task's logic (src/task/run.ts). Secrets
// Manager is mocked (it keeps what the CLI stores), the job table is dynalite, and the databases are
// the harness clusters: the target must end up equal to the source.
import { readFileSync } from 'node:fs';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkGrants, checkGrantsEvent } from '../../lambdas/check-grants.ts';
import { checkTargetReachesSource, checkTargetReachesSourceEvent } from '../../lambdas/check-target-reaches-source.ts';
import { checkReplication, checkReplicationEvent } from '../../lambdas/check-replication.ts';
import { estimateSize, estimateSizeEvent } from '../../lambdas/estimate-size.ts';
import { recordJob, recordJobEvent } from '../../lambdas/record-job.ts';
import { parseConnectionUrl } from '../../src/connection/url.ts';
import { abortableSleep } from '../../src/remote/follow.ts';
import { deriveJobId, replicationObjectName } from '../../src/jobs/naming.ts';
import { parseTaskConfig } from '../../src/task/config.ts';
import { runTask } from '../../src/task/run.ts';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { dropReplicationObjects, fingerprintTables, replicationObjectsOnSource } from '../support/compare.ts';
import { createTestDatabase, withClient } from '../support/db.ts';
import { LocalExecutions, type TaskHandlers } from '../support/local-executions.ts';
import {
  cli,
  CLEANUP_ARN,
  deploymentEnv,
  REGION,
  REPLICATE_ARN,
  removeTempDirs,
  testIo,
  VERIFY_ARN,
} from '../support/remote.ts';
import { startJobTable, type JobTable } from '../support/job-table.ts';
import { committedWalEnd } from '../../src/catalog/wal.ts';

const { source, target } = inject('clusters');
const sm = mockClient(SecretsManagerClient);
const stored = new Map<string, string>();
const arnOf = (name: string) => `arn:aws:secretsmanager:${REGION}:123456789012:secret:${name}-AbCdEf`;
const nameOf = (secretId: string) =>
  secretId.startsWith('arn:') ? secretId.split(':secret:')[1]!.slice(0, -7) : secretId;
/** The file with its service integrations in the aws partition, as CloudFormation fills it in there. */
const definition = (name: string) =>
  JSON.parse(
    readFileSync(new URL(`../../statemachines/${name}.asl.json`, import.meta.url), 'utf8').replaceAll(
      '${Partition}',
      'aws',
    ),
  ) as StateMachineDefinition;

let table: JobTable;
let database: string;
const taskLines: string[] = [];

type Json = Parameters<TaskHandlers[string]>[0];
const secrets = () => new SecretsManagerClient({ region: REGION });
/** A Lambda task state: the function's logic on the Payload, its result under Payload as lambda:invoke returns it. */
const lambda = (fn: (payload: unknown) => Promise<unknown>) => async (input: Json) => ({
  Payload: (await fn((input as { Payload: unknown }).Payload)) as Json,
});
const recordJobState = lambda((payload) => recordJob(recordJobEvent.parse(payload), { store: table.store }));

/** An ecs:runTask.sync state: the container's command and environment, run as the Fargate task would. */
async function fargateTask(input: Json): Promise<Json> {
  const override = (
    input as {
      Overrides: { ContainerOverrides: { Command: string[]; Environment: { Name: string; Value: string }[] }[] };
    }
  ).Overrides.ContainerOverrides[0]!;
  const env = Object.fromEntries(override.Environment.map((e) => [e.Name, e.Value]));
  const config = parseTaskConfig(override.Command, {
    ...env,
    JOB_TABLE: table.tableName,
    JOBS: '2',
    LOG_LEVEL: 'warn',
  });
  const code = await runTask(config, {
    secrets: secrets(),
    store: table.store,
    stdout: (l) => taskLines.push(l),
    stderr: (l) => taskLines.push(l),
  });
  if (code !== 0)
    throw Object.assign(
      new Error(
        JSON.stringify({
          StoppedReason: 'Essential container in task exited',
          Containers: [{ Name: 'replicator', ExitCode: code }],
        }),
      ),
      { name: 'States.TaskFailed' },
    );
  return { StopCode: 'EssentialContainerExited' };
}

const executions = new LocalExecutions({
  [REPLICATE_ARN]: {
    definition: definition('replicate'),
    // Long enough for an apply worker to start on a busy machine: three broken checks in a row fail the run.
    waits: { 'Wait for catch-up': 1000 },
    handlers: {
      'Record job started': recordJobState,
      'Record job succeeded': recordJobState,
      'Record job failed': recordJobState,
      'Check RDS parameter group': () => Promise.reject(new Error('not an RDS source: this state must not run')),
      'Check grants': lambda((p) => checkGrants(checkGrantsEvent.parse(p), { secrets: secrets() })),
      'Check target reaches source': lambda((p) =>
        checkTargetReachesSource(checkTargetReachesSourceEvent.parse(p), { secrets: secrets() }),
      ),
      'Estimate size': lambda((p) => estimateSize(estimateSizeEvent.parse(p), { secrets: secrets() })),
      'Check replication': lambda((p) => checkReplication(checkReplicationEvent.parse(p), { secrets: secrets() })),
      'Copy snapshot': fargateTask,
      'Create subscription': fargateTask,
      'Create verify schedule': () => Promise.reject(new Error('no verify schedule was requested')),
      // The monitor schedule of the job (its fire is tested in test/workflow/replicate.test.ts).
      'Create monitor schedule': async () => ({}),
      'Update monitor schedule': async () => ({}),
    },
  },
  [VERIFY_ARN]: {
    definition: definition('verify'),
    handlers: { 'Run verify': fargateTask, 'Record verify result': recordJobState },
  },
  [CLEANUP_ARN]: {
    definition: definition('cleanup'),
    handlers: {
      'Run cleanup': fargateTask,
      'Delete verify schedule': async () => ({}),
      'Delete monitor schedule': async () => ({}),
      'Record clean-up': recordJobState,
      'Record clean-up failed': recordJobState,
    },
  },
});

beforeAll(async () => {
  table = await startJobTable();
  sm.on(CreateSecretCommand).callsFake((input: { Name: string; SecretString: string }) => {
    if (stored.has(input.Name)) throw new ResourceExistsException({ message: 'exists', $metadata: {} });
    stored.set(input.Name, input.SecretString);
    return { ARN: arnOf(input.Name), Name: input.Name };
  });
  sm.on(PutSecretValueCommand).callsFake((input: { SecretId: string; SecretString: string }) => {
    stored.set(nameOf(input.SecretId), input.SecretString);
    return { ARN: arnOf(nameOf(input.SecretId)) };
  });
  sm.on(GetSecretValueCommand).callsFake((input: { SecretId: string }) => {
    const value = stored.get(nameOf(input.SecretId));
    if (value === undefined) throw new ResourceNotFoundException({ message: 'no such secret', $metadata: {} });
    return { ARN: input.SecretId, SecretString: value };
  });
  database = (await createTestDatabase(source, 'remote')).name;
  await withClient(source, database, (c) =>
    c.query(`
    CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, joined timestamptz NOT NULL DEFAULT now());
    CREATE TABLE orders (id bigserial PRIMARY KEY, customer int NOT NULL REFERENCES customers, total numeric(10,2), tags jsonb);
    CREATE TABLE notes (body text NOT NULL);
    ALTER TABLE notes REPLICA IDENTITY FULL;
    INSERT INTO customers (name) SELECT 'customer ' || i FROM generate_series(1, 300) i;
    INSERT INTO orders (customer, total, tags) SELECT i % 300 + 1, i * 1.25, jsonb_build_object('n', i) FROM generate_series(1, 4000) i;
    INSERT INTO notes SELECT 'note ' || i FROM generate_series(1, 50) i;`),
  );
}, 120_000);

afterAll(async () => {
  await executions.settled();
  await dropReplicationObjects(source, target, database).catch(() => undefined);
  await table?.close();
  removeTempDirs();
});

describe('remote mode end to end on the local workflows', () => {
  it('init, status, verify and cleanup run through the ASL workflows; the target equals the source', async () => {
    const env = deploymentEnv(table.tableName, {
      DATABASE_REPLICATOR_SOURCE_URL: clusterUrl(source, database),
      DATABASE_REPLICATOR_TARGET_URL: clusterUrl(target, 'postgres'),
    });
    const run = (args: string[]) => {
      const io = testIo(env, { table, executions, runtime: { pollMs: 150, sleep: abortableSleep } });
      return cli(args, io).then((code) => ({ code, io }));
    };
    const jobId = deriveJobId(
      parseConnectionUrl(clusterUrl(source, database)),
      parseConnectionUrl(clusterUrl(target, 'postgres')),
    );
    const slot = replicationObjectName(jobId, database);

    const init = await run(['init', '--yes', '--no-roles']);
    expect(init.code, init.io.text() + taskLines.join('\n')).toBe(0);
    const out = init.io.out.join('');
    expect(out).toMatch(
      new RegExp(`Started ${jobId}-init-\\d{8}T\\d{6}Z-[0-9a-f]{4} \\(replicate workflow, job ${jobId}\\)`),
    );
    expect(out).toContain(
      'console: https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn:aws:states:eu-west-1:123456789012:execution:Replicate:',
    );
    expect(out).toMatch(/succeeded after .*Every database is in sync and streaming/);
    expect(init.io.err.join('')).toMatch(/^Running remotely on the AWS deployment/);
    const job = await table.store.getJob(jobId);
    expect(job).toMatchObject({
      state: 'SUCCEEDED',
      source: { secretArn: arnOf(`database-replicator/${jobId}/source`) },
    });
    expect(job!.databases[database]).toMatchObject({ tablesDone: 3, tablesTotal: 3, rowsCopied: 4350 });

    // Changes after the hand-off stream through the subscription the workflow created.
    await withClient(source, database, (c) =>
      c.query(`
      INSERT INTO customers (name) VALUES ('late'); UPDATE orders SET total = total + 1 WHERE id % 7 = 0; DELETE FROM orders WHERE id % 11 = 0;
      INSERT INTO notes VALUES ('after init'); UPDATE notes SET body = body || '!' WHERE body = 'note 3';`),
    );
    await waitForSlotConfirmed(slot);
    const [s, t] = await Promise.all([fingerprintTables(source, database), fingerprintTables(target, database)]);
    expect(t, JSON.stringify([...t]) === JSON.stringify([...s]) ? undefined : await streamingState(slot)).toEqual(s);
    expect(t.get('public.orders')!.rows).toBe(4000 - Math.floor(4000 / 11));

    const status = await run(['status', '--json', '--job-id', jobId]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.io.out.join(''))).toMatchObject({
      mode: 'remote',
      job: { state: 'SUCCEEDED' },
      execution: { workflow: 'replicate', status: 'SUCCEEDED', state: 'Job succeeded' },
    });

    const verify = await run(['verify', '--job-id', jobId]);
    expect(verify.code, verify.io.text() + taskLines.join('\n')).toBe(0);
    expect(verify.io.out.join('')).toContain('Verify passed.');
    expect((await table.store.listVerifyRuns(jobId))[0]).toMatchObject({ database, outcome: 'equal', differences: 0 });

    const cleanup = await run(['cleanup', '--yes', '--job-id', jobId]);
    expect(cleanup.code, cleanup.io.text() + taskLines.join('\n')).toBe(0);
    const slots = await withClient(
      source,
      'postgres',
      async (c) =>
        (await c.query<{ n: string }>('SELECT count(*) AS n FROM pg_replication_slots WHERE slot_name = $1', [slot]))
          .rows[0]!.n,
    );
    expect(Number(slots)).toBe(0);

    // Passwords went into the secrets and nowhere else: not the executions' input, not the output.
    expect(JSON.parse(stored.get(`database-replicator/${jobId}/source`)!)).toEqual({
      url: clusterUrl(source, database),
    });
    const everywhere = [
      ...executions.inputs(),
      init.io.text(),
      status.io.text(),
      verify.io.text(),
      cleanup.io.text(),
      taskLines.join('\n'),
    ].join('\n');
    for (const password of [source.password, target.password]) {
      expect(everywhere).not.toContain(password);
      expect(everywhere).not.toContain(encodeURIComponent(password));
    }
  }, 300_000);

  it('a workflow that fails is reported with its failing state and cause, and exit 1', async () => {
    const missing = arnOf('database-replicator/missing');
    const io = testIo(
      deploymentEnv(table.tableName, { DATABASE_REPLICATOR_TARGET_URL: clusterUrl(target, 'postgres') }),
      { table, executions, runtime: { pollMs: 50, sleep: abortableSleep } },
    );
    expect(
      await cli(
        [
          'init',
          '--yes',
          '--no-roles',
          '--job-id',
          'broken_secret',
          '--source-secret',
          missing,
          '--include-databases',
          database,
        ],
        io,
      ),
    ).toBe(1);
    // Both checks that read the secrets run in parallel and fail alike; the report names one of them.
    expect(io.out.join('')).toMatch(
      new RegExp(
        `broken_secret-init-\\S+ FAILED in state "(Check grants|Check target reaches source)": SecretNotFound: The secret ${missing} does not exist \\(or has no current version\\); check the ARN and the region\\.`,
      ),
    );
    expect(await table.store.getJob('broken_secret')).toMatchObject({
      state: 'FAILED',
      error: expect.stringContaining(`The secret ${missing} does not exist`),
    });
  });
});

describe('the replicate workflow with the source as its target', () => {
  it('stops at "Check grants" on the distinct-databases check, job FAILED, and the source is unchanged (--drop-existing, localhost spelling)', async () => {
    const before = await fingerprintTables(source, database);
    const env = deploymentEnv(table.tableName, {
      DATABASE_REPLICATOR_SOURCE_URL: clusterUrl(source, database),
      DATABASE_REPLICATOR_TARGET_URL: clusterUrl({ ...source, host: 'localhost' }, database),
    });
    const io = testIo(env, { table, executions, runtime: { pollMs: 50, sleep: abortableSleep } });
    expect(
      await cli(['init', '--yes', '--no-roles', '--drop-existing', '--job-id', 'onto_itself'], io),
      io.text(),
    ).toBe(1);
    expect(io.out.join('')).toMatch(
      /onto_itself-init-\S+ FAILED in state "Check grants": ValidationFailed: .*distinct-databases: The target is the source itself/,
    );
    expect(await table.store.getJob('onto_itself')).toMatchObject({ state: 'FAILED' });
    expect(await fingerprintTables(source, database)).toEqual(before);
    expect((await replicationObjectsOnSource(source, database)).slots.filter((s) => s.includes('onto_itself'))).toEqual(
      [],
    );
  });
});

/** What the source publishes and the target subscribes, and what the tasks printed: the story of a stream that lost changes. */
async function streamingState(slot: string): Promise<string> {
  const published = await withClient(
    source,
    database,
    async (c) =>
      (await c.query('SELECT pubname, schemaname, tablename FROM pg_publication_tables ORDER BY 1, 2, 3')).rows,
  );
  const slots = await withClient(
    source,
    database,
    async (c) =>
      (
        await c.query(
          'SELECT slot_name, active, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name LIKE $1',
          [`${slot.slice(0, 20)}%`],
        )
      ).rows,
  );
  const subscriptions = await withClient(
    target,
    database,
    async (c) =>
      (await c.query('SELECT subname, subenabled, subslotname, subpublications::text FROM pg_subscription')).rows,
  );
  const workers = await withClient(
    target,
    database,
    async (c) =>
      (
        await c.query(
          'SELECT subname, pid, received_lsn::text, latest_end_lsn::text, last_msg_receipt_time::text FROM pg_stat_subscription',
        )
      ).rows,
  );
  const origins = await withClient(
    target,
    database,
    async (c) => (await c.query('SELECT external_id, remote_lsn::text FROM pg_replication_origin_status')).rows,
  );
  return JSON.stringify(
    {
      published,
      slots,
      subscriptions,
      workers,
      origins,
      executions: executions.inputs().length,
      task: taskLines.slice(-40),
    },
    null,
    1,
  );
}

async function waitForSlotConfirmed(slot: string): Promise<void> {
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
