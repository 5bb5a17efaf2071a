import { App, CfnParameter, CfnResource, RemovalPolicy, Stack, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ReplicatorStack, type ReplicatorStackProps } from '../../infra/lib/replicator-stack.ts';
import { StatusTable } from '../../infra/lib/status-table.ts';
import { cdkContext } from './cdk-context.ts';

const TABLE = 'AWS::DynamoDB::GlobalTable';

// Synthesis dominates the run time, so each variant is synthesized once at collection time and shared.
function synth(props: ReplicatorStackProps = {}) {
  const stack = new ReplicatorStack(new App({ context: cdkContext() }), 'Test', props);
  return { stack, template: Template.fromStack(stack) };
}

function bareStack(id: string): Stack {
  return new Stack(new App({ context: cdkContext() }), id);
}

describe('ReplicatorStack', () => {
  const { stack, template } = synth();
  const destroyable = synth({ removalPolicy: RemovalPolicy.DESTROY }).template;

  it('has exactly one job table, keyed by string pk (hash) and string sk (range)', () => {
    template.resourceCountIs(TABLE, 1);
    template.hasResourceProperties(TABLE, {
      KeySchema: Match.exact([
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ]),
      AttributeDefinitions: Match.exact([
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ]),
    });
  });

  it('bills on demand', () => {
    template.hasResourceProperties(TABLE, {
      BillingMode: 'PAY_PER_REQUEST',
      WriteProvisionedThroughputSettings: Match.absent(),
    });
  });

  it('turns on point-in-time recovery', () => {
    template.hasResourceProperties(TABLE, {
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
    });
  });

  it('expires items through expiresAt', () => {
    template.hasResourceProperties(TABLE, { TimeToLiveSpecification: Match.exact({ AttributeName: 'expiresAt', Enabled: true }) });
    expect(StatusTable.TTL_ATTRIBUTE).toBe('expiresAt');
  });

  it('encrypts with the AWS-managed KMS key, not a customer key', () => {
    template.hasResourceProperties(TABLE, {
      SSESpecification: Match.exact({ SSEEnabled: true, SSEType: 'KMS' }),
      Replicas: [Match.objectLike({ SSESpecification: Match.absent() })],
    });
    template.resourceCountIs('AWS::KMS::Key', 0);
  });

  it('retains the table by default', () => {
    template.hasResource(TABLE, { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('deletes the table when the removalPolicy prop says so', () => {
    destroyable.hasResource(TABLE, { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });

  it('outputs the job table name', () => {
    const tableId = stack.getLogicalId(stack.statusTable.table.node.defaultChild as CfnElement);
    template.hasOutput('JobTableName', { Value: { Ref: tableId } });
  });

  it('stays environment-agnostic, so synth needs no credentials or lookups', () => {
    expect(stack.environment).toBe('aws://unknown-account/unknown-region');
  });
});

describe('StatusTable', () => {
  it('takes a valid fixed name', () => {
    const stack = bareStack('Named');
    new StatusTable(stack, 'T', { tableName: 'replicator-jobs' });
    Template.fromStack(stack).hasResourceProperties(TABLE, { TableName: 'replicator-jobs' });
  });

  it('lets CloudFormation name the table when no name is given', () => {
    const stack = bareStack('Unnamed');
    new StatusTable(stack, 'T');
    Template.fromStack(stack).hasResourceProperties(TABLE, { TableName: Match.absent() });
  });

  it('defers a name only known at deploy time to CloudFormation', () => {
    const stack = bareStack('Param');
    const name = new CfnParameter(stack, 'TableName').valueAsString;
    expect(() => new StatusTable(stack, 'T', { tableName: name })).not.toThrow();
  });

  it.each([
    ['no spaces allowed'],
    [''],
    ['ab'],
    ['x'.repeat(256)],
  ])('refuses the invalid name %j before creating anything', (tableName) => {
    const stack = bareStack('Bad');
    expect(() => new StatusTable(stack, 'T', { tableName })).toThrow(
      `StatusTable: tableName "${tableName}" is not a valid DynamoDB table name: use 3 to 255 letters, digits, "_", "-" or ".", or leave it out.`,
    );
    expect(stack.node.findAll().filter((c) => CfnResource.isCfnResource(c))).toEqual([]);
  });
});
