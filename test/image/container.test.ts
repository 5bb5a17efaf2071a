// The Fargate image reproduced without Docker (issue #17): a temporary folder outside the repository
// holding exactly what containers/replicator/Dockerfile copies, its `npm ci --omit=dev --ignore-scripts`,
// and the entry point run from there as the task runs it: the task definition's environment from the
// synthesized template plus the workflow's per-run overrides, Secrets Manager on a local stub, the job
// table on dynalite, and only the image's PostgreSQL client programs. It fails when the runtime needs a
// devDependency, a file the Dockerfile does not copy, or a program the client package lacks.
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findPostgresBinDir } from '../../src/pgtools/binaries.ts';
import { replicationObjectName } from '../../src/jobs/naming.ts';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { dropReplicationObjects, fingerprintTables, replicationObjectsOnSource } from '../support/compare.ts';
import { createTestDatabase, withClient } from '../support/db.ts';
import { repoRoot } from '../infra/cdk-context.ts';
import { resourcesOf, synth } from '../infra/synth.ts';
import {
  offlineAwsEnvironment,
  startJobTableStub,
  startSecretsStub,
  type DynamoStub,
  type SecretsStub,
} from './aws-stub.ts';
import { assembleImageApp, CLIENT_PACKAGE_PROGRAMS, dockerfileCopies } from './image.ts';

const { source, target } = inject('clusters');
const ARN = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:database-replicator/${name}-AbCdEf`;
const TABLE = 'smoke-jobs';

let app: { appDir: string; root: string };
let secrets: SecretsStub;
let dynamo: DynamoStub;
let toolLog: string;
let wrappers: string;
let database: string;
let taskEnvironment: Record<string, string>;
const secretValues = new Map<string, string>();

/** The task definition's own environment as deployed (JOB_TABLE is a reference to the table: the local one here). */
function taskDefinitionEnvironment(): Record<string, string> {
  const [[, taskDefinition]] = resourcesOf(synth().json, 'AWS::ECS::TaskDefinition') as [
    [string, { ContainerDefinitions: { Environment?: { Name: string; Value: unknown }[] }[] }],
  ];
  const env = taskDefinition.ContainerDefinitions[0]!.Environment ?? [];
  return Object.fromEntries(env.map(({ Name, Value }) => [Name, Name === 'JOB_TABLE' ? TABLE : String(Value)]));
}

/** The PostgreSQL client programs of the image, each logging its own name before it runs the real one. */
function clientProgramWrappers(root: string): string {
  const real = findPostgresBinDir(['pg_dump', 'pg_restore', 'pg_dumpall', 'psql']).dir;
  const dir = join(root, 'usr-lib-postgresql-bin');
  mkdirSync(dir);
  toolLog = join(root, 'programs.log');
  for (const program of CLIENT_PACKAGE_PROGRAMS) {
    const path = join(dir, program);
    writeFileSync(path, `#!/bin/sh\necho ${program} >> '${toolLog}'\nexec '${join(real, program)}' "$@"\n`);
    chmodSync(path, 0o755);
  }
  return dir;
}

beforeAll(async () => {
  taskEnvironment = taskDefinitionEnvironment();
  app = await assembleImageApp(repoRoot);
  wrappers = clientProgramWrappers(app.root);
  secrets = await startSecretsStub(secretValues);
  dynamo = await startJobTableStub(TABLE);
  database = (await createTestDatabase(source, 'image_smoke')).name;
  await withClient(source, database, (c) =>
    c.query(`CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL, at timestamptz DEFAULT now());
    CREATE SEQUENCE tickets; INSERT INTO items (id, label) SELECT i, 'item ' || i FROM generate_series(1, 2000) i;`),
  );
}, 360_000);

afterAll(async () => {
  if (database) await dropReplicationObjects(source, target, database).catch(() => undefined);
  await secrets?.close();
  await dynamo?.close();
  if (app) rmSync(app.root, { recursive: true, force: true });
});

