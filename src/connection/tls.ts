import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { ConnectionUrlError, type ConnectionSpec } from './url.ts';

export interface TlsPolicy {
  /** --allow-self-signed-certs: encrypt, but accept any server certificate. */
  allowSelfSignedCerts: boolean;
}

/**
 * The attempts libpq makes for each sslmode: `prefer` tries TLS and falls back to plain TCP when the
 * server has no TLS; `allow` tries plain first. Unix sockets never use TLS.
 */
export function tlsAttempts(spec: ConnectionSpec): Array<'plain' | 'tls'> {
  if (spec.host.startsWith('/')) return ['plain'];
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
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read';
    throw new ConnectionUrlError(`The ${what} file ${path} ${reason}; fix the path in the URL.`);
  }
}

/**
 * pg's `ssl` option for one TLS attempt, with libpq's meaning of each sslmode: `require` encrypts
 * without checking the certificate unless an sslrootcert is given (then it checks the chain, as
 * libpq does); `verify-ca` checks the chain only; `verify-full` also the host name.
 */
export function tlsOptionsFor(spec: ConnectionSpec, policy: TlsPolicy, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): false | ConnectionOptions {
  if (spec.sslmode === 'disable' || spec.host.startsWith('/')) return false;
  const options: ConnectionOptions = {};
  if (spec.sslcert) options.cert = readPem(spec.sslcert, 'sslcert', readFile);
  if (spec.sslkey) options.key = readPem(spec.sslkey, 'sslkey', readFile);
  // SNI must be a DNS name; RDS Proxy and some load balancers route by it.
  if (!isIP(spec.host)) options.servername = spec.host;

  const verifyChain = spec.sslmode === 'verify-ca' || spec.sslmode === 'verify-full' || (spec.sslmode === 'require' && spec.sslrootcert !== undefined);
  if (policy.allowSelfSignedCerts || !verifyChain) {
    options.rejectUnauthorized = false;
    return options;
  }
  options.rejectUnauthorized = true;
  if (spec.sslrootcert) options.ca = readPem(spec.sslrootcert, 'sslrootcert', readFile);
  if (spec.sslmode !== 'verify-full') options.checkServerIdentity = () => undefined;
  return options;
}
