import { describe, expect, it } from 'vitest';
import { tlsAttempts, tlsOptionsFor } from '../../../src/connection/tls.ts';
import { ConnectionUrlError, parseConnectionUrl, SSL_MODES } from '../../../src/connection/url.ts';

const files: Record<string, string> = { '/ca.pem': 'CA PEM', '/c.pem': 'CERT PEM', '/k.pem': 'KEY PEM' };
const reads: string[] = [];
function readFile(path: string): string {
  reads.push(path);
  if (path === '/locked.pem') throw Object.assign(new Error(`EACCES: ${path}`), { code: 'EACCES' });
  if (path === '/folder') throw Object.assign(new Error(`EISDIR: ${path}`), { code: 'EISDIR' });
  const content = files[path];
  if (content === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return content;
}
const strict = { allowSelfSignedCerts: false };
const lenient = { allowSelfSignedCerts: true };
const spec = (query: string, host = 'db.example.com') => parseConnectionUrl(`postgres://u@${host}/db?${query}`);

function identityCheck(options: ReturnType<typeof tlsOptionsFor>) {
  return options === false ? undefined : options.checkServerIdentity;
}

describe('tlsAttempts', () => {
  it('follows libpq: disable plain, allow plain then TLS, prefer TLS then plain, the rest TLS only', () => {
    expect(tlsAttempts(spec('sslmode=disable'))).toEqual(['plain']);
    expect(tlsAttempts(spec('sslmode=allow'))).toEqual(['plain', 'tls']);
    expect(tlsAttempts(spec('sslmode=prefer'))).toEqual(['tls', 'plain']);
    for (const mode of ['require', 'verify-ca', 'verify-full'])
      expect(tlsAttempts(spec(`sslmode=${mode}`))).toEqual(['tls']);
  });

  it('defaults to prefer: TLS, then plain', () => {
    expect(tlsAttempts(parseConnectionUrl('postgres://u@h/db'))).toEqual(['tls', 'plain']);
  });

  it.each(SSL_MODES)('never uses TLS on a Unix socket (sslmode=%s)', (mode) => {
    expect(tlsAttempts(spec(`sslmode=${mode}`, '%2Ftmp'))).toEqual(['plain']);
  });
});

describe('tlsOptionsFor', () => {
  it('disable means no TLS, with or without the flag', () => {
    expect(tlsOptionsFor(spec('sslmode=disable'), strict, readFile)).toBe(false);
    expect(tlsOptionsFor(spec('sslmode=disable'), lenient, readFile)).toBe(false);
  });

  it('a Unix socket means no TLS', () => {
    expect(tlsOptionsFor(spec('sslmode=verify-full', '%2Fvar%2Frun%2Fpostgresql'), strict, readFile)).toBe(false);
  });

  it('require, prefer and allow encrypt without checking the certificate', () => {
    for (const mode of ['require', 'prefer', 'allow']) {
      expect(tlsOptionsFor(spec(`sslmode=${mode}`), strict, readFile)).toEqual({
        rejectUnauthorized: false,
        servername: 'db.example.com',
      });
    }
  });

  it('prefer and allow do not check even with an sslrootcert (they connect to whatever the server offers)', () => {
    for (const mode of ['prefer', 'allow']) {
      expect(tlsOptionsFor(spec(`sslmode=${mode}&sslrootcert=/ca.pem`), strict, readFile)).toEqual({
        rejectUnauthorized: false,
        servername: 'db.example.com',
      });
    }
  });

  it('require with an sslrootcert checks the chain but not the host name, like libpq', () => {
    const options = tlsOptionsFor(spec('sslmode=require&sslrootcert=/ca.pem'), strict, readFile);
    expect(options).toMatchObject({ rejectUnauthorized: true, ca: 'CA PEM' });
    expect(identityCheck(options)?.('other.example.com', {} as never)).toBeUndefined();
  });

  it('verify-ca checks the chain against the sslrootcert contents but not the host name', () => {
    const options = tlsOptionsFor(spec('sslmode=verify-ca&sslrootcert=/ca.pem'), strict, readFile);
    expect(options).toMatchObject({ rejectUnauthorized: true, ca: 'CA PEM', servername: 'db.example.com' });
    expect(identityCheck(options)).toBeTypeOf('function');
    expect(identityCheck(options)?.('other.example.com', {} as never)).toBeUndefined();
  });

  it('verify-ca without sslrootcert (or with sslrootcert=system) uses the bundled CAs', () => {
    for (const query of ['sslmode=verify-ca', 'sslmode=verify-ca&sslrootcert=system']) {
      const options = tlsOptionsFor(spec(query), strict, readFile);
      expect(options).toMatchObject({ rejectUnauthorized: true });
      expect(options).not.toHaveProperty('ca');
    }
  });

  it('verify-full checks the chain and the host name (the default check stays in place)', () => {
    const options = tlsOptionsFor(spec('sslmode=verify-full&sslrootcert=/ca.pem'), strict, readFile);
    expect(options).toEqual({ rejectUnauthorized: true, ca: 'CA PEM', servername: 'db.example.com' });
    expect(identityCheck(options)).toBeUndefined();
  });

  it('verify-full without sslrootcert uses the bundled CAs and checks the host name', () => {
    expect(tlsOptionsFor(spec('sslmode=verify-full'), strict, readFile)).toEqual({
      rejectUnauthorized: true,
      servername: 'db.example.com',
    });
  });

  it('sends no SNI server name for an IP address', () => {
    expect(tlsOptionsFor(spec('sslmode=verify-full', '10.0.0.5'), strict, readFile)).toEqual({
      rejectUnauthorized: true,
    });
    expect(tlsOptionsFor(spec('sslmode=require', '[2001:db8::5]'), strict, readFile)).toEqual({
      rejectUnauthorized: false,
    });
  });

  it('--allow-self-signed-certs turns verification off in every mode and reads no root certificate', () => {
    for (const mode of ['allow', 'prefer', 'require', 'verify-ca', 'verify-full']) {
      reads.length = 0;
      const options = tlsOptionsFor(spec(`sslmode=${mode}&sslrootcert=/missing-root.pem`), lenient, readFile);
      expect(options).toEqual({ rejectUnauthorized: false, servername: 'db.example.com' });
      expect(reads).toEqual([]);
    }
  });

  it('loads client certificates, also under the flag', () => {
    expect(tlsOptionsFor(spec('sslmode=require&sslcert=/c.pem&sslkey=/k.pem'), strict, readFile)).toMatchObject({
      cert: 'CERT PEM',
      key: 'KEY PEM',
    });
    expect(tlsOptionsFor(spec('sslmode=verify-full&sslcert=/c.pem&sslkey=/k.pem'), lenient, readFile)).toMatchObject({
      cert: 'CERT PEM',
      key: 'KEY PEM',
      rejectUnauthorized: false,
    });
  });

  it('names a missing sslrootcert file in one sentence', () => {
    expect(() => tlsOptionsFor(spec('sslmode=verify-ca&sslrootcert=/missing.pem'), strict, readFile)).toThrow(
      ConnectionUrlError,
    );
    expect(() => tlsOptionsFor(spec('sslmode=verify-ca&sslrootcert=/missing.pem'), strict, readFile)).toThrow(
      'The sslrootcert file /missing.pem does not exist; fix the path in the URL.',
    );
  });

  it('says why a file cannot be read', () => {
    expect(() => tlsOptionsFor(spec('sslmode=verify-full&sslrootcert=/locked.pem'), strict, readFile)).toThrow(
      'The sslrootcert file /locked.pem cannot be read (permission denied); fix the path in the URL.',
    );
    expect(() => tlsOptionsFor(spec('sslmode=require&sslrootcert=/folder'), strict, readFile)).toThrow(
      'The sslrootcert file /folder is a folder, not a file; fix the path in the URL.',
    );
    expect(() => tlsOptionsFor(spec('sslmode=require&sslcert=/nope.pem'), strict, readFile)).toThrow(
      'The sslcert file /nope.pem does not exist; fix the path in the URL.',
    );
    expect(() => tlsOptionsFor(spec('sslmode=require&sslcert=/c.pem&sslkey=/nope.pem'), strict, readFile)).toThrow(
      'The sslkey file /nope.pem does not exist; fix the path in the URL.',
    );
  });

  it('reads real files by default', () => {
    expect(() => tlsOptionsFor(spec('sslmode=verify-ca&sslrootcert=/nonexistent/dir/ca.pem'), strict)).toThrow(
      'The sslrootcert file /nonexistent/dir/ca.pem does not exist; fix the path in the URL.',
    );
  });
});
