import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ReplicatorStack } from '../../infra/lib/replicator-stack.ts';
import { StatusTable } from '../../infra/lib/status-table.ts';


function synth(props: ConstructorParameters<typeof ReplicatorStack>[2] = {}): Template {
  return Template.fromStack(new ReplicatorStack(new App(), 'Test', props));
}

describe('ReplicatorStack', () => {
  const template = synth();

  it('has the job table keyed by pk/sk, on demand, with PITR, TTL and AWS-managed encryption', () => {
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
    });
  });

  it('retains the table by default and deletes it when asked', () => {
    template.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    synth({ removalPolicy: RemovalPolicy.DESTROY }).hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Delete' });
  });

  it('outputs the table name', () => {
    template.hasOutput('JobTableName', { Value: { Ref: Match.stringLikeRegexp('StatusTable') } });
  });
});

describe('StatusTable', () => {
  it('takes a valid fixed name', () => {
    const stack = new Stack(new App(), 'Named');
    new StatusTable(stack, 'T', { tableName: 'replicator-jobs' });
    Template.fromStack(stack).hasResourceProperties('AWS::DynamoDB::GlobalTable', { TableName: 'replicator-jobs' });
  });

  it('refuses an invalid name before creating anything', () => {
    const stack = new Stack(new App(), 'Bad');
    expect(() => new StatusTable(stack, 'T', { tableName: 'no spaces allowed' })).toThrow(/tableName "no spaces allowed" is not a valid DynamoDB table name/);
    expect(stack.node.findAll().some((c) => c.node.id === 'Table')).toBe(false);
  });
});
