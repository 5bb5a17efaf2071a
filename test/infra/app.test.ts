import { RemovalPolicy } from 'aws-cdk-lib';
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SECRETS_PREFIX, DEFAULT_STACK_NAME, readAppSettings } from '../../infra/lib/app-settings.ts';
import { REQUIRE_SHIM } from '../../infra/lib/replicator-function.ts';
import { cdkContext, cdkJson, repoRoot, testApp } from './cdk-context.ts';

const outDir = mkdtempSync(join(tmpdir(), 'dbr-cdk-'));
/** A stand-in for the RDS global bundle the deployer provides. */
const CA_BUNDLE = join(repoRoot, 'test/infra/fixtures/test-ca-bundle.pem');
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

/**
 * Runs the app command from cdk.json the way the CDK CLI does (context and output directory through
 * the environment), offline, without credentials or Docker. The Node running the tests stands in for
 * `node`, so the type stripping the app relies on is the one under test.
 */
function synthApp(context: Record<string, unknown> = {}) {
  const [command, ...args] = cdkJson.app.split(' ');
  return execa(command === 'node' ? process.execPath : command!, args, {
    cwd: repoRoot,
    reject: false,
    env: {
      CDK_OUTDIR: outDir,
      CDK_CONTEXT_JSON: JSON.stringify(cdkContext(context)),
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_REGION: undefined,
      AWS_DEFAULT_REGION: undefined,
      // Any Docker use (image build, bundling in a container) would fail: synth needs none.
      CDK_DOCKER: '/nonexistent/docker',
    },
  });
}

function settings(context: Record<string, unknown>) {
  return readAppSettings(testApp(context).node);
}

describe('cdk.json', () => {
  it('runs the TypeScript app directly on Node, without a compile step', () => {
    expect(cdkJson.app).toBe('node infra/bin/app.ts');
  });
});

