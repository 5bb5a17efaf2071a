// The one place that masks secrets. Every error and log path runs its text through `redact`, so a
// password echoed by a driver, a child tool or our own message never reaches a terminal or a file.

const MASK = '***';
const secrets = new Set<string>();

/** Remembers a secret so `redact` masks it wherever it appears. Very short values are ignored: masking "a" would mangle everything. */
export function registerSecret(value: string | undefined): void {
  if (value === undefined || value.length < 4) return;
  secrets.add(value);
  const encoded = encodeURIComponent(value);
  if (encoded !== value) secrets.add(encoded);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function redact(text: string): string {
  let out = text
    // postgres://user:password@host -> postgres://user:***@host (also when the password holds an unencoded @)
    .replace(/(postgres(?:ql)?:\/\/[^:/?#@\s]*:)[^\s/?#]*(?=@[^@\s]*)/gi, `$1${MASK}`)
    // conninfo: password=secret, password='it\'s secret' (libpq) or 'it''s secret' (SQL habit)
    .replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.|'')*'|[^\s'"]+)/gi, `$1${MASK}`)
    // environment dumps: PGPASSWORD=secret
    .replace(/(\bPGPASSWORD=)\S+/g, `$1${MASK}`);
  // Longest first, so a secret that contains another is masked whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    out = out.replace(new RegExp(escapeRegExp(secret), 'g'), MASK);
  }
  return out;
}
