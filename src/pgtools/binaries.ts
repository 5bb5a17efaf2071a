import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A folder holding PostgreSQL programs, with the major version they report. */
export interface PostgresBinDir {
  dir: string;
  major: number;
  version: string;
}

export class PostgresToolNotFoundError extends Error {
  override name = 'PostgresToolNotFoundError';
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Folders that may hold PostgreSQL programs, best first: what `pg_config --bindir` names, then
 * Debian/Ubuntu's versioned folders (newest first, because pg_dump must be at least the source's
 * major), then PATH.
 */
export interface BinDirSearch {
  env?: NodeJS.ProcessEnv;
  /** Where Debian keeps one folder per major. */
  debianRoot?: string;
}

export function candidateBinDirs({
  env = process.env,
  debianRoot = '/usr/lib/postgresql',
}: BinDirSearch = {}): string[] {
  const dirs: string[] = [];
  if (env.DATABASE_REPLICATOR_PG_BINDIR) dirs.push(env.DATABASE_REPLICATOR_PG_BINDIR);
  const bindir = pgConfigBindir(env);
  if (bindir) dirs.push(bindir);
  try {
    const versions = readdirSync(debianRoot)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) dirs.push(join(debianRoot, v, 'bin'));
  } catch {
    // Not a Debian-style installation.
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) if (dir) dirs.push(dir);
  return [...new Set(dirs)];
}

const pgConfigAnswers = new Map<string, string | null>();

/** `pg_config --bindir`, asked once per PATH (Debian's pg_config is a shell script). */
function pgConfigBindir(env: NodeJS.ProcessEnv): string | null {
  const key = env.PATH ?? '';
  if (!pgConfigAnswers.has(key)) {
    try {
      pgConfigAnswers.set(
        key,
        execFileSync('pg_config', ['--bindir'], {
          encoding: 'utf8',
          env,
          stdio: ['ignore', 'pipe', 'ignore'],
        }).trim() || null,
      );
    } catch {
      // pg_config is optional: Debian ships it only with libpq-dev.
      pgConfigAnswers.set(key, null);
    }
  }
  return pgConfigAnswers.get(key)!;
}

const versions = new Map<string, { version: string; major: number } | null>();

/**
 * `toolVersion` once per real file: finding pg_dump, then pg_restore, each ran `--version` in every
 * candidate folder, /bin and /usr/bin (often one folder) and Debian's perl wrappers included, about
 * half a second before the copy could start.
 */
function versionOnce(path: string): { version: string; major: number } | null {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return null;
  }
  if (!versions.has(real)) {
    try {
      versions.set(real, toolVersion(path));
    } catch {
      // A broken wrapper script is no better than a missing tool.
      versions.set(real, null);
    }
  }
  return versions.get(real)!;
}

function isDebianWrapper(path: string): boolean {
  try {
    return realpathSync(path).endsWith('/postgresql-common/pg_wrapper');
  } catch {
    return false;
  }
}

/** `<tool> --version` printed something without a version number. */
export class ToolVersionUnreadable extends Error {
  override name = 'ToolVersionUnreadable';
}

/** Runs `<tool> --version` and returns e.g. `{ version: '15.18', major: 15 }`. */
export function toolVersion(path: string): { version: string; major: number } {
  const out = execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const match = /(\d+)(?:\.(\d+))?/.exec(out.replace(/^[^)]*\)/, ''));
  if (!match) throw new ToolVersionUnreadable(`Could not read the version of ${path} from "${out.trim()}".`);
  return { version: match[0], major: Number(match[1]) };
}

/**
 * Finds a folder that holds every one of `tools`, preferring the newest major. Throws a
 * PostgresToolNotFoundError that says what to install when none has them all.
 */
export function findPostgresBinDir(
  tools: string[],
  options: BinDirSearch & { minMajor?: number } = {},
): PostgresBinDir {
  const found: PostgresBinDir[] = [];
  const debianRoot = options.debianRoot ?? '/usr/lib/postgresql';
  for (const dir of candidateBinDirs(options)) {
    if (!tools.every((tool) => isExecutable(join(dir, tool)))) continue;
    // Debian's wrapper (a perl script) runs a program from one of its versioned folders, which are
    // candidates of their own: asking it too only costs time.
    if (found.some((f) => f.dir.startsWith(debianRoot)) && isDebianWrapper(join(dir, tools[0]!))) continue;
    const reported = versionOnce(join(dir, tools[0]!));
    if (reported) found.push({ dir, ...reported });
  }
  found.sort((a, b) => b.major - a.major);
  const best = found[0];
  const minMajor = options.minMajor ?? 0;
  if (!best || best.major < minMajor) {
    const wanted = tools.join(', ');
    const have = best ? ` (found version ${best.version} in ${best.dir})` : '';
    throw new PostgresToolNotFoundError(
      `PostgreSQL programs ${wanted}${minMajor ? ` of version ${minMajor} or newer` : ''} were not found${have}; ` +
        `install the PostgreSQL ${minMajor ? minMajor + ' ' : ''}packages (Debian/Ubuntu: apt-get install postgresql${minMajor ? '-' + minMajor : ''}) ` +
        `or set DATABASE_REPLICATOR_PG_BINDIR to their folder.`,
    );
  }
  return best;
}
