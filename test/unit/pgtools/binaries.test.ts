import {
  chmodSync,
  existsSync,
  readFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
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
    expect(findPostgresBinDir(['pg_dump'], { env, debianRoot })).toEqual({
      dir: join(debianRoot, '16', 'bin'),
      major: 16,
      version: '16.4',
    });
  });

  it('honours DATABASE_REPLICATOR_PG_BINDIR', () => {
    expect(candidateBinDirs({ env: { ...env, DATABASE_REPLICATOR_PG_BINDIR: '/opt/pg/bin' }, debianRoot })[0]).toBe(
      '/opt/pg/bin',
    );
  });

  it('fails with what to install when nothing is found', () => {
    const call = () =>
      findPostgresBinDir(['initdb', 'pg_ctl'], { env: { PATH: join(root, 'empty') }, debianRoot: join(root, 'none') });
    expect(call).toThrow(PostgresToolNotFoundError);
    expect(call).toThrow(/initdb, pg_ctl were not found.*apt-get install postgresql/);
  });

  it('fails when the newest found is older than required', () => {
    expect(() => findPostgresBinDir(['pg_dump'], { env, debianRoot, minMajor: 17 })).toThrow(
      /version 17 or newer were not found \(found version 16\.4/,
    );
  });

  it("asks each program its version once, and not Debian's wrapper when the versioned folders answered", () => {
    const counted = join(root, 'counted');
    const calls = join(root, 'calls');
    mkdirSync(join(counted, 'lib', '15', 'bin'), { recursive: true });
    for (const tool of ['pg_dump', 'pg_restore']) {
      const path = join(counted, 'lib', '15', 'bin', tool);
      writeFileSync(path, `#!/bin/sh\necho ${tool} >> ${calls}\necho "${tool} (PostgreSQL) 15.8"\n`);
      chmodSync(path, 0o755);
    }
    const wrapper = join(counted, 'share', 'postgresql-common', 'pg_wrapper');
    mkdirSync(join(counted, 'share', 'postgresql-common'), { recursive: true });
    writeFileSync(wrapper, `#!/bin/sh\necho wrapper >> ${calls}\necho "pg_dump (PostgreSQL) 15.8"\n`);
    chmodSync(wrapper, 0o755);
    mkdirSync(join(counted, 'bin'));
    for (const tool of ['pg_dump', 'pg_restore']) symlinkSync(wrapper, join(counted, 'bin', tool));
    const search = { env: { PATH: join(counted, 'bin') }, debianRoot: join(counted, 'lib') };
    for (let i = 0; i < 3; i++) {
      expect(findPostgresBinDir(['pg_dump'], search).dir).toBe(join(counted, 'lib', '15', 'bin'));
      expect(findPostgresBinDir(['pg_restore'], search).dir).toBe(join(counted, 'lib', '15', 'bin'));
    }
    expect(existsSync(calls)).toBe(true);
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual(['pg_dump', 'pg_restore']);
  });
});
