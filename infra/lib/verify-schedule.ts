import { ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface VerifyScheduleProps {
  /** A fixed group name; left out, CDK derives one from the construct path. */
  readonly scheduleGroupName?: string;
}

/** EventBridge Scheduler group names: 1 to 64 of letters, digits, - _ and . */
const GROUP_NAME = /^[0-9a-zA-Z-_.]{1,64}$/;

/**
 * The home of the per-job verify schedules: a schedule group, the role the schedules run as, which
 * may start the verify state machine and nothing else, and the dead-letter queue where EventBridge
 * Scheduler puts a fire it could not deliver (the role could not be assumed, the start was refused),
 * so a schedule that never starts verify is seen. The replicate workflow creates a job's schedule
 * (`verify-<jobId>`, retried at most twice) and the clean-up workflow deletes it.
 *
 * The group is always deleted with the stack, whatever the data retention: its schedules belong to
 * jobs of this deployment, and a retained group (its name is fixed) would make the next deployment
 * of the same stack fail with "already exists".
 */
export class VerifySchedule extends Construct {
  public readonly group: scheduler.ScheduleGroup;
  public readonly role: iam.Role;
  public readonly deadLetterQueue: sqs.Queue;
  /** The ARN pattern of the group's schedules. */
  public readonly scheduleArns: string;

  constructor(scope: Construct, id: string, props: VerifyScheduleProps = {}) {
    super(scope, id);
    if (
      props.scheduleGroupName !== undefined &&
      !Token.isUnresolved(props.scheduleGroupName) &&
      !GROUP_NAME.test(props.scheduleGroupName)
    ) {
      throw new Error(
        `VerifySchedule: scheduleGroupName "${props.scheduleGroupName}" is not valid; use 1 to 64 letters, digits, "-", "_" or ".", or leave it out.`,
      );
    }
    const stack = Stack.of(this);
    this.group = new scheduler.ScheduleGroup(this, 'Group', {
      ...(props.scheduleGroupName ? { scheduleGroupName: props.scheduleGroupName } : {}),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.scheduleArns = stack.formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.group.scheduleGroupName}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    // EventBridge Scheduler assumes the role on behalf of a schedule and names the schedule's group
    // (arn:...:schedule-group/<group>) as the source, as CDK's aws-scheduler-targets and AWS's guide have it.
    this.role = new iam.Role(this, 'Role', {
      description: 'database-replicator: EventBridge Scheduler starts the verify workflow of a job',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account, 'aws:SourceArn': this.group.scheduleGroupArn },
        },
      }),
    });
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.deadLetterQueue.queueArn] }),
    );
  }

  /** Lets the schedules start `stateMachine`. */
  public allowStarting(stateMachine: sfn.IStateMachine): void {
    stateMachine.grantStartExecution(this.role);
  }

  /** Lets the schedules invoke `fn` (the monitor schedules of the jobs), by its unqualified ARN as they name it. */
  public allowInvoking(fn: lambda.IFunction): void {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] }),
    );
  }

  /** Lets `grantee` create schedules in the group that run as the schedule role. */
  public grantCreate(grantee: iam.IGrantable): void {
    this.group.grantWriteSchedules(grantee);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );
  }

  /** Lets `grantee` delete the group's schedules. */
  public grantDelete(grantee: iam.IGrantable): void {
    this.group.grantDeleteSchedules(grantee);
  }
}
