import { describe, expect, it } from 'vitest';
import { ConnectionError, describeConnectionError, type ConnectionFailureReason } from '../../../src/connection/errors.ts';
import { parseConnectionUrl } from '../../../src/connection/url.ts';

const spec = parseConnectionUrl('postgres://alice:Err-Secret-99@db.example.com:5432/shop');
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

const cases: [string, unknown, ConnectionFailureReason, RegExp, RegExp][] = [
  ['a wrong password', pgError('28P01', 'password authentication failed for user "alice"'), 'auth-failed', /password authentication failed for user "alice"/, /percent-encode/],
  ['a pg_hba rejection', pgError('28000', 'no pg_hba.conf entry for host "10.0.0.9", user "alice", database "shop", SSL off'), 'tls-required', /only encrypted connections/, /sslmode=require/],
  ['a pg_hba rejection with TLS', pgError('28000', 'no pg_hba.conf entry for host "10.0.0.9", user "alice", database "shop", SSL encryption'), 'pg-hba-rejected', /pg_hba\.conf has no entry/, /pg_hba\.conf/],
  ['a missing database', pgError('3D000', 'database "shop" does not exist'), 'database-missing', /database "shop" does not exist/, /datname/],
  ['too many connections', pgError('53300', 'sorry, too many clients already'), 'too-many-connections', /no free connection slots/, /max_connections/],
  ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5432'), { code: 'ECONNREFUSED' }), 'host-unreachable', /nothing answered at db\.example\.com:5432/, /security group/],
  ['a timeout', new Error('Connection terminated due to connection timeout'), 'timeout', /timed out/, /security group/],
  ['a DNS failure', Object.assign(new Error('getaddrinfo ENOTFOUND db.example.com'), { code: 'ENOTFOUND' }), 'dns-failure', /could not be resolved/, /rds\.amazonaws\.com/],
  ['a self-signed certificate', Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }), 'certificate-untrusted', /not trusted/, /--allow-self-signed-certs.*|sslrootcert/],
  ['a host-name mismatch', Object.assign(new Error("Hostname/IP does not match certificate's altnames"), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), 'certificate-host-mismatch', /not valid for the host name/, /verify-ca/],
  ['a server without TLS', new Error('The server does not support SSL connections'), 'tls-unsupported', /does not support TLS/, /sslmode=prefer/],
];

describe('describeConnectionError', () => {
  it.each(cases)('explains %s in one sentence with a remedy', (_name, error, reason, message, remedy) => {
    const described = describeConnectionError(error, spec, 'source');
    expect(described).toBeInstanceOf(ConnectionError);
    expect(described.reason).toBe(reason);
    expect(described.message).toMatch(/^Could not connect to the source \(alice@db\.example\.com:5432\/shop\): /);
    expect(described.message).toMatch(message);
    expect(described.message).toMatch(/\.$/);
    expect(described.message).not.toContain('\n');
    expect(described.remedy).toMatch(remedy);
    expect(described.cause).toBe(error);
  });

  it('never repeats the password, even when the driver does', () => {
    const described = describeConnectionError(new Error('weird failure with Err-Secret-99 in it'), spec, 'target');
    expect(described.reason).toBe('unknown');
    expect(described.message).not.toContain('Err-Secret-99');
    expect(described.message).toContain('Could not connect to the target');
  });
});
