import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { registerSecret } from './redact.ts';
import type { ConnectionSpec } from './url.ts';

/**
 * libpq's fallbacks for a URL without a password, in its order: PGPASSWORD, then the password file
 * (PGPASSFILE, or ~/.pgpass). Our own sessions and the libpq programs we start (pg_dump, pg_restore)
 * must agree on them, so the sessions look the password up here, the way libpq does, and the programs
 * get the same two variables passed through (see libpqEnvironment).
 */
export const PASSWORD_FALLBACK_VARIABLES = ['PGPASSWORD', 'PGPASSFILE'] as const;

/** The fallback variables of `parent` that a libpq program needs: none when the URL carries the password. */
export function inheritedPasswordFallback(
  spec: ConnectionSpec,
  parent: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  if (spec.password !== undefined) return {};
  const inherited: Record<string, string> = {};
  for (const name of PASSWORD_FALLBACK_VARIABLES) {
    const value = parent[name];
    if (value !== undefined) inherited[name] = value;
  }
  return inherited;
}

/** Where a fallback password came from, for error messages (never the password itself). */
export interface FallbackPassword {
  password?: string;
  /** "PGPASSWORD" or "the password file /home/u/.pgpass". */
  from?: string;
  /** Why the password file was not read (libpq ignores it too, with a warning), and what to do. */
  ignoredFile?: { what: string; remedy: string };
}

export function passwordFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.PGPASSFILE || join(env.HOME || homedir(), '.pgpass');
}

/**
 * libpq's pwdfMatchesString: whether the field starting at `at` is `*` or equals `token` (a backslash
 * escapes the next character); returns where the next field starts, or -1.
 */
function matchField(line: string, at: number, token: string): number {
  if (line[at] === '*' && line[at + 1] === ':') return at + 2;
  let i = at;
  let t = 0;
  while (i < line.length) {
    let escaped = false;
    if (line[i] === '\\') {
      i++;
      escaped = true;
    }
    if (line[i] === ':' && t === token.length && !escaped) return i + 1;
    if (t === token.length || line[i] !== token[t]) return -1;
    i++;
    t++;
  }
  return -1;
}

// libpq compiles in one default socket folder and lets a "localhost" line match it: /tmp upstream,
// /var/run/postgresql on Debian and Ubuntu, /run/postgresql on Red Hat's builds.
const DEFAULT_SOCKET_DIRECTORIES = new Set(['/tmp', '/var/run/postgresql', '/run/postgresql']);

/** The password of the first line of a password file that matches the connection, as libpq reads it. */
export function findPasswordInFile(
  text: string,
  spec: Pick<ConnectionSpec, 'host' | 'port' | 'database' | 'user'>,
): string | undefined {
  const host = spec.host === '' || DEFAULT_SOCKET_DIRECTORIES.has(spec.host) ? 'localhost' : spec.host;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line === '' || line.startsWith('#')) continue;
    let at = 0;
    for (const token of [host, String(spec.port), spec.database, spec.user]) {
      at = matchField(line, at, token);
      if (at < 0) break;
    }
    if (at < 0) continue;
    let password = '';
    for (let i = at; i < line.length && line[i] !== ':'; i++) {
      if (line[i] === '\\' && i + 1 < line.length) i++;
      password += line[i];
    }
    // The first matching line decides, as in libpq, even when its password is empty.
    return password === '' ? undefined : password;
  }
  return undefined;
}

/**
 * The password libpq would use for a URL without one: a non-empty PGPASSWORD, else the first matching
 * line of the password file. The file is read only if it is a plain file that group and others cannot
 * read, the rule libpq applies (and says so on stderr) before it trusts it.
 */
export function fallbackPassword(spec: ConnectionSpec, env: NodeJS.ProcessEnv = process.env): FallbackPassword {
  if (env.PGPASSWORD) {
    registerSecret(env.PGPASSWORD);
    return { password: env.PGPASSWORD, from: 'PGPASSWORD' };
  }
  const file = passwordFilePath(env);
  let text: string;
  try {
    const stat = statSync(file);
    if (!stat.isFile())
      return {
        ignoredFile: {
          what: `the password file ${file} is not a plain file`,
          remedy: 'Point PGPASSFILE at a plain file.',
        },
      };
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      return {
        ignoredFile: {
          what: `the password file ${file} is open to group or others, so it was ignored`,
          remedy: `Make it private (chmod 600 ${file}), as libpq requires.`,
        },
      };
    }
    text = readFileSync(file, 'utf8');
  } catch {
    // No file (or no access to it) is no fallback, not an error: libpq says nothing either.
    return {};
  }
  const password = findPasswordInFile(text, spec);
  if (password === undefined) return {};
  registerSecret(password);
  return { password, from: `the password file ${file}` };
}
