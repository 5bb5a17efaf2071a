import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clientConfig } from '../../../src/connection/client.ts';
import {
  fallbackPassword,
  findPasswordInFile,
  inheritedPasswordFallback,
  passwordFilePath,
  type FallbackPassword,
} from '../../../src/connection/password-fallback.ts';
import { parseConnectionUrl } from '../../../src/connection/url.ts';

const spec = parseConnectionUrl('postgres://app@db.example.com:6543/shop');
const scratch = mkdtempSync(join(tmpdir(), 'dbr-pgpass-unit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function passwordFile(text: string, mode = 0o600): string {
  const file = join(mkdtempSync(join(scratch, 'f-')), 'pgpass');
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

describe('findPasswordInFile (libpq password file rules)', () => {
  it('takes the first line whose host, port, database and user match, * matching anything', () => {
    const text = [
      'db.example.com:6543:other:app:no',
      'db.example.com:*:shop:someone:no',
      'db.example.com:6543:*:app:yes',
      '*:*:*:*:late',
    ].join('\n');
    expect(findPasswordInFile(text, spec)).toBe('yes');
  });

  it('skips comments and blank lines and reads CRLF files', () => {
    expect(findPasswordInFile('# *:*:*:*:comment\r\n\r\n*:*:shop:app:crlf\r\n', spec)).toBe('crlf');
  });

  it('unescapes \\: and \\\\ in every field, the password included', () => {
    const ipv6 = parseConnectionUrl('postgres://us%3Aer@[::1]:5432/shop');
    expect(findPasswordInFile('\\:\\:1:5432:shop:us\\:er:a\\:b\\\\c', ipv6)).toBe('a:b\\c');
  });

  it('ends the password at an unescaped colon, as libpq does', () => {
    expect(findPasswordInFile('*:*:*:app:first:rest', spec)).toBe('first');
  });

  it('lets "localhost" match the default socket folder, and only it', () => {
    expect(
      findPasswordInFile(
        'localhost:5432:shop:app:sock',
        parseConnectionUrl('postgres://app@%2Fvar%2Frun%2Fpostgresql/shop'),
      ),
    ).toBe('sock');
    expect(
      findPasswordInFile('localhost:5432:shop:app:sock', parseConnectionUrl('postgres://app@%2Fsrv%2Fpg/shop')),
    ).toBeUndefined();
  });

  it('matches a field whole: neither a prefix nor a longer value', () => {
    expect(
      findPasswordInFile('db.example.co:6543:shop:app:no\ndb.example.com:6543:shopping:app:no', spec),
    ).toBeUndefined();
  });

  it('stops at the first match even when its password is empty', () => {
    expect(findPasswordInFile('*:*:*:app:\n*:*:*:*:later', spec)).toBeUndefined();
  });
});

describe('fallbackPassword', () => {
  it('prefers a non-empty PGPASSWORD to the password file', () => {
    const file = passwordFile('*:*:*:*:from-file');
    expect(fallbackPassword(spec, { PGPASSWORD: 'from-env', PGPASSFILE: file })).toEqual({
      password: 'from-env',
      from: 'PGPASSWORD',
    });
    // An empty PGPASSWORD is no password to libpq: the file is read.
    expect(fallbackPassword(spec, { PGPASSWORD: '', PGPASSFILE: file })).toEqual({
      password: 'from-file',
      from: `the password file ${file}`,
    });
  });

  it('reads ~/.pgpass when PGPASSFILE is not set', () => {
    const home = mkdtempSync(join(scratch, 'home-'));
    writeFileSync(join(home, '.pgpass'), '*:*:*:app:home\n', { mode: 0o600 });
    expect(passwordFilePath({ HOME: home })).toBe(join(home, '.pgpass'));
    expect(fallbackPassword(spec, { HOME: home }).password).toBe('home');
  });

  it('ignores a file open to group or others, and one that is not a plain file, saying why', () => {
    const open = passwordFile('*:*:*:*:secret', 0o640);
    expect(fallbackPassword(spec, { PGPASSFILE: open })).toEqual({
      ignoredFile: {
        what: `the password file ${open} is open to group or others, so it was ignored`,
        remedy: `Make it private (chmod 600 ${open}), as libpq requires.`,
      },
    });
    const folder = join(scratch, 'a-folder');
    mkdirSync(folder);
    expect(fallbackPassword(spec, { PGPASSFILE: folder }).ignoredFile?.what).toContain('is not a plain file');
  });

  it('has nothing, silently, without a file or a matching line', () => {
    expect(fallbackPassword(spec, { PGPASSFILE: join(scratch, 'missing') })).toEqual({});
    expect(fallbackPassword(spec, { PGPASSFILE: passwordFile('other:*:*:*:x\n') })).toEqual({});
  });
});

describe('inheritedPasswordFallback', () => {
  const parent = {
    PGPASSWORD: 'pw',
    PGPASSFILE: '/etc/replicator.pgpass',
    PGSERVICE: 'prod',
    PGHOST: 'elsewhere',
    HOME: '/home/u',
  };

  it('passes PGPASSWORD and PGPASSFILE, and no other variable, when the URL has no password', () => {
    expect(inheritedPasswordFallback(spec, parent)).toEqual({ PGPASSWORD: 'pw', PGPASSFILE: '/etc/replicator.pgpass' });
    expect(inheritedPasswordFallback(spec, { HOME: '/home/u' })).toEqual({});
  });

  it('passes nothing when the URL has a password', () => {
    expect(inheritedPasswordFallback(parseConnectionUrl('postgres://app:secret@h/shop'), parent)).toEqual({});
  });
});

describe('clientConfig', () => {
  it('hands pg the URL password as it is', () => {
    expect(
      clientConfig(parseConnectionUrl('postgres://app:secret@h/shop'), false, {
        role: 'source',
        allowSelfSignedCerts: false,
      }).password,
    ).toBe('secret');
  });

  it('hands pg a lookup of the fallbacks otherwise, and records where the password came from', async () => {
    const used: { used?: FallbackPassword } = {};
    const config = clientConfig(spec, false, { role: 'source', allowSelfSignedCerts: false }, used);
    expect(typeof config.password).toBe('function');
    const saved = process.env.PGPASSWORD;
    process.env.PGPASSWORD = 'from-env';
    try {
      expect(await (config.password as () => Promise<string>)()).toBe('from-env');
      expect(used.used).toEqual({ password: 'from-env', from: 'PGPASSWORD' });
    } finally {
      if (saved === undefined) delete process.env.PGPASSWORD;
      else process.env.PGPASSWORD = saved;
    }
  });
});
