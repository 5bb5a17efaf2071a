// Where a password shows in text: the one list that redact.ts masks with and that the job store's
// guard (jobs/secrets.ts) refuses by, so what one masks the other accepts.

export const MASK = '***';

export interface PasswordPattern {
  /** Group 1 is what comes before the password (kept), group 2 the password as written. */
  pattern: RegExp;
  /** What replaces group 2. */
  mask: string;
  /** Why text that matches holds a password, for the guard's message. */
  reason: string;
}

export const PASSWORD_PATTERNS: readonly PasswordPattern[] = [
  // scheme://user:password@host, any scheme. The password runs to the LAST @ before whitespace or a
  // double quote: an unencoded @ in a password must not leave its tail visible, and over-masking a
  // query that holds an @ is the safe mistake. A double quote ends it so two URLs in one JSON line
  // are masked separately.
  {
    pattern: /([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@"]*:)([^\s"]*)(?=@)/gi,
    mask: MASK,
    reason: 'holds a URL with a password',
  },
  // conninfo: password=secret, password='it\'s' (libpq), 'it''s' (SQL habit) or "double quoted".
  {
    pattern: /(\bpassword\s*=\s*)('(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*"|[^\s'"]+)/gi,
    mask: MASK,
    reason: 'holds a password=... setting',
  },
  // JSON: {"password": "secret"}, the shape of an RDS secret in Secrets Manager, and a SecretString.
  {
    pattern: /("(?:password|secret|secretstring)"\s*:\s*)("(?:[^"\\]|\\.)*")/gi,
    mask: `"${MASK}"`,
    reason: 'holds a JSON password',
  },
  // Environment dumps: PGPASSWORD=secret, PGPASSWORD='two words'.
  { pattern: /(\bPGPASSWORD=)('[^']*'|"(?:[^"\\]|\\.)*"|\S+)/gi, mask: MASK, reason: 'holds a password=... setting' },
];

/** A password as a pattern found it is already masked (or empty, as in postgres://app:@db). */
export function isMasked(password: string): boolean {
  return password === '' || password === MASK || password === `'${MASK}'` || password === `"${MASK}"`;
}
