// The RDS CA bundle on AWS: the same path in the Lambda functions (a layer, when the stack is deployed
// with -c rdsCaBundle=<file>) and in the task image, so a secret that asks for certificate checks
// names one file that both runtimes have. Files named in a secret must exist where the workflow runs:
// a path on the laptop that stored the secret means nothing there.
import { existsSync } from 'node:fs';
import { SecretMalformed } from '../connection/secrets.ts';
import type { ConnectionSpec } from '../connection/url.ts';

/** Where the workflow's functions and task find the RDS global CA bundle. */
export const RDS_CA_BUNDLE = '/opt/rds-ca/global-bundle.pem';

/** libpq's (and our) sslrootcert value for the system's CA store: no file. */
const SYSTEM_ROOTS = 'system';

const FILE_KEYS = ['sslrootcert', 'sslcert', 'sslkey'] as const;

/** The certificate and key files a connection names (sslrootcert=system names none). */
export function certificateFiles(spec: ConnectionSpec): { key: (typeof FILE_KEYS)[number]; path: string }[] {
  return FILE_KEYS.flatMap((key) => {
    const path = spec[key];
    return path === undefined || (key === 'sslrootcert' && path === SYSTEM_ROOTS) ? [] : [{ key, path }];
  });
}

/**
 * Refuses a connection from a secret whose certificate files this runtime does not have, with what
 * to do: deploy the bundle with the functions, or name the bundle's path in the secret.
 */
export function checkCertificateFiles(
  spec: ConnectionSpec,
  secretArn: string,
  exists: (path: string) => boolean = existsSync,
): void {
  for (const { key, path } of certificateFiles(spec)) {
    if (exists(path)) continue;
    if (path === RDS_CA_BUNDLE) {
      throw new SecretMalformed(
        `The secret ${secretArn} asks for ${key}=${RDS_CA_BUNDLE}, the RDS CA bundle, which this deployment does not carry; deploy the stack with -c rdsCaBundle=<path to the RDS global-bundle.pem> so the functions have it.`,
      );
    }
    throw new SecretMalformed(
      `The secret ${secretArn} names ${key}=${path}, a file the workflow does not have; for an RDS server use sslrootcert=${RDS_CA_BUNDLE} (the RDS CA bundle deployed with the workflow), sslrootcert=system for a public CA, or leave it out.`,
    );
  }
}