/** Runs `node containers/replicator/entrypoint.ts <subcommand>` in the image's folder as the task would run. */
function runTask(subcommand: string, overrides: Record<string, string>) {
  return execa(process.execPath, ['containers/replicator/entrypoint.ts', subcommand], {
    cwd: app.appDir,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: 180_000,
    env: {
      // The image's own: its PATH (node in /usr/local/bin there), HOME of user node, ENV NODE_ENV.
      PATH: `${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: app.root,
      NODE_ENV: 'production',
      DATABASE_REPLICATOR_PG_BINDIR: wrappers,
      ...offlineAwsEnvironment({ SECRETS_MANAGER: secrets.url, DYNAMODB: dynamo.url }),
      ...taskEnvironment,
      ...overrides,
    },
  });
}

describe('the Fargate image, reproduced without Docker', () => {
  it('holds exactly what the Dockerfile copies: the package files, src/ and containers/replicator/, nothing of the CDK', () => {
    expect(dockerfileCopies(repoRoot).copies.map((c) => c.from)).toEqual([
      'package.json',
      'package-lock.json',
      'src/',
      'containers/replicator/',
    ]);
    const installed = JSON.parse(readFileSync(join(app.appDir, 'node_modules', '.package-lock.json'), 'utf8')) as {
      packages: Record<string, unknown>;
    };
    const names = Object.keys(installed.packages).map((p) => p.replace(/^.*node_modules\//, ''));
    for (const devOnly of [
      'aws-cdk-lib',
      'constructs',
      'cdk-nag',
      'vitest',
      'typescript',
      'esbuild',
      'aws-sdk-client-mock',
    ])
      expect(names, `${devOnly} must not be in the image`).not.toContain(devOnly);
  });

  it(
    'snapshots and subscribes a database from there, with the task definition environment and Secrets Manager on a local stub',
    { timeout: 240_000 },
    async () => {
      // The source secret in the {url} shape, the target in the RDS shape (the task picks the database itself).
      secretValues.set(ARN('smoke-source'), JSON.stringify({ url: clusterUrl(source, 'postgres') }));
      secretValues.set(
        ARN('smoke-target'),
        JSON.stringify({
          username: target.user,
          password: target.password,
          host: target.host,
          port: target.port,
          dbname: 'postgres',
          engine: 'postgres',
        }),
      );
      const jobId = `smoke_${database.slice(-8)}`;
      const overrides = {
        JOB_ID: jobId,
        DATABASE: database,
        SOURCE_SECRET_ARN: ARN('smoke-source'),
        TARGET_SECRET_ARN: ARN('smoke-target'),
        SOURCE_ENDPOINT: '',
        TARGET_ENDPOINT: '',
        PLAN: JSON.stringify({ jobs: 2 }),
      };
      const snapshot = await runTask('snapshot', overrides);
      const problem = (step: string, r: { exitCode?: number; stderr: unknown }) => {
        const stderr = String(r.stderr);
        const missing = /Cannot find (?:package|module) '([^']+)'/.exec(stderr)?.[1];
        const why = missing
          ? `the image lacks ${missing}: ${missing.startsWith('/') || missing.startsWith('.') ? 'a file the Dockerfile does not COPY' : 'a package npm ci --omit=dev leaves out (a devDependency, or not in package.json at all)'}`
          : 'a missing runtime dependency, a file the Dockerfile does not copy, or a program the image lacks?';
        return `${step} exited ${r.exitCode} in the image folder (${why}):\n${stderr.split('\n').slice(-20).join('\n')}`;
      };
      expect(snapshot.exitCode, problem('snapshot', snapshot)).toBe(0);
      // The task's stdout: its metrics as CloudWatch embedded-metric lines, then one result line.
      const lines = (stdout: unknown) =>
        String(stdout)
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      const result = (stdout: unknown) =>
        lines(stdout)
          .filter((l) => !('_aws' in l))
          .at(-1);
      expect(lines(snapshot.stdout).some((l) => '_aws' in l && 'CopyRowsCopied' in l)).toBe(true);
      expect(result(snapshot.stdout)).toMatchObject({
        ok: true,
        jobId,
        database,
        subcommand: 'snapshot',
        tables: 1,
        rows: 2000,
      });

      const subscribe = await runTask('subscribe', overrides);
      expect(subscribe.exitCode, problem('subscribe', subscribe)).toBe(0);
      expect(result(subscribe.stdout)).toMatchObject({
        ok: true,
        subcommand: 'subscribe',
        action: 'created',
        slot: replicationObjectName(jobId, database),
      });

      // Streaming: a change after the hand-off arrives.
      await withClient(source, database, (c) =>
        c.query(`INSERT INTO items (id, label) VALUES (2001, 'after subscribe')`),
      );
      for (let i = 0; i < 300; i++) {
        const rows = await withClient(target, database, (c) => c.query('SELECT 1 FROM items WHERE id = 2001'));
        if (rows.rowCount) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await fingerprintTables(target, database)).toEqual(await fingerprintTables(source, database));
      expect((await replicationObjectsOnSource(source, database)).slots).toHaveLength(1);

      const used = [...new Set(readFileSync(toolLog, 'utf8').split('\n').filter(Boolean))].sort();
      expect(used).toEqual(expect.arrayContaining(['pg_dump', 'pg_restore']));
      for (const program of used) expect(CLIENT_PACKAGE_PROGRAMS).toContain(program);
      for (const password of [source.password, target.password])
        expect(`${snapshot.stdout}${snapshot.stderr}${subscribe.stdout}${subscribe.stderr}`).not.toContain(password);
    },
  );
});
