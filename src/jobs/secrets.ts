// The guard every write goes through: a job record never holds a password (DESIGN.md, rules that
// hold everywhere). Text that was already masked by connection/redact.ts ("***") passes.
import { isMasked, PASSWORD_PATTERNS } from '../connection/password-patterns.ts';
import { SecretInRecordError } from './errors.ts';

/** Keys that name a credential: password, dbPassword, PGPASSWORD, pwd, secret, clientSecret, SecretString. */
const SECRET_KEY = /(password|passwd|passphrase|pwd|secret|secretstring|secretvalue|secretbinary)$/;

/** Map keys that are names (of databases), not field names: "secret" is a fine database name. */
const NAME_MAPS = new Set(['databases']);

function secretKey(key: string): boolean {
  return SECRET_KEY.test(key.toLowerCase().replace(/[^a-z0-9]/g, ''));
}

/** Why a string holds a password, or undefined when it does not. */
export function secretInText(text: string): string | undefined {
  for (const { pattern, reason } of PASSWORD_PATTERNS) {
    for (const m of text.matchAll(pattern)) if (!isMasked(m[2] ?? '')) return reason;
  }
  return undefined;
}

/** The first place in `value` that holds or names a secret, as [path, reason]. */
export function findSecret(value: unknown, path = ''): [string, string] | undefined {
  const at = (key: string) => (path ? `${path}.${key}` : key);
  if (typeof value === 'string') {
    const reason = secretInText(value);
    return reason ? [path || 'the value', reason] : undefined;
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findSecret(item, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    const isNameMap = NAME_MAPS.has(path);
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (!isNameMap && secretKey(key)) return [at(key), 'is a field named like a password or secret'];
      const inKey = secretInText(key);
      if (inKey) return [`a key of ${path || 'the record'}`, inKey];
      const found = findSecret(item, at(key));
      if (found) return found;
    }
  }
  return undefined;
}

/** Throws SecretInRecordError when `value` holds or names a secret anywhere; `what` names the record for the message. */
export function assertNoSecrets(value: unknown, what: string): void {
  const found = findSecret(value);
  if (found) throw new SecretInRecordError(what, found[0], found[1]);
}
