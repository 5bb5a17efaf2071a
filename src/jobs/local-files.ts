// File helpers of the local job store: atomic JSON writes and a lock file per job.
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A lock older than this was left by a process that died: the critical sections take milliseconds. */
export const STALE_LOCK_MS = 10_000;
const RETRY_MS = 10;

let tmpCounter = 0;

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

/** Writes JSON to a temporary file (mode 0600) and renames it over `path`: a kill never leaves half a file. */
export function writeJsonAtomic(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${++tmpCounter}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

/** The parsed file, or undefined when it does not exist. */
export function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

const lockOwner = () => `${process.pid}@${hostname()}`;

/** Whether a lock file names a process of this machine that no longer runs. */
function ownerDied(owner: string): boolean {
  const m = /^(\d+)@(.*)$/.exec(owner.trim());
  if (!m || m[2] !== hostname()) return false;
  try {
    process.kill(Number(m[1]), 0);
    return false;
  } catch (error) {
    return errorCode(error) === 'ESRCH';
  }
}

/**
 * Runs `fn` while holding `lockPath` (created exclusively), so read-modify-write cycles of writers in
 * this or another process never interleave. `fn` is synchronous, so a lock is held for milliseconds.
 * A lock whose process on this machine is gone (an init killed while writing) is taken over at once,
 * so its rerun does not wait; one older than STALE_LOCK_MS (another machine's) is taken over too.
 */
export async function withFileLock<T>(lockPath: string, fn: () => T): Promise<T> {
  mkdirSync(dirname(lockPath), { recursive: true, mode: 0o700 });
  for (;;) {
    try {
      writeFileSync(lockPath, `${lockOwner()}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
    let age: number;
    let owner: string;
    try {
      age = Date.now() - statSync(lockPath).mtimeMs;
      owner = readFileSync(lockPath, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') continue; // released meanwhile
      throw error;
    }
    if (age > STALE_LOCK_MS || ownerDied(owner)) rmSync(lockPath, { force: true });
    else await sleep(RETRY_MS);
  }
  try {
    return fn();
  } finally {
    rmSync(lockPath, { force: true });
  }
}
