import { redact } from '../../src/connection/redact.ts';

export class SecretLeak extends Error {
  override name = 'SecretLeak';
}

/**
 * Throws when `value`, serialized, holds a secret: a registered password (in any spelling the
 * redactor knows), a URL or conninfo with a password, a `"password": "..."` member, or one of
 * `also`. The message shows the masked text, never the secret. Used by tests on every function's
 * result and logs.
 */
export function assertNoSecrets(value: unknown, also: string[] = []): void {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  const masked = redact(text);
  const extra = also.filter((s) => s.length > 0 && (text.includes(s) || text.includes(encodeURIComponent(s))));
  if (masked !== text || extra.length) {
    const shown = extra.reduce((t, s) => t.split(s).join('***').split(encodeURIComponent(s)).join('***'), masked);
    throw new SecretLeak(`The value holds a secret: ${shown.length > 300 ? `${shown.slice(0, 297)}...` : shown}`);
  }
}
