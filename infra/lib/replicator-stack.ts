import { CfnOutput, Stack, type RemovalPolicy, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { StatusTable } from './status-table.ts';

export interface ReplicatorStackProps extends StackProps {
  /** Removal policy of stateful resources; RETAIN unless a throwaway deployment asks otherwise. */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The serverless deployment. It stays environment-agnostic (no lookups), so `cdk synth` needs no
 * AWS credentials. It grows construct by construct: network, task, functions, workflow, schedule.
 */
export class ReplicatorStack extends Stack {
  public readonly statusTable: StatusTable;

  constructor(scope: Construct, id: string, props: ReplicatorStackProps = {}) {
    super(scope, id, props);
    this.statusTable = new StatusTable(this, 'StatusTable', { removalPolicy: props.removalPolicy });
    new CfnOutput(this, 'JobTableName', { value: this.statusTable.table.tableName, description: 'DynamoDB table holding replication jobs and their status' });
  }
}
