// What the Fargate image holds, reproduced without Docker: the files the Dockerfile copies, and the
// production dependencies `npm ci --omit=dev --ignore-scripts` installs (cached by the package files' hash).
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';

export const DOCKERFILE = 'containers/replicator/Dockerfile';

/** The programs Debian's postgresql-client-<major> package puts in /usr/lib/postgresql/<major>/bin. */
export const CLIENT_PACKAGE_PROGRAMS = [
  'clusterdb',
  'createdb',
  'createuser',
  'dropdb',
  'dropuser',
  'pg_amcheck',
  'pg_basebackup',
  'pg_combinebackup',
  'pg_dump',
  'pg_dumpall',
  'pg_isready',
  'pg_receivewal',
  'pg_recvlogical',
  'pg_restore',
  'pg_verifybackup',
  'pgbench',
  'psql',
  'reindexdb',
  'vacuumdb',
];

export interface DockerCopy {
  from: string;
  to: string;
}

/** The Dockerfile's COPY instructions from the build context (no multi-stage `--from`), with the WORKDIR they land under. */
export function dockerfileCopies(repoRoot: string): { workdir: string; copies: DockerCopy[] } {
  const lines = readFileSync(join(repoRoot, DOCKERFILE), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim());
  let workdir = '/';
  const copies: DockerCopy[] = [];
  for (const line of lines) {
    const [instruction, ...args] = line.split(/\s+/);
    if (instruction === 'WORKDIR') workdir = args[0]!;
    if (instruction !== 'COPY' && instruction !== 'ADD') continue;
    const plain = args.filter((a) => !a.startsWith('--'));
    if (args.some((a) => a.startsWith('--from'))) continue;
    const to = plain.pop()!;
    for (const from of plain) copies.push({ from, to: to.startsWith('/') ? to : join(workdir, to) });
  }
  return { workdir, copies };
}

function packageHash(repoRoot: string): string {
  const hash = createHash('sha256');
  for (const file of ['package.json', 'package-lock.json']) hash.update(readFileSync(join(repoRoot, file)));
  return hash.digest('hex').slice(0, 16);
}

/**
 * A folder holding node_modules as `npm ci --omit=dev --ignore-scripts` installs it from the repository's
 * package files, installed once per package-file hash under the OS temporary folder (about 15 s, then free).
 * Fails with a sentence when npm cannot install (the registry unreachable, the lock out of sync).
 */
export async function productionDependencies(repoRoot: string): Promise<string> {
  const cacheRoot = join(tmpdir(), 'database-replicator-image-deps');
  const done = join(cacheRoot, packageHash(repoRoot));
  if (existsSync(join(done, 'node_modules', '.package-lock.json'))) return done;
  mkdirSync(cacheRoot, { recursive: true });
  const work = mkdtempSync(join(cacheRoot, 'installing-'));
  for (const file of ['package.json', 'package-lock.json']) cpSync(join(repoRoot, file), join(work, file));
  const npm = await execa('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: work,
    reject: false,
    all: true,
    timeout: 300_000,
    env: { npm_config_update_notifier: 'false' },
  });
  if (npm.exitCode !== 0) {
    rmSync(work, { recursive: true, force: true });
    throw new Error(
      `npm ci --omit=dev --ignore-scripts, as the Dockerfile runs it, failed (exit ${npm.exitCode}${npm.timedOut ? ', timed out' : ''}); the image smoke test needs the npm registry and package files in sync. npm said:\n${String(npm.all).split('\n').slice(-15).join('\n')}`,
    );
  }
  try {
    renameSync(work, done);
  } catch {
    // Another run got there first: its install is the same.
    rmSync(work, { recursive: true, force: true });
  }
  return done;
}

/**
 * The image's /app, assembled in a fresh temporary folder outside the repository: exactly the files
 * the Dockerfile copies, and the production node_modules (a link to the cached install).
 */
export async function assembleImageApp(repoRoot: string): Promise<{ appDir: string; root: string }> {
  const deps = await productionDependencies(repoRoot);
  const root = mkdtempSync(join(tmpdir(), 'dbr-image-'));
  const { workdir, copies } = dockerfileCopies(repoRoot);
  const inRoot = (path: string) => join(root, path);
  for (const { from, to } of copies) {
    if (from === 'package.json' || from === 'package-lock.json') {
      cpSync(join(repoRoot, from), inRoot(to.endsWith('/') ? join(to, from) : to));
      continue;
    }
    const target = inRoot(to);
    mkdirSync(dirname(target), { recursive: true });
    cpSync(join(repoRoot, from), target, { recursive: true });
  }
  const appDir = inRoot(workdir);
  symlinkSync(join(deps, 'node_modules'), join(appDir, 'node_modules'), 'dir');
  return { appDir, root };
}
