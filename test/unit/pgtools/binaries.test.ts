import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { candidateBinDirs, findPostgresBinDir, PostgresToolNotFoundError } from '../../../src/pgtools/binaries.ts';

const root = mkdtempSync(join(tmpdir(), 'dbr-bins-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fakeTool(dir: string, name: string, version: string): void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho "${name} (PostgreSQL) ${version} (Debian ${version}-1)"\n`);
  chmodSync(path, 0o755);
}

describe('findPostgresBinDir', () => {
  const debianRoot = join(root, 'usr-lib-postgresql');
  fakeTool(join(debianRoot, '14', 'bin'), 'pg_dump', '14.12');
  fakeTool(join(debianRoot, '16', 'bin'), 'pg_dump', '16.4');
  fakeTool(join(root, 'path-bin'), 'pg_dump', '13.9');
  const env = { PATH: join(root, 'path-bin') };

  it('looks in Debian folders newest first, then PATH', () => {
    const dirs = candidateBinDirs({ env, debianRoot });
    expect(dirs).toEqual([join(debianRoot, '16', 'bin'), join(debianRoot, '14', 'bin'), join(root, 'path-bin')]);
  });

  it('picks the newest major and reads its version', () => {
    expect(findPostgresBinDir(['pg_dump'], { env, debianRoot })).toEqual({ dir: join(debianRoot, '16', 'bin'), major: 16, version: '16.4' });
  });

  it('honours DATABASE_REPLICATOR_PG_BINDIR', () => {
    expect(candidateBinDirs({ env: { ...env, DATABASE_REPLICATOR_PG_BINDIR: '/opt/pg/bin' }, debianRoot })[0]).toBe('/opt/pg/bin');
  });

  it('fails with what to install when nothing is found', () => {
    const call = () => findPostgresBinDir(['initdb', 'pg_ctl'], { env: { PATH: join(root, 'empty') }, debianRoot: join(root, 'none') });
    expect(call).toThrow(PostgresToolNotFoundError);
    expect(call).toThrow(/initdb, pg_ctl were not found.*apt-get install postgresql/);
  });

  it('fails when the newest found is older than required', () => {
    expect(() => findPostgresBinDir(['pg_dump'], { env, debianRoot, minMajor: 17 })).toThrow(/version 17 or newer were not found \(found version 16\.4/);
  });
});
