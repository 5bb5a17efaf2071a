// Which target database the functions that connect open (lambdas/shared/endpoints.ts).
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveEndpoints } from '../../../lambdas/shared/endpoints.ts';
import { SOURCE_ARN, TARGET_ARN } from '../../support/lambda.ts';

const sm = mockClient(SecretsManagerClient);
afterAll(() => sm.restore());
sm.on(GetSecretValueCommand, { SecretId: SOURCE_ARN }).resolves({
  SecretString: JSON.stringify({ username: 'repl', password: 'pw', host: 'source.example.com', dbname: 'postgres' }),
});
sm.on(GetSecretValueCommand, { SecretId: TARGET_ARN }).resolves({
  SecretString: JSON.stringify({ username: 'admin', password: 'pw', host: 'target.example.com' }),
});
const client = new SecretsManagerClient({ region: 'eu-west-1' });
const resolve = (extra: { databases?: string[]; targetDatabase?: string }) =>
  resolveEndpoints(client, { sourceSecretArn: SOURCE_ARN, targetSecretArn: TARGET_ARN, ...extra });

describe('resolveEndpoints', () => {
  it('opens the target database of the one database replicated: the named one when the input names another', async () => {
    expect((await resolve({ databases: ['shop'], targetDatabase: 'shop_v2' })).target.database).toBe('shop_v2');
    expect((await resolve({ databases: ['shop'] })).target.database).toBe('shop');
  });

  it('leaves the target as the secret has it for several databases', async () => {
    expect((await resolve({ databases: ['shop', 'crm'], targetDatabase: 'ignored' })).target.database).toBe('postgres');
  });
});
