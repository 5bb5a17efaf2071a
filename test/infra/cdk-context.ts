import { readFileSync } from 'node:fs';
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
