import { describe, expect, it } from 'vitest';
import { redact } from '../../../src/connection/redact.ts';
import {
  ConnectionUrlError,
  describeEndpoint,
  formatConnectionUrl,
  parseConnectionUrl,
  SSL_MODES,
  withDatabase,
  type ConnectionSpec,
} from '../../../src/connection/url.ts';

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

function expectOneSentence(message: string): void {
  expect(message).not.toContain('\n');
  expect(message).toMatch(/^[A-Z].*\.$/);
  expect(message.split(/\.\s+[A-Z]/)).toHaveLength(1);
}

describe('parseConnectionUrl', () => {
  it('reads both schemes with every part', () => {
    for (const scheme of ['postgres', 'postgresql', 'POSTGRESQL']) {
      expect(parseConnectionUrl(`${scheme}://alice:pw@db.example.com:6543/shop`)).toEqual({
        host: 'db.example.com',
        port: 6543,
        database: 'shop',
        databaseGiven: true,
        user: 'alice',
        password: 'pw',
        sslmode: 'prefer',
      });
    }
  });

  it('percent-decodes the password', () => {
    expect(parseConnectionUrl('postgres://u:p%40ssw%3Ard@h/db').password).toBe('p@ssw:rd');
    expect(parseConnectionUrl('postgres://u:a%2Fb%3Fc%23d%25e%20f@h/db').password).toBe('a/b?c#d%e f');
  });

  it('percent-decodes the user and the database, %2F included', () => {
    const spec = parseConnectionUrl('postgres://app%20user%40corp:pw@h/my%2Fdb%20one');
    expect(spec.user).toBe('app user@corp');
    expect(spec.database).toBe('my/db one');
  });

  it('keeps an unencoded colon inside the password (only the first one separates)', () => {
    expect(parseConnectionUrl('postgres://u:a:b@h/db').password).toBe('a:b');
  });

  it('treats a missing or empty password as none, so pg falls back to PGPASSWORD and ~/.pgpass', () => {
    expect(parseConnectionUrl('postgres://u@h/db')).not.toHaveProperty('password');
    expect(parseConnectionUrl('postgres://u:@h/db')).not.toHaveProperty('password');
  });

  it('defaults the port to 5432 and the database to postgres, and says whether one was named', () => {
    expect(parseConnectionUrl('postgres://u@h')).toMatchObject({
      port: 5432,
      database: 'postgres',
      databaseGiven: false,
    });
    expect(parseConnectionUrl('postgres://u@h/').databaseGiven).toBe(false);
    expect(parseConnectionUrl('postgres://u@h?sslmode=require')).toMatchObject({
      database: 'postgres',
      databaseGiven: false,
      sslmode: 'require',
    });
    expect(parseConnectionUrl('postgres://u@h/postgres').databaseGiven).toBe(true);
  });

  it('reads IPv4 hosts and host names with a trailing dot', () => {
    expect(parseConnectionUrl('postgres://u@10.0.0.5:5433/db')).toMatchObject({ host: '10.0.0.5', port: 5433 });
    expect(parseConnectionUrl('postgres://u@db.example.com./db').host).toBe('db.example.com.');
  });

  it('reads IPv6 hosts in brackets, with and without a port, and with a zone id', () => {
    expect(parseConnectionUrl('postgres://u@[::1]:5433/db')).toMatchObject({ host: '::1', port: 5433 });
    expect(parseConnectionUrl('postgres://u@[2001:db8::10]/db')).toMatchObject({ host: '2001:db8::10', port: 5432 });
    expect(parseConnectionUrl('postgres://u@[::1]')).toMatchObject({ host: '::1', port: 5432, databaseGiven: false });
    expect(parseConnectionUrl('postgres://u@[fe80::1%25eth0]:5432/db').host).toBe('fe80::1%eth0');
  });

  it.each(SSL_MODES)('accepts sslmode=%s', (mode) => {
    expect(parseConnectionUrl(`postgres://u@h/db?sslmode=${mode}`).sslmode).toBe(mode);
  });

  it('defaults sslmode to prefer, as libpq does', () => {
    expect(parseConnectionUrl('postgres://u@h/db').sslmode).toBe('prefer');
  });

  it('reads sslrootcert, sslcert, sslkey, connect_timeout and application_name', () => {
    const spec = parseConnectionUrl(
      'postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Frds.pem&sslcert=/c.pem&sslkey=/k.pem&connect_timeout=15&application_name=my%20app',
    );
    expect(spec).toMatchObject({
      sslmode: 'verify-full',
      sslrootcert: '/etc/ssl/rds.pem',
      sslcert: '/c.pem',
      sslkey: '/k.pem',
      connectTimeoutSeconds: 15,
      applicationName: 'my app',
    });
  });

  it('accepts connect_timeout=0 (no limit, as in libpq)', () => {
    expect(parseConnectionUrl('postgres://u@h/db?connect_timeout=0').connectTimeoutSeconds).toBe(0);
  });

  it('keeps a literal + in a parameter, as libpq does (only %20 is a space)', () => {
    expect(parseConnectionUrl('postgres://u@h/db?application_name=a+b').applicationName).toBe('a+b');
  });

  it('ignores empty parameters and a fragment', () => {
    expect(parseConnectionUrl('postgres://u@h/db?&sslmode=require&#frag')).toMatchObject({
      database: 'db',
      sslmode: 'require',
    });
  });

  it('reads a Unix-socket folder as a percent-encoded host or as ?host=', () => {
    expect(parseConnectionUrl('postgres://u@%2Fvar%2Frun%2Fpostgresql/db').host).toBe('/var/run/postgresql');
    expect(parseConnectionUrl('postgres://u@%2Ftmp:5499/db')).toMatchObject({ host: '/tmp', port: 5499 });
    expect(parseConnectionUrl('postgres://u@/db?host=/var/run/postgresql')).toMatchObject({
      host: '/var/run/postgresql',
      database: 'db',
    });
    expect(parseConnectionUrl('postgres://u@h/db?host=%2Ftmp').host).toBe('/tmp');
  });

  it('remembers the password for redaction, decoded and as written', () => {
    parseConnectionUrl('postgres://u:Remembered%2FSecret-1@h/db');
    expect(redact('server said Remembered/Secret-1')).toBe('server said ***');
    expect(redact('argv had Remembered%2FSecret-1')).toBe('argv had ***');
  });

  it('remembers the likely password of a URL it refuses for a stray @', () => {
    parseError('postgres://u:Stray-At@Secret-2@h/db');
    expect(redact('echo Stray-At@Secret-2')).toBe('echo ***');
  });

  it('remembers a refused ?password= value', () => {
    parseError('postgres://u@h/db?password=Query-Secret-3');
    expect(redact('echo Query-Secret-3')).toBe('echo ***');
  });

  it('names its errors ConnectionUrlError', () => {
    expect(parseError('').name).toBe('ConnectionUrlError');
  });

  it('reports a missing user even when a query value holds an @', () => {
    expect(parseError('postgres://h/db?application_name=me@corp').message).toMatch(/names no user/);
  });

  const malformed: Array<[string, string, RegExp]> = [
    ['empty', '', /empty/],
    ['only spaces', '   ', /empty/],
    ['wrong scheme', `mysql://u:${SECRET}@h/db`, /postgres:\/\/ or postgresql:\/\//],
    ['http scheme', `http://u:${SECRET}@h/db`, /postgres:\/\/ or postgresql:\/\//],
    ['no scheme', `u:${SECRET}@h/db`, /postgres:\/\//],
    ['a single slash', `postgres:/u:${SECRET}@h/db`, /postgres:\/\//],
    ['bad percent-encoding in the password', `postgres://u:${SECRET}%zz@h/db`, /password.*invalid percent-encoding/],
    ['a lone % in the password', `postgres://u:${SECRET}%@h/db`, /password.*invalid percent-encoding.*%25/],
    ['bad percent-encoding in the user', `postgres://u%zz:${SECRET}@h/db`, /user name.*invalid percent-encoding/],
    ['bad percent-encoding in the host', `postgres://u:${SECRET}@h%zz/db`, /host.*invalid percent-encoding/],
    [
      'bad percent-encoding in the database',
      `postgres://u:${SECRET}@h/d%zzb`,
      /database name.*invalid percent-encoding/,
    ],
    [
      'bad percent-encoding in a parameter',
      `postgres://u:${SECRET}@h/db?application_name=%zz`,
      /parameter value.*invalid percent-encoding/,
    ],
    ['non-numeric port', `postgres://u:${SECRET}@h:54x2/db`, /port "54x2"/],
    ['negative port', `postgres://u:${SECRET}@h:-1/db`, /port "-1"/],
    ['port zero', `postgres://u:${SECRET}@h:0/db`, /port "0".*1 to 65535/],
    ['port out of range', `postgres://u:${SECRET}@h:70000/db`, /port "70000".*1 to 65535/],
    ['a colon without a port', `postgres://u:${SECRET}@h:/db`, /no port number/],
    ['missing user', 'postgres://h/db', /names no user/],
    ['empty user', `postgres://:${SECRET}@h/db`, /names no user/],
    ['missing host', `postgres://u:${SECRET}@/db`, /names no host/],
    ['empty ?host=', `postgres://u:${SECRET}@/db?host=`, /names no host/],
    ['a host with a space', `postgres://u:${SECRET}@db%20host/db`, /host "db host".*not a host name/],
    ['a host with a bad character', `postgres://u:${SECRET}@db!host/db`, /host "db!host"/],
    ['unencoded @ in the password', `postgres://u:${SECRET}@x@h/db`, /@ where the host should be.*%40/],
    ['unencoded @ twice in the password', `postgres://u:a@${SECRET}@b@h/db`, /percent-encode.*%40/],
    ['unencoded / in the password', `postgres://u:${SECRET}/x@h/db`, /percent-encode.*%2F/],
    ['unencoded ? in the password', `postgres://u:${SECRET}?x@h/db`, /percent-encode.*%3F/],
    ['unencoded # in the password', `postgres://u:${SECRET}#x@h/db`, /percent-encode.*%23/],
    ['several hosts', `postgres://u:${SECRET}@h1:5432,h2:5432/db`, /several hosts.*not supported/],
    ['several hosts without ports', `postgres://u:${SECRET}@h1,h2/db`, /several hosts/],
    ['several hosts in ?host=', `postgres://u:${SECRET}@/db?host=h1,h2`, /several hosts/],
    ['unbracketed IPv6', `postgres://u:${SECRET}@::1:5432/db`, /IPv6.*brackets/],
    ['unclosed IPv6 bracket', `postgres://u:${SECRET}@[::1/db`, /closing bracket/],
    ['a bracketed non-IPv6 host', `postgres://u:${SECRET}@[db.example.com]/db`, /not an IPv6 address/],
    ['text after the IPv6 bracket', `postgres://u:${SECRET}@[::1]x/db`, /not a :port/],
    [
      'unknown sslmode',
      `postgres://u:${SECRET}@h/db?sslmode=always`,
      /sslmode "always" is not one of disable, allow, prefer, require, verify-ca, verify-full/,
    ],
    ['upper-case sslmode', `postgres://u:${SECRET}@h/db?sslmode=REQUIRE`, /sslmode "REQUIRE"/],
    ['non-numeric connect_timeout', `postgres://u:${SECRET}@h/db?connect_timeout=soon`, /connect_timeout "soon"/],
    ['negative connect_timeout', `postgres://u:${SECRET}@h/db?connect_timeout=-1`, /connect_timeout "-1"/],
    [
      'fractional connect_timeout',
      `postgres://u:${SECRET}@h/db?connect_timeout=1.5`,
      /connect_timeout "1.5".*whole number/,
    ],
    [
      'huge connect_timeout',
      `postgres://u:${SECRET}@h/db?connect_timeout=99999999`,
      /connect_timeout "99999999".*from 0 to 2147483/,
    ],
    [
      'unknown parameter',
      `postgres://u:${SECRET}@h/db?target_session_attrs=any`,
      /parameter "target_session_attrs" is not supported; use sslmode, sslrootcert, sslcert, sslkey, connect_timeout, application_name, host/,
    ],
    ['a password parameter', `postgres://u@h/db?password=${SECRET}`, /parameter "password" is not supported/],
    ['parameter without value', `postgres://u:${SECRET}@h/db?sslmode`, /"sslmode" has no value/],
    ['slash in the database', `postgres://u:${SECRET}@h/a/b`, /%2F/],
  ];
  it.each(malformed)('refuses %s with one sentence that hides the password', (_case, url, pattern) => {
    const error = parseError(url);
    expect(error.message).toMatch(pattern);
    expect(error.message).not.toContain(SECRET);
    // Not even masked: the message never quotes the password in the first place.
    expect(error.message).not.toContain('***');
    expectOneSentence(error.message);
  });

  it('never quotes a control character or an endless value back', () => {
    const message = parseError(`postgres://u:${SECRET}@h/db?sslmode=a%0Ab${'x'.repeat(200)}`).message;
    expectOneSentence(message);
    expect(message.length).toBeLessThan(200);
  });
});

describe('endpoint helpers', () => {
  const spec = parseConnectionUrl(
    'postgresql://alice:s%40cret-pw@[::1]:5433/shop?sslmode=require&application_name=x%20y',
  );

  it('describes an endpoint without the password', () => {
    expect(describeEndpoint(parseConnectionUrl('postgres://alice:Endpoint-Secret@db.example.com/shop'))).toBe(
      'alice@db.example.com:5432/shop',
    );
    expect(describeEndpoint(spec)).toBe('alice@[::1]:5433/shop');
    expect(describeEndpoint(spec)).not.toContain('cret');
  });

  it('formats a URL that masks the password', () => {
    expect(formatConnectionUrl(spec)).toBe(
      'postgresql://alice:***@[::1]:5433/shop?sslmode=require&application_name=x%20y',
    );
    expect(formatConnectionUrl(parseConnectionUrl('postgres://u@h/db'))).toBe('postgresql://u@h:5432/db');
  });

  const roundTrips = [
    'postgresql://alice:s%40cret-pw@[::1]:5433/shop?sslmode=require&application_name=x%20y',
    'postgres://a%20b%40c:p%40ss%3Aw%2Fo%3Frd%23%25@db.example.com:6543/my%2Fdb%20%27x%27',
    'postgres://u@h',
    'postgres://u@%2Fvar%2Frun%2Fpostgresql:5499/db',
    'postgres://u@/db?host=/tmp%3Aodd',
    'postgres://u@[fe80::1%25eth0]/db',
    'postgres://u@h/db?sslmode=verify-full&sslrootcert=/a%20b/ca.pem&sslcert=/c.pem&sslkey=/k.pem&connect_timeout=0&application_name=a%2Bb%26c%3Dd',
  ];
  it.each(roundTrips)('round-trips %s through parseConnectionUrl, but for the masked password', (url) => {
    const parsed: ConnectionSpec = parseConnectionUrl(url);
    expect(parseConnectionUrl(formatConnectionUrl(parsed))).toEqual(
      parsed.password === undefined ? parsed : { ...parsed, password: '***' },
    );
  });

  it('switches the database', () => {
    const original = parseConnectionUrl('postgres://u@h');
    expect(withDatabase(original, 'other')).toMatchObject({
      database: 'other',
      databaseGiven: true,
      host: 'h',
      user: 'u',
    });
    expect(original.database).toBe('postgres');
  });
});
