import { type Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { ReplicatorStack } from './replicator-stack.ts';
import { clusterTasks, replicateExecutions, taskDefinitionRevisions } from './workflows.ts';

/**
 * A value as cdk-nag spells it in a finding id: intrinsics flattened, `<LogicalId.Attr>` for
 * Fn::GetAtt, `<LogicalId>` for Ref and pseudo parameters.
 */
export function nagSpelling(stack: Stack, value: unknown): string {
  const visit = (node: unknown): string => {
    if (node === undefined) return '';
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
    const n = node as Record<string, unknown>;
    if (Array.isArray(n['Fn::Join'])) {
      const [delimiter, items] = n['Fn::Join'] as [string, unknown[]];
      return items.map(visit).join(delimiter);
    }
    if (n['Fn::GetAtt']) {
      const [resource, attribute] = n['Fn::GetAtt'] as [unknown, unknown];
      return `<${visit(resource)}.${visit(attribute)}>`;
    }
    if (n.Ref !== undefined) return `<${visit(n.Ref)}>`;
    return JSON.stringify(node);
  };
  return visit(stack.resolve(value));
}

function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

const XRAY =
  "X-Ray's xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) support no resource-level permissions";

/**
 * The AWS Solutions findings this stack accepts, each on the construct it concerns, with the
 * reason, and for IAM5 the one wildcard it is about. Anything else fails the cdk-nag test.
 */
export function suppressAcceptedFindings(stack: ReplicatorStack): void {
  const iam5 = (scope: IConstruct, value: unknown, reason: string) =>
    acknowledge(scope, `AwsSolutions-IAM5[Resource::${nagSpelling(stack, value)}]`, reason);

  acknowledge(
    stack.schedule.deadLetterQueue,
    'AwsSolutions-SQS3',
    'This queue is itself the dead-letter queue of the verify schedules (EventBridge Scheduler DeadLetterConfig), which cdk-nag cannot see; its messages are alarmed on.',
  );
  acknowledge(
    stack.task.taskDefinition,
    'AwsSolutions-ECS2',
    'The container environment holds configuration only (the job table name and the log level); credentials are read from Secrets Manager at run time through the secret ARNs each run is given.',
  );
  iam5(
    stack.task.taskDefinition.obtainExecutionRole(),
    '*',
    'ecr:GetAuthorizationToken supports no resource-level permissions; the image pull and the log writes of the execution role are scoped to the repository and the log group.',
  );

  const secretReaders = [stack.task.taskDefinition.taskRole, ...stack.functions.connecting.map((fn) => fn.role)];
  if (stack.secretAccess.namePrefix !== undefined) {
    for (const role of secretReaders) {
      iam5(
        role,
        stack.secretAccess.secretArns[0],
        `Reads only the secrets whose names start with the configured prefix "${stack.secretAccess.namePrefix}": a job's secrets are named when an execution starts, and Secrets Manager appends six random characters to every secret name.`,
      );
    }
  }

  for (const fn of stack.functions.all) {
    const inVpc = fn.function.isBoundToVpc;
    iam5(
      fn.role,
      '*',
      `${XRAY}${inVpc ? '; nor do the network interface actions Lambda needs to run the function in the VPC (ec2:CreateNetworkInterface and its kin)' : ''}.`,
    );
  }
  for (const arn of stack.functions.rdsDescribeArns) {
    iam5(
      stack.functions.checkRdsParameterGroup.role,
      arn,
      'Read-only Describe calls: the source instance or cluster and its parameter group are named only when an execution starts, so the check may describe any in this account and region.',
    );
  }

  for (const machine of stack.workflows.all) {
    const role = machine.stateMachine.role;
    iam5(
      role,
      '*',
      `${XRAY}, nor do the CloudWatch Logs delivery actions (logs:CreateLogDelivery and its kin) that send the execution logs to the log group.`,
    );
    iam5(
      role,
      clusterTasks(stack.task),
      'ecs:DescribeTasks, ecs:StopTask and ecs:TagResource (on RunTask only) on the tasks of the replicator cluster only: ecs:runTask.sync starts, tags, follows (and on timeout stops) tasks whose ids exist only once they run.',
    );
    iam5(
      role,
      taskDefinitionRevisions(stack.task),
      "ecs:RunTask on the revisions of the replicator's own task definition family: an execution started before a redeploy runs the revision it started with, which the redeploy keeps.",
    );
  }
  iam5(
    stack.workflows.recordJobReadsReplicateExecutions,
    replicateExecutions(stack.workflows.replicate.stateMachine),
    'states:DescribeExecution on the executions of the replicate workflow only: record-job refuses a second execution of a job while the one it records still runs, and execution names are chosen when they start.',
  );
  for (const machine of [stack.workflows.replicate, stack.workflows.cleanup]) {
    iam5(
      machine.stateMachine.role,
      stack.schedule.scheduleArns,
      "Creates (replicate) or deletes (cleanup) the per-job verify schedules of the stack's own schedule group only; a schedule is named verify-<jobId> when an execution runs.",
    );
  }
}
