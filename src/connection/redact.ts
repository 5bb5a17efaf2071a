// The one place that masks secrets. Every error and log path runs its text through `redact`, so a
// password echoed by a driver, a child tool or our own message never reaches a terminal or a file.

import { MASK, PASSWORD_PATTERNS } from './password-patterns.ts';

// Shorter values would mask ordinary words ("pw" inside "pwd", "abc" inside a table name).
const MIN_SECRET_LENGTH = 4;
const secrets = new Set<string>();

/**
 * The spellings a secret takes when something else echoes it: raw, percent-encoded (a URL; drivers
 * and tools differ in hex case) and JSON-escaped (a Secrets Manager document, a JSON log line).
 */
function spellings(value: string): string[] {
  const encoded = encodeURIComponent(value);
  return [value, encoded, encoded.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()), JSON.stringify(value).slice(1, -1)];
}

/** Remembers a secret so `redact` masks it wherever it appears. Very short values are ignored: masking "a" would mangle everything. */
export function registerSecret(value: string | undefined): void {
  if (value === undefined || value.length < MIN_SECRET_LENGTH) return;
  for (const spelling of spellings(value)) secrets.add(spelling);
}

export function redact(text: string): string {
  let out = text;
  for (const { pattern, mask } of PASSWORD_PATTERNS)
    out = out.replace(pattern, (_match, before: string) => `${before}${mask}`);
  // Longest first, so a secret that contains another is masked whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(MASK);
  }
  return out;
}
