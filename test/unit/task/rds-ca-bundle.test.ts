// The RDS CA bundle on AWS, and the certificate files a secret may name there.
import { readFileSync } from 'node:fs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveEndpoints } from '../../../lambdas/shared/endpoints.ts';
import { parseConnectionUrl } from '../../../src/connection/url.ts';
import { certificateFiles, checkCertificateFiles, RDS_CA_BUNDLE } from '../../../src/task/rds-ca-bundle.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:database-replicator/shop-AbCdEf';
const spec = (query: string) => parseConnectionUrl(`postgresql://repl:pw@db.example.com/shop?${query}`);
const sm = mockClient(SecretsManagerClient);
afterAll(() => sm.restore());

describe('certificate files of a secret on AWS', () => {
  it('lists the files a connection names; sslrootcert=system is none', () => {
    expect(certificateFiles(spec('sslmode=verify-full&sslrootcert=/a.pem&sslcert=/c.crt&sslkey=/c.key'))).toEqual([
      { key: 'sslrootcert', path: '/a.pem' },
      { key: 'sslcert', path: '/c.crt' },
      { key: 'sslkey', path: '/c.key' },
    ]);
    expect(certificateFiles(spec('sslmode=verify-full&sslrootcert=system'))).toEqual([]);
  });

  it('refuses a file this runtime does not have, saying how to ship the RDS bundle or which path to name', () => {
    const none = () => false;
    expect(() => checkCertificateFiles(spec(`sslmode=verify-full&sslrootcert=${RDS_CA_BUNDLE}`), ARN, none)).toThrow(
      `The secret ${ARN} asks for sslrootcert=${RDS_CA_BUNDLE}, the RDS CA bundle, which this deployment does not carry; deploy the stack with -c rdsCaBundle=`,
    );
    expect(() =>
      checkCertificateFiles(spec('sslmode=verify-full&sslrootcert=/home/me/global-bundle.pem'), ARN, none),
    ).toThrow(
      expect.objectContaining({
        name: 'SecretMalformed',
        message: expect.stringContaining(
          `names sslrootcert=/home/me/global-bundle.pem, a file the workflow does not have; for an RDS server use sslrootcert=${RDS_CA_BUNDLE}`,
        ),
      }),
    );
    expect(() =>
      checkCertificateFiles(spec(`sslmode=verify-full&sslrootcert=${RDS_CA_BUNDLE}`), ARN, (p) => p === RDS_CA_BUNDLE),
    ).not.toThrow();
    expect(() => checkCertificateFiles(spec('sslmode=require'), ARN, none)).not.toThrow();
  });

  it('is checked by the functions when they read the secrets, before they connect', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        username: 'repl',
        password: 'pw',
        host: 'db.example.com',
        sslmode: 'verify-full',
        sslrootcert: '/nowhere/ca.pem',
      }),
    });
    await expect(
      resolveEndpoints(new SecretsManagerClient({ region: 'eu-west-1' }), {
        sourceSecretArn: ARN,
        targetSecretArn: ARN,
      }),
    ).rejects.toThrow(/names sslrootcert=\/nowhere\/ca\.pem, a file the workflow does not have/);
  });

  it('is where the task image puts the bundle', () => {
    const dockerfile = readFileSync(new URL('../../../containers/replicator/Dockerfile', import.meta.url), 'utf8');
    expect(dockerfile).toContain(`-o ${RDS_CA_BUNDLE} `);
  });
});
