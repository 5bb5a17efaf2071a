import { RemovalPolicy, Token } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

export interface StatusTableProps {
  /** A fixed table name; leave it out to let CloudFormation name the table (recommended). */
  readonly tableName?: string;
  /** RETAIN by default: the table records which slots and subscriptions exist, so losing it orphans them. */
  readonly removalPolicy?: RemovalPolicy;
}

/** What the job store (src/jobs/dynamodb-store.ts) does to one job's items: no Scan, batch or delete. */
export const JOB_ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:Query',
] as const;

/** DynamoDB names: 3 to 255 of letters, digits, underscore, hyphen and dot. */
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

/**
 * The job and status store of src/jobs (JOB_TABLE_SCHEMA): under pk = JOB#<jobId>, the JOB item (the
 * job record, with each database's progress and resume state), one STEP# item per step and one
 * VERIFY# item per verify run. DynamoDB's TTL on `expiresAt` (epoch seconds) deletes a step or verify
 * run 90 days after its write, and the JOB item 90 days after the job was cleaned up or cancelled:
 * never while its slot and subscription may still run.
 * On demand, point-in-time recovery, encrypted with the AWS managed key; retained by default.
 */
export class StatusTable extends Construct {
  public readonly table: dynamodb.TableV2;
  public static readonly TTL_ATTRIBUTE = 'expiresAt';

  constructor(scope: Construct, id: string, props: StatusTableProps = {}) {
    super(scope, id);
    // A token (e.g. a CfnParameter) is only known at deploy time, so CloudFormation checks it then.
    if (props.tableName !== undefined && !Token.isUnresolved(props.tableName) && !TABLE_NAME.test(props.tableName)) {
      throw new Error(
        `StatusTable: tableName "${props.tableName}" is not a valid DynamoDB table name: use 3 to 255 letters, digits, "_", "-" or ".", or leave it out.`,
      );
    }
    this.table = new dynamodb.TableV2(this, 'Table', {
      tableName: props.tableName,
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: StatusTable.TTL_ATTRIBUTE,
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }
}