describe('app context', () => {
  it('defaults: stack DatabaseReplicator, data retained, a new VPC, secrets under database-replicator/, a 1 vCPU 2 GiB x86_64 task', () => {
    expect(settings({})).toEqual({
      stackName: DEFAULT_STACK_NAME,
      removalPolicy: RemovalPolicy.RETAIN,
      secrets: { namePrefix: 'database-replicator/' },
      task: { cpu: 1024, memoryMiB: 2048, architecture: 'x86_64' },
    });
    expect(DEFAULT_STACK_NAME).toBe('DatabaseReplicator');
    expect(DEFAULT_SECRETS_PREFIX).toBe('database-replicator/');
  });

  it('reads every option from the command line (strings) and from cdk.json (JSON values)', () => {
    const fromCli = settings({
      vpcId: 'vpc-0123456789abcdef0',
      subnetIds: 'subnet-01234567, subnet-89abcdef',
      securityGroupId: 'sg-01234567',
      secretArns:
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:a-AbCdEf,arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1-GhIjKl',
      taskCpu: '4096',
      taskMemory: '16384',
      taskArchitecture: 'arm64',
      alarmEmail: 'dba@example.com',
      imageRepository: 'team/database-replicator',
      imageTag: 'v2',
    });
    expect(fromCli).toMatchObject({
      network: {
        vpcId: 'vpc-0123456789abcdef0',
        subnetIds: ['subnet-01234567', 'subnet-89abcdef'],
        securityGroupId: 'sg-01234567',
      },
      secrets: {
        secretArns: [
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:a-AbCdEf',
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1-GhIjKl',
        ],
      },
      task: { cpu: 4096, memoryMiB: 16384, architecture: 'arm64' },
      alarmEmail: 'dba@example.com',
      image: { repositoryName: 'team/database-replicator', tag: 'v2' },
    });
    expect(settings({ rdsCaBundle: CA_BUNDLE }).rdsCaBundle).toBe(CA_BUNDLE);
    const fromJson = settings({
      subnetIds: ['subnet-01234567'],
      vpcId: 'vpc-01234567',
      securityGroupId: 'sg-01234567',
      taskCpu: 512,
      taskMemory: 1024,
      secretsPrefix: 'rds!',
    });
    expect(fromJson).toMatchObject({
      network: { subnetIds: ['subnet-01234567'] },
      task: { cpu: 512, memoryMiB: 1024 },
      secrets: { namePrefix: 'rds!' },
    });
    expect(
      settings({ subnetIds: '["subnet-01234567"]', vpcId: 'vpc-01234567', securityGroupId: 'sg-01234567' }).network
        ?.subnetIds,
    ).toEqual(['subnet-01234567']);
  });

  it.each([
    [
      { vpcId: 'vpc-01234567' },
      'Context vpcId, subnetIds and securityGroupId go together: pass all three to use an existing VPC, or none to let the stack create one.',
    ],
    [
      { vpcId: 'vpc-01234567', subnetIds: 'subnet-01234567' },
      'Context vpcId, subnetIds and securityGroupId go together',
    ],
    [{ vpcId: 'my-vpc' }, 'Context vpcId "my-vpc" is not valid: pass -c vpcId=vpc-0123456789abcdef0'],
    [
      { subnetIds: 'subnet-01234567,subnet-01234567' },
      'Context subnetIds "subnet-01234567,subnet-01234567" is not valid',
    ],
    [{ subnetIds: '' }, 'Context subnetIds "" is not valid'],
    [{ securityGroupId: 'sg-1' }, 'Context securityGroupId "sg-1" is not valid'],
    [
      { secretsPrefix: 'db/*' },
      'Context secretsPrefix "db/*" is not valid: pass -c secretsPrefix=<start of the secret names>',
    ],
    [
      { secretArns: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:a' },
      'Context secretArns "arn:aws:secretsmanager:eu-west-1:123456789012:secret:a" is not valid',
    ],
    [
      { secretsPrefix: 'a/', secretArns: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:a-AbCdEf' },
      'Context secretsPrefix and secretArns exclude each other',
    ],
    [
      { taskCpu: '1000' },
      'Context taskCpu 1000 is not a Fargate CPU value: use one of 256, 512, 1024, 2048, 4096, 8192, 16384.',
    ],
    [
      { taskCpu: 256, taskMemory: 4096 },
      'Context taskMemory 4096 does not go with taskCpu 256: Fargate allows 512, 1024, 2048 MiB for it.',
    ],
    [{ taskMemory: '2GB' }, 'Context taskMemory "2GB" is not valid: pass -c taskMemory=<MiB>, such as 2048.'],
    [{ taskArchitecture: 'arm' }, 'Context taskArchitecture "arm" is not valid'],
    [{ alarmEmail: 'ops' }, 'Context alarmEmail "ops" is not valid: pass -c alarmEmail=<address>'],
    [{ imageTag: 'v1' }, 'Context imageRepository and imageTag go together'],
    [{ imageRepository: 'UPPER', imageTag: 'v1' }, 'Context imageRepository "UPPER" is not valid'],
    [
      { rdsCaBundle: '/nowhere/global-bundle.pem' },
      'Context rdsCaBundle: The RDS CA bundle /nowhere/global-bundle.pem does not exist',
    ],
    [{ rdsCaBundle: join(repoRoot, 'package.json') }, 'is not a PEM file of certificates'],
  ])('refuses %j with one sentence', (context, message) => {
    expect(() => settings(context)).toThrow(message);
  });

  it('takes a stack name and retainData from the command line (strings) or cdk.json (JSON values)', () => {
    expect(settings({ stackName: 'Replicator-Staging2', retainData: 'false' })).toMatchObject({
      stackName: 'Replicator-Staging2',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    expect(settings({ retainData: false }).removalPolicy).toBe(RemovalPolicy.DESTROY);
    expect(settings({ retainData: 'true' }).removalPolicy).toBe(RemovalPolicy.RETAIN);
    expect(settings({ stackName: 'A'.repeat(128) }).stackName).toHaveLength(128);
  });

  it.each([['9starts-with-digit'], ['has space'], ['under_score'], [''], ['A'.repeat(129)], [42]])(
    'refuses the stack name %j',
    (stackName) => {
      expect(() => settings({ stackName })).toThrow(
        `Context stackName ${JSON.stringify(stackName)} is not a valid CloudFormation stack name: pass -c stackName=<name> with a letter first, then letters, digits or hyphens, at most 128 characters.`,
      );
    },
  );

  it.each([['yes'], [''], [1]])('refuses retainData %j', (retainData) => {
    expect(() => settings({ retainData })).toThrow(
      `Context retainData ${JSON.stringify(retainData)} is not valid: pass -c retainData=true`,
    );
  });
});

describe('the CDK app in cdk.json', () => {
  it('synthesizes the stack offline, without Docker, bundling each function as an ESM module, cdk-nag passing', async () => {
    const run = await synthApp({ stackName: 'ReplicatorTest', rdsCaBundle: CA_BUNDLE });
    expect(run.exitCode, String(run.stderr)).toBe(0);
    const template = JSON.parse(readFileSync(join(outDir, 'ReplicatorTest.template.json'), 'utf8')) as {
      Resources: Record<
        string,
        {
          Type: string;
          Properties: {
            Code?: { S3Key?: string };
            Content?: { S3Key?: string };
            Description?: string;
            Layers?: unknown[];
            VpcConfig?: unknown;
          };
        }
      >;
      Outputs: Record<string, unknown>;
    };
    const types = Object.values(template.Resources).map((r) => r.Type);
    for (const type of [
      'AWS::DynamoDB::GlobalTable',
      'AWS::ECS::TaskDefinition',
      'AWS::StepFunctions::StateMachine',
      'AWS::Scheduler::ScheduleGroup',
      'AWS::SNS::Topic',
    ])
      expect(types).toContain(type);
    expect(template.Outputs).toHaveProperty('ReplicateStateMachineArn');
    // No policy finding: the validation report lists no plugin failure.
    const report = JSON.parse(readFileSync(join(outDir, 'validation-report.json'), 'utf8')) as {
      pluginReports: unknown[];
    };
    expect(report.pluginReports).toEqual([]);
    // Each workflow function's asset is an ESM bundle that gives CommonJS dependencies a require().
    const functions = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Description?.startsWith('database-replicator:'),
    );
    expect(functions).toHaveLength(7);
    // The RDS CA bundle the deployer gave, at /opt/rds-ca/global-bundle.pem in the functions that connect.
    const [layerId, layer] = Object.entries(template.Resources).find(
      ([, r]) => r.Type === 'AWS::Lambda::LayerVersion',
    )!;
    const layerDir = join(outDir, `asset.${layer.Properties.Content!.S3Key!.replace(/\.zip$/, '')}`);
    expect(readFileSync(join(layerDir, 'rds-ca', 'global-bundle.pem'), 'utf8')).toBe(readFileSync(CA_BUNDLE, 'utf8'));
    for (const fn of functions)
      expect(fn.Properties.Layers ?? [], fn.Properties.Description).toEqual(
        fn.Properties.VpcConfig ? [{ Ref: layerId }] : [],
      );
    for (const fn of functions) {
      const dir = join(outDir, `asset.${fn.Properties.Code!.S3Key!.replace(/\.zip$/, '')}`);
      expect(readdirSync(dir).sort()).toEqual(['index.mjs', 'index.mjs.map']);
      expect(readFileSync(join(dir, 'index.mjs'), 'utf8').startsWith(REQUIRE_SHIM)).toBe(true);
      // It loads with plain Node, outside the repository (no node_modules to fall back on).
      const load = await execa(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(join(dir, 'index.mjs'))}); if (typeof m.handler !== 'function') process.exit(3);`,
        ],
        {
          cwd: tmpdir(),
          reject: false,
          env: { AWS_REGION: 'eu-west-1' },
        },
      );
      expect(load.exitCode, String(load.stderr)).toBe(0);
    }
    // A whole synth with seven esbuild bundles and cdk-nag: up to three minutes on a busy 2-core machine.
  }, 240_000);

  it('refuses a bad context value with one sentence and a non-zero exit, not a stack trace', async () => {
    const run = await synthApp({ stackName: '9 bad name' });
    expect(run.exitCode).toBe(1);
    expect(String(run.stderr).trim()).toBe(
      'Context stackName "9 bad name" is not a valid CloudFormation stack name: pass -c stackName=<name> with a letter first, then letters, digits or hyphens, at most 128 characters.',
    );
  });
});
