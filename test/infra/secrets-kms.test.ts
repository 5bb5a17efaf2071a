// Secrets encrypted with a customer managed KMS key (-c secretsKmsKeyArn=...): every role that reads a
// secret may decrypt with that key, through Secrets Manager only, and no other role may.
import { App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { readAppSettings } from '../../infra/lib/app-settings.ts';
import { SecretAccess } from '../../infra/lib/secret-access.ts';
import { testApp } from './cdk-context.ts';
import { asList, CUSTOM, statementsOf, synth, type Synthesized } from './synth.ts';

const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const MRK = 'arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab';
const base = synth();
const withKey = synth({ ...CUSTOM, secretsKmsKeyArns: [KEY, MRK] });

const list = asList;

// Decrypt through Secrets Manager: the secrets' key. (The replicate workflow also uses the alarm topic's own key, for drift notices.)
const decrypts = (s: Synthesized, role: IConstruct) =>
  statementsOf(s, role).filter(
    (st) =>
      list(st.Action).includes('kms:Decrypt') &&
      (JSON.stringify(st.Condition ?? {}).includes('secretsmanager.') ||
        [KEY, MRK].some((k) => JSON.stringify(st.Resource).includes(k))),
  );

const readers = (s: Synthesized) => [
  s.stack.task.taskDefinition.taskRole,
  ...s.stack.functions.connecting.map((f) => f.role),
];
const others = (s: Synthesized) => [
  s.stack.task.taskDefinition.obtainExecutionRole(),
  s.stack.functions.checkRdsParameterGroup.role,
  s.stack.functions.recordJob.role,
  ...s.stack.workflows.all.map((m) => m.stateMachine.role),
];

describe('a customer managed KMS key for the secrets', () => {
  it('is granted kms:Decrypt, through Secrets Manager of the region only, to the task and every function that reads a secret', () => {
    for (const role of readers(withKey)) {
      const statements = decrypts(withKey, role);
      expect(statements, role.node.path).toHaveLength(1);
      expect(list(statements[0]!.Action)).toEqual(['kms:Decrypt']);
      expect(list(statements[0]!.Resource).sort()).toEqual([KEY, MRK].sort());
      expect(statements[0]!.Condition).toEqual({
        StringEquals: {
          'kms:ViaService': {
            'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]],
          },
        },
      });
    }
    // The task and the five functions that connect: the four checks and the monitor.
    expect(readers(withKey)).toHaveLength(6);
  });

  it('is granted to no role that reads no secret, and without the setting to none at all', () => {
    for (const role of others(withKey)) expect(decrypts(withKey, role), role.node.path).toEqual([]);
    for (const role of [...readers(base), ...others(base)]) expect(decrypts(base, role), role.node.path).toEqual([]);
  });

  it('passes cdk-nag (the key is named, no wildcard)', () => {
    const report = new AwsSolutionsChecks().validateScope(withKey.stack);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });

  it('is read from -c secretsKmsKeyArn, one key or several comma-separated, or a JSON array in cdk.json', () => {
    const settings = (context: Record<string, unknown>) => readAppSettings(testApp(context).node);
    expect(settings({ secretsKmsKeyArn: KEY }).secretsKmsKeyArns).toEqual([KEY]);
    expect(settings({ secretsKmsKeyArn: `${KEY},${MRK}` }).secretsKmsKeyArns).toEqual([KEY, MRK]);
    expect(settings({ secretsKmsKeyArn: [KEY] }).secretsKmsKeyArns).toEqual([KEY]);
    expect(settings({})).not.toHaveProperty('secretsKmsKeyArns');
  });

  it.each([
    ['arn:aws:kms:eu-west-1:123456789012:alias/secrets'],
    ['1234abcd-12ab-34cd-56ef-1234567890ab'],
    [`${KEY},${KEY}`],
  ])('refuses %s with one sentence naming the setting', (value) => {
    expect(() => readAppSettings(testApp({ secretsKmsKeyArn: value }).node)).toThrow(
      `Context secretsKmsKeyArn ${JSON.stringify(value)} is not valid: pass -c secretsKmsKeyArn=arn:aws:kms:<region>:<account>:key/<key id>`,
    );
  });

  it('refuses a construct prop that names no key', () => {
    expect(() => new SecretAccess(new App(), 'Access', { namePrefix: 'db/' }, ['alias/secrets'])).toThrow(
      'SecretAccess: "alias/secrets" is not a KMS key ARN',
    );
  });
});
