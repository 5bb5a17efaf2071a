import { describe, expect, it } from 'vitest';
import { tlsAttempts, tlsOptionsFor } from '../../../src/connection/tls.ts';
import { ConnectionUrlError, parseConnectionUrl } from '../../../src/connection/url.ts';

const files: Record<string, string> = { '/ca.pem': 'CA PEM', '/c.pem': 'CERT PEM', '/k.pem': 'KEY PEM' };
function readFile(path: string): string {
  const content = files[path];
  if (content === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return content;
}
const strict = { allowSelfSignedCerts: false };
const lenient = { allowSelfSignedCerts: true };
const spec = (query: string, host = 'db.example.com') => parseConnectionUrl(`postgres://u@${host}/db?${query}`);

describe('tlsAttempts', () => {
  it('follows libpq: disable plain, allow plain then TLS, prefer TLS then plain, the rest TLS only', () => {
    expect(tlsAttempts(spec('sslmode=disable'))).toEqual(['plain']);
    expect(tlsAttempts(spec('sslmode=allow'))).toEqual(['plain', 'tls']);
    expect(tlsAttempts(spec('sslmode=prefer'))).toEqual(['tls', 'plain']);
    for (const mode of ['require', 'verify-ca', 'verify-full']) expect(tlsAttempts(spec(`sslmode=${mode}`))).toEqual(['tls']);
  });
  it('never uses TLS on a Unix socket', () => {
    expect(tlsAttempts(spec('sslmode=require', '%2Ftmp'))).toEqual(['plain']);
  });
});

describe('tlsOptionsFor', () => {
  it('disable means no TLS', () => {
    expect(tlsOptionsFor(spec('sslmode=disable'), strict, readFile)).toBe(false);
  });

  it('require, prefer and allow encrypt without checking the certificate', () => {
    for (const mode of ['require', 'prefer', 'allow']) {
      expect(tlsOptionsFor(spec(`sslmode=${mode}`), strict, readFile)).toEqual({ rejectUnauthorized: false, servername: 'db.example.com' });
    }
  });

  it('require with an sslrootcert checks the chain, like libpq', () => {
    const options = tlsOptionsFor(spec('sslmode=require&sslrootcert=/ca.pem'), strict, readFile);
    expect(options).toMatchObject({ rejectUnauthorized: true, ca: 'CA PEM' });
    expect(options && options.checkServerIdentity?.('other.example.com', {} as never)).toBeUndefined();
  });

  it('verify-ca checks the chain against sslrootcert but not the host name', () => {
    const options = tlsOptionsFor(spec('sslmode=verify-ca&sslrootcert=/ca.pem'), strict, readFile);
    expect(options).toMatchObject({ rejectUnauthorized: true, ca: 'CA PEM' });
    expect(typeof (options && options.checkServerIdentity)).toBe('function');
  });

  it('verify-ca without sslrootcert uses the system CAs', () => {
    const options = tlsOptionsFor(spec('sslmode=verify-ca'), strict, readFile);
    expect(options).toMatchObject({ rejectUnauthorized: true });
    expect(options && 'ca' in options).toBe(false);
  });

  it('verify-full checks the chain and the host name (the default check stays in place)', () => {
    const options = tlsOptionsFor(spec('sslmode=verify-full&sslrootcert=/ca.pem'), strict, readFile);
    expect(options).toEqual({ rejectUnauthorized: true, ca: 'CA PEM', servername: 'db.example.com' });
  });

  it('sends no SNI server name for an IP address', () => {
    expect(tlsOptionsFor(spec('sslmode=verify-full', '10.0.0.5'), strict, readFile)).toEqual({ rejectUnauthorized: true });
  });

  it('--allow-self-signed-certs turns verification off in every mode', () => {
    for (const mode of ['require', 'verify-ca', 'verify-full']) {
      expect(tlsOptionsFor(spec(`sslmode=${mode}&sslrootcert=/ca.pem`), lenient, readFile)).toMatchObject({ rejectUnauthorized: false });
    }
  });

  it('loads client certificates', () => {
    expect(tlsOptionsFor(spec('sslmode=require&sslcert=/c.pem&sslkey=/k.pem'), strict, readFile)).toMatchObject({ cert: 'CERT PEM', key: 'KEY PEM' });
  });

  it('names a missing sslrootcert file in one sentence', () => {
    expect(() => tlsOptionsFor(spec('sslmode=verify-ca&sslrootcert=/missing.pem'), strict, readFile)).toThrow(ConnectionUrlError);
    expect(() => tlsOptionsFor(spec('sslmode=verify-ca&sslrootcert=/missing.pem'), strict, readFile)).toThrow('The sslrootcert file /missing.pem does not exist; fix the path in the URL.');
  });
});
