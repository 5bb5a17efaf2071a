import { describe, expect, it } from 'vitest';
import { ConnectionUrlError, describeEndpoint, formatConnectionUrl, parseConnectionUrl, SSL_MODES, withDatabase } from '../../../src/connection/url.ts';

const SECRET = 'Xy7-Url-Secret';

function parseError(url: string): ConnectionUrlError {
  try {
    parseConnectionUrl(url);
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectionUrlError);
    return error as ConnectionUrlError;
  }
  throw new Error(`expected ${url} to be refused`);
}

describe('parseConnectionUrl', () => {
  it('reads both schemes with every part', () => {
    for (const scheme of ['postgres', 'postgresql', 'POSTGRESQL']) {
      expect(parseConnectionUrl(`${scheme}://alice:pw@db.example.com:6543/shop`)).toEqual({
        host: 'db.example.com', port: 6543, database: 'shop', databaseGiven: true, user: 'alice', password: 'pw', sslmode: 'prefer',
      });
    }
  });

  it('percent-decodes user, password and database', () => {
    const spec = parseConnectionUrl('postgres://app%20user:p%40ssw%3Ard@h/my%2Fdb%20one');
    expect(spec.user).toBe('app user');
    expect(spec.password).toBe('p@ssw:rd');
    expect(spec.database).toBe('my/db one');
  });

  it('keeps an unencoded colon inside the password (only the first one separates)', () => {
    expect(parseConnectionUrl('postgres://u:a:b@h/db').password).toBe('a:b');
  });

  it('defaults the port to 5432 and the database to postgres, and says whether one was named', () => {
    const spec = parseConnectionUrl('postgres://u@h');
    expect(spec).toMatchObject({ port: 5432, database: 'postgres', databaseGiven: false });
    expect(spec.password).toBeUndefined();
    expect(parseConnectionUrl('postgres://u@h/').databaseGiven).toBe(false);
  });

  it('reads IPv6 hosts in brackets, with and without a port', () => {
    expect(parseConnectionUrl('postgres://u@[::1]:5433/db')).toMatchObject({ host: '::1', port: 5433 });
    expect(parseConnectionUrl('postgres://u@[2001:db8::10]/db')).toMatchObject({ host: '2001:db8::10', port: 5432 });
  });

  it.each(SSL_MODES)('accepts sslmode=%s', (mode) => {
    expect(parseConnectionUrl(`postgres://u@h/db?sslmode=${mode}`).sslmode).toBe(mode);
  });

  it('defaults sslmode to prefer, as libpq does', () => {
    expect(parseConnectionUrl('postgres://u@h/db').sslmode).toBe('prefer');
  });

  it('reads sslrootcert, sslcert, sslkey, connect_timeout and application_name', () => {
    const spec = parseConnectionUrl('postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Frds.pem&sslcert=/c.pem&sslkey=/k.pem&connect_timeout=15&application_name=my%20app');
    expect(spec).toMatchObject({ sslmode: 'verify-full', sslrootcert: '/etc/ssl/rds.pem', sslcert: '/c.pem', sslkey: '/k.pem', connectTimeoutSeconds: 15, applicationName: 'my app' });
  });

  it('reads a Unix-socket folder as a percent-encoded host or as ?host=', () => {
    expect(parseConnectionUrl('postgres://u@%2Fvar%2Frun%2Fpostgresql/db').host).toBe('/var/run/postgresql');
    expect(parseConnectionUrl('postgres://u@/db?host=/tmp').host).toBe('/tmp');
  });

  it('remembers the password for redaction', async () => {
    const { redact } = await import('../../../src/connection/redact.ts');
    parseConnectionUrl('postgres://u:Remembered-Secret-1@h/db');
    expect(redact('server said Remembered-Secret-1')).toBe('server said ***');
  });

  const malformed: [string, string, RegExp][] = [
    ['empty', '', /empty/],
    ['wrong scheme', `mysql://u:${SECRET}@h/db`, /postgres:\/\/ or postgresql:\/\//],
    ['no scheme', `u:${SECRET}@h/db`, /postgres:\/\//],
    ['bad percent-encoding in the password', `postgres://u:${SECRET}%zz@h/db`, /password.*invalid percent-encoding/],
    ['bad percent-encoding in the database', `postgres://u:${SECRET}@h/d%zzb`, /database name.*invalid percent-encoding/],
    ['non-numeric port', `postgres://u:${SECRET}@h:54x2/db`, /port "54x2"/],
    ['port out of range', `postgres://u:${SECRET}@h:70000/db`, /port "70000".*1 to 65535/],
    ['missing user', `postgres://${'h'}/db`, /names no user/],
    ['empty user', `postgres://:${SECRET}@h/db`, /names no user/],
    ['missing host', `postgres://u:${SECRET}@/db`, /names no host/],
    ['unencoded @ in the password', `postgres://u:${SECRET}@x@h/db`, /percent-encode.*%40/],
    ['unencoded / in the password', `postgres://u:${SECRET}/x@h/db`, /percent-encode/],
    ['unencoded # in the password', `postgres://u:${SECRET}#x@h/db`, /percent-encode/],
    ['several hosts', `postgres://u:${SECRET}@h1:5432,h2:5432/db`, /several hosts/],
    ['unbracketed IPv6', `postgres://u:${SECRET}@::1:5432/db`, /IPv6.*brackets/],
    ['unclosed IPv6 bracket', `postgres://u:${SECRET}@[::1/db`, /closing bracket/],
    ['unknown sslmode', `postgres://u:${SECRET}@h/db?sslmode=always`, /sslmode "always" is not one of disable, allow, prefer, require, verify-ca, verify-full/],
    ['bad connect_timeout', `postgres://u:${SECRET}@h/db?connect_timeout=soon`, /connect_timeout "soon"/],
    ['unknown parameter', `postgres://u:${SECRET}@h/db?target_session_attrs=any`, /parameter "target_session_attrs" is not supported; use sslmode/],
    ['parameter without value', `postgres://u:${SECRET}@h/db?sslmode`, /"sslmode" has no value/],
    ['slash in the database', `postgres://u:${SECRET}@h/a/b`, /%2F/],
  ];
  it.each(malformed)('refuses %s with one sentence that hides the password', (_case, url, pattern) => {
    const error = parseError(url);
    expect(error.message).toMatch(pattern);
    expect(error.message).not.toContain(SECRET);
    expect(error.message).not.toContain('\n');
    expect(error.message).toMatch(/^[A-Z].*\.$/);
    expect(error.message.split(/\.\s+[A-Z]/).length).toBe(1);
  });
});

describe('endpoint helpers', () => {
  const spec = parseConnectionUrl('postgresql://alice:s%40cret@[::1]:5433/shop?sslmode=require&application_name=x%20y');

  it('describes an endpoint without the password', () => {
    expect(describeEndpoint(spec)).toBe('alice@[::1]:5433/shop');
  });

  it('formats a URL that masks the password unless asked, and parses back to the same spec', () => {
    expect(formatConnectionUrl(spec)).toBe('postgresql://alice:***@[::1]:5433/shop?sslmode=require&application_name=x%20y');
    expect(parseConnectionUrl(formatConnectionUrl(spec, { includePassword: true }))).toEqual(spec);
  });

  it('switches the database', () => {
    expect(withDatabase(parseConnectionUrl('postgres://u@h'), 'other')).toMatchObject({ database: 'other', databaseGiven: true });
  });
});
