import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cdkJson = JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')) as { app: string };
const outDir = mkdtempSync(join(tmpdir(), 'dbr-cdk-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

/** Runs the app command from cdk.json the way the CDK CLI does, offline and without credentials. */
function synthApp(context: Record<string, string> = {}) {
  const [command, ...args] = cdkJson.app.split(' ');
  return execa(command!, args, {
    cwd: root,
    reject: false,
    env: { CDK_OUTDIR: outDir, CDK_CONTEXT_JSON: JSON.stringify(context), AWS_ACCESS_KEY_ID: undefined, AWS_PROFILE: undefined },
  });
}

describe('the CDK app in cdk.json', () => {
  it('synthesizes the stack offline', async () => {
    const run = await synthApp({ stackName: 'ReplicatorTest' });
    expect(run.exitCode, String(run.stderr)).toBe(0);
    const template = JSON.parse(readFileSync(join(outDir, 'ReplicatorTest.template.json'), 'utf8')) as { Resources: Record<string, { Type: string }> };
    expect(Object.values(template.Resources).map((r) => r.Type)).toContain('AWS::DynamoDB::GlobalTable');
  });

  it('refuses an invalid stack name from context', async () => {
    const run = await synthApp({ stackName: '9 bad name' });
    expect(run.exitCode).not.toBe(0);
    expect(String(run.stderr)).toContain('Context stackName "9 bad name" is not a valid CloudFormation stack name');
  });
});
