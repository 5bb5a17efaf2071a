import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/**
 * A test file's throwaway state folders and clean-up steps, undone after its last test (clean-ups in
 * reverse order, so a database is dropped after what was made in it).
 */
export function useScratch(prefix: string): { stateDir: () => string; cleanups: (() => Promise<void>)[] } {
  const dirs: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of [...cleanups].reverse()) await c().catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    stateDir: () => {
      const dir = mkdtempSync(join(tmpdir(), `dbr-${prefix}-`));
      dirs.push(dir);
      return dir;
    },
    cleanups,
  };
}
