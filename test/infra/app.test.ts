import { App, RemovalPolicy } from 'aws-cdk-lib';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_STACK_NAME, readAppSettings } from '../../infra/lib/app-settings.ts';
import { cdkContext, cdkJson, repoRoot } from './cdk-context.ts';

const outDir = mkdtempSync(join(tmpdir(), 'dbr-cdk-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

/**
 * Runs the app command from cdk.json the way the CDK CLI does (context and output directory through
 * the environment), offline and without credentials. The Node running the tests stands in for
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
      AWS_PROFILE: undefined,
    },
  });
}

function settings(context: Record<string, unknown>) {
  return readAppSettings(new App({ context }).node);
}

describe('cdk.json', () => {
  it('runs the TypeScript app directly on Node, without a compile step', () => {
    expect(cdkJson.app).toBe('node infra/bin/app.ts');
  });
});

describe('app context', () => {
  it('names the stack DatabaseReplicator and retains data unless told otherwise', () => {
    expect(settings({})).toEqual({ stackName: DEFAULT_STACK_NAME, removalPolicy: RemovalPolicy.RETAIN });
    expect(DEFAULT_STACK_NAME).toBe('DatabaseReplicator');
  });

  it('takes a stack name and retainData from the command line (strings) or cdk.json (JSON values)', () => {
    expect(settings({ stackName: 'Replicator-Staging2', retainData: 'false' })).toEqual({ stackName: 'Replicator-Staging2', removalPolicy: RemovalPolicy.DESTROY });
    expect(settings({ retainData: false }).removalPolicy).toBe(RemovalPolicy.DESTROY);
    expect(settings({ retainData: 'true' }).removalPolicy).toBe(RemovalPolicy.RETAIN);
    expect(settings({ stackName: 'A'.repeat(128) }).stackName).toHaveLength(128);
  });

  it.each([['9starts-with-digit'], ['has space'], ['under_score'], [''], ['A'.repeat(129)], [42]])('refuses the stack name %j', (stackName) => {
    expect(() => settings({ stackName })).toThrow(
      `Context stackName ${JSON.stringify(stackName)} is not a valid CloudFormation stack name: pass -c stackName=<name> with a letter first, then letters, digits or hyphens, at most 128 characters.`,
    );
  });

  it.each([['yes'], [''], [1]])('refuses retainData %j', (retainData) => {
    expect(() => settings({ retainData })).toThrow(`Context retainData ${JSON.stringify(retainData)} is not valid: pass -c retainData=true`);
  });
});

describe('the CDK app in cdk.json', () => {
  it('synthesizes the stack offline', async () => {
    const run = await synthApp({ stackName: 'ReplicatorTest' });
    expect(run.exitCode, String(run.stderr)).toBe(0);
    const template = JSON.parse(readFileSync(join(outDir, 'ReplicatorTest.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string }>;
      Outputs: Record<string, unknown>;
    };
    expect(Object.values(template.Resources).map((r) => r.Type)).toContain('AWS::DynamoDB::GlobalTable');
    expect(template.Outputs).toHaveProperty('JobTableName');
  });

  it('refuses a bad context value with one sentence and a non-zero exit, not a stack trace', async () => {
    const run = await synthApp({ stackName: '9 bad name' });
    expect(run.exitCode).toBe(1);
    expect(String(run.stderr).trim()).toBe(
      'Context stackName "9 bad name" is not a valid CloudFormation stack name: pass -c stackName=<name> with a letter first, then letters, digits or hyphens, at most 128 characters.',
    );
  });
});
