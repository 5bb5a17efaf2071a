import { App } from 'aws-cdk-lib';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  app: string;
  context: Record<string, unknown>;
};

/**
 * The feature flags from cdk.json. Tests build their App with them, because `new App()` alone
 * would synthesize with the legacy defaults and assert a template that is never deployed.
 */
export function cdkContext(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...cdkJson.context, ...extra };
}

/**
 * An App with the cdk.json flags that synthesizes under the run's temporary folder, which the
 * global teardown removes: without an outdir every synth leaves a cdk.out folder in the system's.
 */
export function testApp(context: Record<string, unknown> = cdkContext()): App {
  const root = process.env.DATABASE_REPLICATOR_TEST_TMP ?? tmpdir();
  return new App({ context, outdir: mkdtempSync(join(root, 'cdk.out-')) });
}
