import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { ConnectionUrlError, type ConnectionSpec } from './url.ts';

export interface TlsPolicy {
  /** --allow-self-signed-certs: encrypt, but accept any server certificate. */
  allowSelfSignedCerts: boolean;
}

/** libpq 16's special sslrootcert value: trust the system's CA store instead of a file. */
const SYSTEM_ROOTS = 'system';

function isSocket(spec: ConnectionSpec): boolean {
  return spec.host.startsWith('/');
}

/**
 * The attempts libpq makes for each sslmode: `prefer` tries TLS and falls back to plain TCP when the
 * server has no TLS; `allow` tries plain first. Unix sockets never use TLS.
 */
export function tlsAttempts(spec: ConnectionSpec): Array<'plain' | 'tls'> {
  if (isSocket(spec)) return ['plain'];
  switch (spec.sslmode) {
    case 'disable':
      return ['plain'];
    case 'allow':
      return ['plain', 'tls'];
    case 'prefer':
      return ['tls', 'plain'];
    default:
      return ['tls'];
  }
}

function readPem(path: string, what: string, readFile: (path: string) => string): string {
  try {
    return readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'cannot be read (permission denied)'
          : code === 'EISDIR'
            ? 'is a folder, not a file'
            : 'cannot be read';
    throw new ConnectionUrlError(`The ${what} file ${path} ${problem}; fix the path in the URL.`);
  }
}

/** Whether libpq would check the certificate chain: verify-* always, `require` only when given a root certificate. */
function verifiesChain(spec: ConnectionSpec): boolean {
  return (
    spec.sslmode === 'verify-ca' ||
    spec.sslmode === 'verify-full' ||
    (spec.sslmode === 'require' && spec.sslrootcert !== undefined)
  );
}

/**
 * pg's `ssl` option for one TLS attempt, with libpq's meaning of each sslmode: `require` encrypts
 * without checking the certificate unless an sslrootcert is given (then it checks the chain, as
 * libpq does); `verify-ca` checks the chain only; `verify-full` also the host name. `allow` and
 * `prefer` never check: their point is to connect whatever the server offers.
 * With `policy.allowSelfSignedCerts` nothing is checked and no root certificate is read.
 */
export function tlsOptionsFor(
  spec: ConnectionSpec,
  policy: TlsPolicy,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): false | ConnectionOptions {
  if (spec.sslmode === 'disable' || isSocket(spec)) return false;
  const options: ConnectionOptions = {};
  if (spec.sslcert) options.cert = readPem(spec.sslcert, 'sslcert', readFile);
  if (spec.sslkey) options.key = readPem(spec.sslkey, 'sslkey', readFile);
  // SNI must be a DNS name (RFC 6066); RDS Proxy and some load balancers route by it.
  if (isIP(spec.host) === 0) options.servername = spec.host;

  if (policy.allowSelfSignedCerts || !verifiesChain(spec)) {
    options.rejectUnauthorized = false;
    return options;
  }
  options.rejectUnauthorized = true;
  // Without a root file Node's bundled CA store applies, which is what a public CA chain needs.
  if (spec.sslrootcert && spec.sslrootcert !== SYSTEM_ROOTS)
    options.ca = readPem(spec.sslrootcert, 'sslrootcert', readFile);
  // verify-ca (and require with a root file) trusts any name the CA signed; Node's default check stays for verify-full.
  if (spec.sslmode !== 'verify-full') options.checkServerIdentity = () => undefined;
  return options;
}
