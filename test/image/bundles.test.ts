// The Lambda bundles as deployed (issue #17): each lambdas/*.ts built by esbuild with the options
// NodejsFunction gets (infra/lib/lambda-bundling.ts), written to a temporary folder outside the
// repository, loaded in a fresh Node process there (no node_modules to fall back on) and its handler
// invoked: against the harness clusters with Secrets Manager on a local stub, the job table on dynalite.
// Each bundle may take only production dependencies: NodejsFunction would bundle a devDependency too, but
// the project keeps dev tooling out of what it ships.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LAMBDA_MAIN_FIELDS, LAMBDA_TARGET, NEVER_BUNDLED, REQUIRE_SHIM } from '../../infra/lib/lambda-bundling.ts';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { createTestDatabase, dropTestDatabase, withClient } from '../support/db.ts';
import { repoRoot } from '../infra/cdk-context.ts';
import { productionDependencies } from './image.ts';
import {
  offlineAwsEnvironment,
  startJobTableStub,
  startSecretsStub,
  type DynamoStub,
  type SecretsStub,
} from './aws-stub.ts';

const { source, target } = inject('clusters');
const SOURCE_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:database-replicator/bundle-source-AbCdEf';
const TARGET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:database-replicator/bundle-target-GhIjKl';
const TABLE = 'bundle-jobs';
const HANDLERS = readdirSync(join(repoRoot, 'lambdas'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .sort();

let dir: string;
let secrets: SecretsStub;
let dynamo: DynamoStub;
let database: string;
const bundledPackages = new Map<string, string[]>();
let productionPackages: Set<string>;

/** Every package name npm installed (hoisted or nested), from its hidden lock file. */
function installedPackages(folder: string): Set<string> {
  const lock = JSON.parse(readFileSync(join(folder, 'node_modules', '.package-lock.json'), 'utf8')) as {
    packages: Record<string, unknown>;
  };
  return new Set(Object.keys(lock.packages).map((path) => path.replace(/^.*node_modules\//, '')));
}

/** Loads the bundle in a fresh process and calls its handler; prints one JSON line: the result, or the error's name and message. */
const INVOKE = `
import { pathToFileURL } from 'node:url';
const [file, event] = process.argv.slice(2);
const { handler } = await import(pathToFileURL(file).href);
const context = { functionName: 'smoke', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:smoke', memoryLimitInMB: '256',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678', logGroupName: '/aws/lambda/smoke', logStreamName: 's', callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => 60000 };
let line;
try { line = { ok: true, result: await handler(JSON.parse(event), context) }; } catch (error) { line = { ok: false, name: error.name, message: error.message }; }
process.stdout.write('\\nRESULT ' + JSON.stringify(line) + '\\n');
process.exit(0);
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dbr-bundles-'));
  writeFileSync(join(dir, 'invoke.mjs'), INVOKE);
  const built = await Promise.all(
    HANDLERS.map((name) =>
      build({
        entryPoints: [join(repoRoot, 'lambdas', `${name}.ts`)],
        outfile: join(dir, name, 'index.mjs'),
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: LAMBDA_TARGET,
        mainFields: LAMBDA_MAIN_FIELDS,
        banner: { js: REQUIRE_SHIM },
        external: NEVER_BUNDLED,
        minify: true,
        sourcemap: true,
        logLevel: 'silent',
        metafile: true,
      }),
    ),
  );
  for (const [i, name] of HANDLERS.entries()) {
    bundledPackages.set(
      name,
      [
        ...new Set(
          Object.keys(built[i]!.metafile.inputs).flatMap(
            (input) => /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? [],
          ),
        ),
      ].sort(),
    );
  }
  productionPackages = installedPackages(await productionDependencies(repoRoot));
  database = (await createTestDatabase(source, 'bundles')).name;
  await withClient(source, database, (c) =>
    c.query(
      'CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT i, i::text FROM generate_series(1, 100) i; ANALYZE items;',
    ),
  );
  secrets = await startSecretsStub(
    new Map([
      [SOURCE_ARN, JSON.stringify({ url: clusterUrl(source, database) })],
      [
        TARGET_ARN,
        JSON.stringify({
          username: target.user,
          password: target.password,
          host: target.host,
          port: target.port,
          engine: 'postgres',
        }),
      ],
    ]),
  );
  dynamo = await startJobTableStub(TABLE);
}, 360_000);

afterAll(async () => {
  await secrets?.close();
  await dynamo?.close();
  if (database) await dropTestDatabase(source, database);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function invoke(
  name: string,
  event: object,
): Promise<{ ok: boolean; result?: unknown; name?: string; message?: string }> {
  const run = await execa(
    process.execPath,
    [join(dir, 'invoke.mjs'), join(dir, name, 'index.mjs'), JSON.stringify(event)],
    {
      cwd: dir,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      timeout: 60_000,
      env: {
        PATH: '/usr/bin:/bin',
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: `database-replicator-${name}`,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        JOB_TABLE: TABLE,
        AWS_LAMBDA_FUNCTION_NAME: name,
        ...offlineAwsEnvironment({ SECRETS_MANAGER: secrets.url, DYNAMODB: dynamo.url, RDS: secrets.url }),
      },
    },
  );
  const line = /^RESULT (.*)$/m.exec(String(run.stdout))?.[1];
  if (!line)
    throw new Error(
      `The ${name} bundle did not load or run in a fresh Node process outside the repository (exit ${run.exitCode}):\n${String(run.stderr).split('\n').slice(0, 15).join('\n')}`,
    );
  return JSON.parse(line) as { ok: boolean; result?: unknown; name?: string; message?: string };
}

const endpoints = () => ({
  jobId: 'bundle_smoke',
  sourceSecretArn: SOURCE_ARN,
  targetSecretArn: TARGET_ARN,
  databases: [database],
});
/** The event each handler gets, and what must come back: a result, or (where the harness has nothing for it to find) the function's own named error. */
const CASES: Record<string, { event: () => object; expect: 'result' | RegExp }> = {
  'check-grants': { event: endpoints, expect: 'result' },
  'estimate-size': { event: endpoints, expect: 'result' },
  'check-target-reaches-source': { event: endpoints, expect: 'result' },
  // No replication was set up: it connects to both sides and finds no slot.
  'check-replication': {
    event: () => ({
      jobId: 'bundle_smoke',
      database,
      sourceSecretArn: SOURCE_ARN,
      targetSecretArn: TARGET_ARN,
      slot: 'dbr_bundle_smoke_x',
      subscription: 'dbr_bundle_smoke_x',
    }),
    expect: /^(?!InvalidEvent$)/,
  },
  'record-job': {
    event: () => ({
      action: 'started',
      input: { jobId: 'bundle_smoke', sourceSecretArn: SOURCE_ARN, targetSecretArn: TARGET_ARN, databases: [database] },
    }),
    expect: 'result',
  },
  // RDS answers from a stub that knows no instance: the SDK's RDS client ran inside the bundle.
  'check-rds-parameter-group': {
    event: () => ({ jobId: 'bundle_smoke', source: { instanceIdentifier: 'smoke-db' } }),
    expect: /^DBInstanceNotFound/,
  },
  // No replication was set up: it reads a missing slot on the source, publishes the readings and returns them.
  'monitor-replication': { event: endpoints, expect: 'result' },
};

describe('the Lambda bundles, loaded in a fresh Node process outside the repository', () => {
  it('covers every handler file in lambdas/', () => {
    expect(Object.keys(CASES).sort()).toEqual(HANDLERS);
  });

  it.each(HANDLERS)('%s bundles only production dependencies (what npm ci --omit=dev installs)', (name) => {
    const devOnly = bundledPackages.get(name)!.filter((pkg) => !productionPackages.has(pkg));
    expect(
      devOnly,
      `the ${name} bundle takes ${devOnly.join(', ')} from devDependencies: move it to dependencies`,
    ).toEqual([]);
  });

  it.each(HANDLERS)('%s loads and its handler runs', async (name) => {
    const c = CASES[name]!;
    const outcome = await invoke(name, c.event());
    expect(`${outcome.name ?? ''} ${outcome.message ?? ''}`).not.toMatch(
      /Cannot find (package|module)|Dynamic require|ERR_MODULE_NOT_FOUND|is not a function|is not defined/,
    );
    if (c.expect === 'result') expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true });
    else expect(outcome.ok || c.expect.test(String(outcome.name)), JSON.stringify(outcome)).toBe(true);
  });
});
