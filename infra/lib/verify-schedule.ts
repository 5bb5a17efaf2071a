import { ArnFormat, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface VerifyScheduleProps {
  /** A fixed group name; left out, CloudFormation names it. */
  readonly scheduleGroupName?: string;
  readonly removalPolicy?: RemovalPolicy;
}

/** EventBridge Scheduler group names: 1 to 64 of letters, digits, - _ and . */
const GROUP_NAME = /^[0-9a-zA-Z-_.]{1,64}$/;

/**
 * The home of the per-job verify schedules: a schedule group, and the role the schedules run as,
 * which may start the verify state machine and nothing else. The replicate workflow creates a job's
 * schedule (`verify-<jobId>`, retried at most twice) and the clean-up workflow deletes it.
 */
export class VerifySchedule extends Construct {
  public readonly group: scheduler.ScheduleGroup;
  public readonly role: iam.Role;
  /** The ARN pattern of the group's schedules. */
  public readonly scheduleArns: string;

  constructor(scope: Construct, id: string, props: VerifyScheduleProps = {}) {
    super(scope, id);
    if (props.scheduleGroupName !== undefined && !Token.isUnresolved(props.scheduleGroupName) && !GROUP_NAME.test(props.scheduleGroupName)) {
      throw new Error(`VerifySchedule: scheduleGroupName "${props.scheduleGroupName}" is not valid; use 1 to 64 letters, digits, "-", "_" or ".", or leave it out.`);
    }
    const stack = Stack.of(this);
    this.group = new scheduler.ScheduleGroup(this, 'Group', {
      ...(props.scheduleGroupName ? { scheduleGroupName: props.scheduleGroupName } : {}),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.scheduleArns = stack.formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `${this.group.scheduleGroupName}/*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    this.role = new iam.Role(this, 'Role', {
      description: 'database-replicator: EventBridge Scheduler starts the verify workflow of a job',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account }, ArnLike: { 'aws:SourceArn': this.scheduleArns } },
      }),
    });
  }

  /** Lets the schedules start `stateMachine`. */
  public allowStarting(stateMachine: sfn.IStateMachine): void {
    stateMachine.grantStartExecution(this.role);
  }

  /** Lets `grantee` create schedules in the group that run as the schedule role. */
  public grantCreate(grantee: iam.IGrantable): void {
    this.group.grantWriteSchedules(grantee);
    this.role.grantPassRole(grantee.grantPrincipal);
  }

  /** Lets `grantee` delete the group's schedules. */
  public grantDelete(grantee: iam.IGrantable): void {
    this.group.grantDeleteSchedules(grantee);
  }
}
