import { describe, expect, it } from 'vitest';
import {
  ConnectionError,
  describeConnectionError,
  type ConnectionFailureReason,
} from '../../../src/connection/errors.ts';
import { parseConnectionUrl } from '../../../src/connection/url.ts';

const PASSWORD = 'Err-Secret-99';
const spec = parseConnectionUrl(`postgres://alice:${PASSWORD}@db.example.com:5432/shop`);
const withCode = (code: string, message: string) => Object.assign(new Error(message), { code });

const cases: Array<[string, unknown, ConnectionFailureReason, RegExp, RegExp]> = [
  [
    'a wrong password',
    withCode('28P01', 'password authentication failed for user "alice"'),
    'auth-failed',
    /: password authentication failed for user "alice"\.$/,
    /password.*percent-encode/,
  ],
  [
    'a wrong password reported as 28000',
    withCode('28000', 'password authentication failed for user "alice"'),
    'auth-failed',
    /password authentication failed/,
    /percent-encode/,
  ],
  [
    'a missing password',
    new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'),
    'auth-failed',
    /asked for a password.*none was given/,
    /PGPASSWORD.*pgpass/,
  ],
  [
    'another authentication failure',
    withCode('28000', 'role "alice" is not permitted to log in'),
    'auth-failed',
    /authentication failed for user "alice"/,
    /may log in/,
  ],
  [
    'a pg_hba rejection with SSL off',
    withCode('28000', 'no pg_hba.conf entry for host "10.0.0.9", user "alice", database "shop", SSL off'),
    'tls-required',
    /only encrypted connections/,
    /sslmode=require/,
  ],
  [
    'a pg_hba rejection with no encryption',
    withCode('28000', 'no pg_hba.conf entry for host "10.0.0.9", user "alice", database "shop", no encryption'),
    'tls-required',
    /only encrypted connections/,
    /sslmode=require/,
  ],
  [
    'a pg_hba rejection with TLS',
    withCode('28000', 'no pg_hba.conf entry for host "10.0.0.9", user "alice", database "shop", SSL encryption'),
    'pg-hba-rejected',
    /pg_hba\.conf has no entry/,
    /host or hostssl line.*client address 10\.0\.0\.9, user alice and database shop.*rds\.force_ssl.*sslmode=require/,
  ],
  [
    'a pg_hba rejection without an address',
    withCode('28000', 'pg_hba.conf rejects connection for user "alice"'),
    'pg-hba-rejected',
    /pg_hba\.conf has no entry/,
    /this client address/,
  ],
  [
    'a missing database',
    withCode('3D000', 'database "shop" does not exist'),
    'database-missing',
    /database "shop" does not exist/,
    /datname/,
  ],
  [
    'too many connections',
    withCode('53300', 'sorry, too many clients already'),
    'too-many-connections',
    /no free connection slots/,
    /max_connections/,
  ],
  [
    'a refused connection',
    withCode('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:5432'),
    'host-unreachable',
    /nothing answered at db\.example\.com:5432 \(ECONNREFUSED\)/,
    /running and listening on db\.example\.com:5432.*security group.*publicly accessible/,
  ],
  [
    'an unreachable host',
    withCode('EHOSTUNREACH', 'connect EHOSTUNREACH 10.0.0.1:5432'),
    'host-unreachable',
    /nothing answered.*EHOSTUNREACH/,
    /security group/,
  ],
  [
    'an unreachable network',
    withCode('ENETUNREACH', 'connect ENETUNREACH 10.0.0.1:5432'),
    'host-unreachable',
    /nothing answered.*ENETUNREACH/,
    /security group/,
  ],
  ['a reset connection', withCode('ECONNRESET', 'read ECONNRESET'), 'host-unreachable', /was reset/, /listening/],
  [
    'a socket timeout',
    withCode('ETIMEDOUT', 'connect ETIMEDOUT 10.0.0.1:5432'),
    'timeout',
    /connection to db\.example\.com:5432 timed out/,
    /network path.*security group.*connect_timeout/,
  ],
  [
    "pg's connection timeout",
    new Error('Connection terminated due to connection timeout'),
    'timeout',
    /timed out/,
    /security group/,
  ],
  ["libpq's timeout", new Error('timeout expired'), 'timeout', /timed out/, /security group/],
  [
    'a DNS failure',
    withCode('ENOTFOUND', 'getaddrinfo ENOTFOUND db.example.com'),
    'dns-failure',
    /host name "db\.example\.com" could not be resolved/,
    /typos.*rds\.amazonaws\.com/,
  ],
  [
    'a DNS server failure',
    withCode('EAI_AGAIN', 'getaddrinfo EAI_AGAIN db.example.com'),
    'dns-failure',
    /"db\.example\.com" could not be resolved \(the DNS server did not answer\)/,
    /DNS/,
  ],
  [
    'a server without TLS',
    new Error('The server does not support SSL connections'),
    'tls-unsupported',
    /does not support TLS/,
    /sslmode=prefer or sslmode=disable/,
  ],
  [
    'a host-name mismatch',
    withCode('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"),
    'certificate-host-mismatch',
    /not valid for the host name "db\.example\.com"/,
    /endpoint.*sslmode=verify-ca/,
  ],
];

const untrusted = [
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
];
for (const code of untrusted) {
  cases.push([
    `certificate error ${code}`,
    withCode(code, 'certificate problem'),
    'certificate-untrusted',
    new RegExp(`certificate is not trusted \\(${code}\\)`),
    /sslrootcert=.*RDS global bundle.*--allow-self-signed-certs/,
  ]);
}

describe('describeConnectionError', () => {
  it.each(cases)('explains %s in one sentence with a remedy', (_name, error, reason, message, remedy) => {
    const described = describeConnectionError(error, spec, 'source');
    expect(described).toBeInstanceOf(ConnectionError);
    expect(described.name).toBe('ConnectionError');
    expect(described.reason).toBe(reason);
    expect(described.message).toMatch(/^Could not connect to the source \(alice@db\.example\.com:5432\/shop\): /);
    expect(described.message).toMatch(message);
    expect(described.message).toMatch(/\.$/);
    expect(described.message).not.toContain('\n');
    expect(described.message).not.toContain(PASSWORD);
    expect(described.remedy).toMatch(remedy);
    expect(described.remedy).not.toContain(PASSWORD);
    expect(described.endpoint).toBe('alice@db.example.com:5432/shop');
    expect(described.cause).toBe(error);
  });

  it('talks about the socket, not the network, for a Unix-socket host', () => {
    const socket = parseConnectionUrl('postgres://alice@%2Fvar%2Frun%2Fpostgresql:5433/shop');
    for (const code of ['ENOENT', 'ECONNREFUSED']) {
      const described = describeConnectionError(
        withCode(code, `connect ${code} /var/run/postgresql/.s.PGSQL.5433`),
        socket,
        'target',
      );
      expect(described.reason).toBe('host-unreachable');
      expect(described.message).toMatch(
        /no server is listening on the socket \/var\/run\/postgresql\/\.s\.PGSQL\.5433/,
      );
      expect(described.remedy).toMatch(/unix_socket_directories/);
      expect(described.remedy).not.toMatch(/security group/);
    }
  });

  it('finds the code inside an AggregateError (Node trying several addresses)', () => {
    const aggregate = new AggregateError(
      [
        withCode('ECONNREFUSED', 'connect ECONNREFUSED ::1:5432'),
        withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      ],
      '',
    );
    expect(describeConnectionError(aggregate, spec, 'source').reason).toBe('host-unreachable');
  });

  it('never repeats the password, even when the driver does', () => {
    const described = describeConnectionError(new Error(`weird failure with ${PASSWORD} in it`), spec, 'target');
    expect(described.reason).toBe('unknown');
    expect(described.message).not.toContain(PASSWORD);
    expect(described.message).toBe(
      'Could not connect to the target (alice@db.example.com:5432/shop): weird failure with *** in it.',
    );
  });

  it('masks a URL password the driver echoes even when it was never registered', () => {
    const described = describeConnectionError(
      new Error('bad option in postgres://bob:Unregistered-77@h/db'),
      spec,
      'target',
    );
    expect(described.message).not.toContain('Unregistered-77');
  });

  it('keeps an unknown error to its first line, without a doubled full stop', () => {
    const described = describeConnectionError(
      new Error('Something odd happened.\n  at frame 1\n  at frame 2'),
      spec,
      'source',
    );
    expect(described.reason).toBe('unknown');
    expect(described.message).toBe(
      'Could not connect to the source (alice@db.example.com:5432/shop): Something odd happened.',
    );
    expect(described.remedy).toMatch(/server log/);
  });

  it('copes with things thrown that are not errors', () => {
    expect(describeConnectionError('plain string', spec, 'source').message).toMatch(/: plain string\.$/);
    expect(describeConnectionError(undefined, spec, 'source').message).toMatch(/: undefined\.$/);
    expect(
      describeConnectionError({ code: '3D000', message: 'database "shop" does not exist' }, spec, 'source').reason,
    ).toBe('database-missing');
    expect(describeConnectionError(new Error(''), spec, 'source').message).toMatch(/: unknown error\.$/);
  });

  it('says "database" when no role is given', () => {
    expect(describeConnectionError(withCode('3D000', 'x'), spec).message).toMatch(
      /^Could not connect to the database \(/,
    );
  });

  it('passes a ConnectionError through unchanged', () => {
    const first = describeConnectionError(withCode('3D000', 'x'), spec, 'source');
    expect(describeConnectionError(first, spec, 'target')).toBe(first);
  });

  it('names an IPv6 endpoint in brackets', () => {
    const v6 = parseConnectionUrl('postgres://alice@[::1]:5433/shop');
    expect(describeConnectionError(withCode('ECONNREFUSED', 'x'), v6, 'source').message).toMatch(
      /^Could not connect to the source \(alice@\[::1\]:5433\/shop\): nothing answered at ::1:5433/,
    );
  });
});
