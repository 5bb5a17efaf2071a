// A job's verify schedule in EventBridge Scheduler: `verify-<jobId>` in the stack's schedule group,
// the same name the replicate workflow gives it and the clean-up workflow deletes.
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  UpdateScheduleCommand,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import type { Deployment } from './deployment.ts';
import { ENV } from './deployment.ts';
import { awsErrorName, describeAwsError, RemoteUsageError } from './errors.ts';
import { checkScheduleExpression, type JobInput } from './inputs.ts';

export function scheduleName(jobId: string): string {
  return `verify-${jobId}`;
}

export interface ScheduleResult {
  name: string;
  group: string;
  action: 'created' | 'updated' | 'deleted' | 'absent';
  expression?: string;
  scheduleArn?: string;
}

function groupOf(deployment: Deployment): string {
  if (!deployment.scheduleGroupName)
    throw new RemoteUsageError(
      `The deployment names no schedule group; set ${ENV.scheduleGroupName} (the stack output ScheduleGroupName).`,
    );
  return deployment.scheduleGroupName;
}

/**
 * Creates the job's verify schedule, or updates it when it exists (ConflictException). Its target
 * starts the verify workflow as the stack's scheduler role, with identifiers and secret ARNs only;
 * two retries, no flexible window.
 */
export async function putVerifySchedule(
  scheduler: SchedulerClient,
  deployment: Deployment,
  o: { expression: string; input: JobInput },
): Promise<ScheduleResult> {
  const expression = checkScheduleExpression(o.expression);
  const group = groupOf(deployment);
  if (!deployment.verifyStateMachineArn)
    throw new RemoteUsageError(
      `The deployment has no verify workflow; set ${ENV.verifyStateMachineArn} (the stack output VerifyStateMachineArn).`,
    );
  if (!deployment.schedulerRoleArn) {
    throw new RemoteUsageError(
      `The deployment names no scheduler role; set ${ENV.schedulerRoleArn} to the ARN of the stack's verify schedule role (VerifySchedule/Role), or add a SchedulerRoleArn output to the stack.`,
    );
  }
  const name = scheduleName(o.input.jobId);
  const request = {
    Name: name,
    GroupName: group,
    ScheduleExpression: expression,
    ScheduleExpressionTimezone: 'UTC',
    Description: `database-replicator: verify job ${o.input.jobId}`,
    FlexibleTimeWindow: { Mode: 'OFF' as const },
    State: 'ENABLED' as const,
    Target: {
      Arn: deployment.verifyStateMachineArn,
      RoleArn: deployment.schedulerRoleArn,
      Input: JSON.stringify(o.input),
      RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
      // A fire that cannot start verify goes there, where the stack's alarm sees it.
      ...(deployment.scheduleDeadLetterQueueArn
        ? { DeadLetterConfig: { Arn: deployment.scheduleDeadLetterQueueArn } }
        : {}),
    },
  };
  // Either write answers with the same fields, and the ARN when the API returned one.
  const applied = (action: 'created' | 'updated', scheduleArn: string | undefined): ScheduleResult => ({
    name,
    group,
    action,
    expression,
    ...(scheduleArn ? { scheduleArn } : {}),
  });
  try {
    return applied('created', (await scheduler.send(new CreateScheduleCommand(request))).ScheduleArn);
  } catch (error) {
    if (!(error instanceof ConflictException) && awsErrorName(error) !== 'ConflictException')
      throw describeAwsError(
        error,
        'scheduler:CreateSchedule and iam:PassRole on the scheduler role',
        `create the verify schedule ${name}`,
      );
  }
  try {
    return applied('updated', (await scheduler.send(new UpdateScheduleCommand(request))).ScheduleArn);
  } catch (error) {
    throw describeAwsError(
      error,
      'scheduler:UpdateSchedule and iam:PassRole on the scheduler role',
      `update the verify schedule ${name}`,
    );
  }
}

/** Deletes the job's verify schedule; one that does not exist is fine. */
export async function deleteVerifySchedule(
  scheduler: SchedulerClient,
  deployment: Deployment,
  jobId: string,
): Promise<ScheduleResult> {
  const group = groupOf(deployment);
  const name = scheduleName(jobId);
  try {
    await scheduler.send(new DeleteScheduleCommand({ Name: name, GroupName: group }));
    return { name, group, action: 'deleted' };
  } catch (error) {
    if (awsErrorName(error) === 'ResourceNotFoundException') return { name, group, action: 'absent' };
    throw describeAwsError(error, 'scheduler:DeleteSchedule', `delete the verify schedule ${name}`);
  }
}
