import { join } from 'node:path';
import { ArnFormat, Aws, Stack, type RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { AslStateMachine } from './asl-state-machine.ts';
import type { ReplicatorNetwork } from './network.ts';
import type { ReplicatorFunction } from './replicator-function.ts';
import type { ReplicatorTask } from './replicator-task.ts';
import type { VerifySchedule } from './verify-schedule.ts';
import type { WorkflowFunctions } from './workflow-functions.ts';

export interface ReplicatorWorkflowsProps {
  /** The repository root: the definitions are statemachines/{replicate,verify,cleanup,cutover}.asl.json. */
  readonly repoRoot: string;
  readonly network: ReplicatorNetwork;
  readonly task: ReplicatorTask;
  readonly functions: WorkflowFunctions;
  readonly schedule: VerifySchedule;
  /** The alarm topic and its key: the replicate workflow publishes schema drift to it. */
  readonly alarmTopic: sns.ITopic;
  readonly alarmTopicKey: kms.IKey;
  readonly logRetention?: logs.RetentionDays;
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The four state machines, from the files in statemachines/: replicate (checks, snapshot, catch-up,
 * verify schedule), verify (started by the schedules), cleanup and cutover. Each role may run the
 * replicator task and invoke exactly the functions its definition names.
 */
export class ReplicatorWorkflows extends Construct {
  public readonly replicate: AslStateMachine;
  public readonly verify: AslStateMachine;
  public readonly cleanup: AslStateMachine;
  public readonly cutover: AslStateMachine;
  /** record-job may see whether another execution of the replicate workflow still runs a job. */
  public readonly recordJobReadsReplicateExecutions: iam.Policy;

  constructor(scope: Construct, id: string, props: ReplicatorWorkflowsProps) {
    super(scope, id);
    const { task, functions: fns, schedule } = props;
    const file = (name: string) => join(props.repoRoot, 'statemachines', `${name}.asl.json`);
    const common = { logRetention: props.logRetention, removalPolicy: props.removalPolicy };
    const runTask = {
      Partition: Aws.PARTITION,
      ClusterArn: task.cluster.clusterArn,
      TaskDefinitionArn: task.taskDefinition.taskDefinitionArn,
      ContainerName: task.containerName,
      SubnetIds: props.network.subnetIdList,
      SecurityGroupId: props.network.securityGroup.securityGroupId,
    };
    const recordJob = { RecordJobFunctionArn: fns.recordJob.function.functionArn };
    const scheduleGroup = { ScheduleGroupName: schedule.group.scheduleGroupName };

    // Each definition is statemachines/<id in lower case>.asl.json; the placeholders it names are substituted.
    const machine = (machineId: string, substitutions: Record<string, string>) =>
      new AslStateMachine(this, machineId, {
        ...common,
        definitionFile: file(machineId.toLowerCase()),
        substitutions,
      });
    this.verify = machine('Verify', { ...runTask, ...recordJob });
    this.cleanup = machine('Cleanup', { ...runTask, ...recordJob, ...scheduleGroup });
    this.cutover = machine('Cutover', { ...runTask, ...recordJob });
    this.replicate = machine('Replicate', {
      ...runTask,
      ...recordJob,
      CheckRdsParameterGroupFunctionArn: fns.checkRdsParameterGroup.function.functionArn,
      CheckGrantsFunctionArn: fns.checkGrants.function.functionArn,
      EstimateSizeFunctionArn: fns.estimateSize.function.functionArn,
      CheckReplicationFunctionArn: fns.checkReplication.function.functionArn,
      CheckTargetReachesSourceFunctionArn: fns.checkTargetReachesSource.function.functionArn,
      MonitorFunctionArn: fns.monitorReplication.function.functionArn,
      ...scheduleGroup,
      SchedulerRoleArn: schedule.role.roleArn,
      ScheduleDeadLetterQueueArn: schedule.deadLetterQueue.queueArn,
      VerifyStateMachineArn: this.verify.stateMachine.stateMachineArn,
      AlarmTopicArn: props.alarmTopic.topicArn,
    });
    // Schema drift found while waiting for catch-up goes to the operators: publish to the one topic, and
    // encrypt with its key (the two key actions SNS needs, named, where grantPublish would add a wildcard).
    this.replicate.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [props.alarmTopic.topicArn] }),
    );
    this.replicate.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [props.alarmTopicKey.keyArn],
      }),
    );

    for (const machine of this.all) allowRunTask(machine.stateMachine, task);
    // The definitions invoke the unqualified function ARNs: no version or alias needs a grant.
    const invoke = (machine: AslStateMachine, functions: ReplicatorFunction[]) =>
      machine.stateMachine.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: functions.map((f) => f.function.functionArn),
        }),
      );
    invoke(this.replicate, [
      fns.checkRdsParameterGroup,
      fns.checkGrants,
      fns.estimateSize,
      fns.checkReplication,
      fns.checkTargetReachesSource,
      fns.recordJob,
    ]);
    invoke(this.verify, [fns.recordJob]);
    invoke(this.cleanup, [fns.recordJob]);
    invoke(this.cutover, [fns.recordJob]);
    // A policy of its own: in the role's default policy it would make the function depend on the state machine that invokes it.
    this.recordJobReadsReplicateExecutions = new iam.Policy(this, 'RecordJobReadsReplicateExecutions', {
      roles: [fns.recordJob.role],
      statements: [
        new iam.PolicyStatement({
          actions: ['states:DescribeExecution'],
          resources: [replicateExecutions(this.replicate.stateMachine)],
        }),
      ],
    });
    schedule.grantCreate(this.replicate.stateMachine);
    schedule.grantDelete(this.cleanup.stateMachine);
    schedule.allowStarting(this.verify.stateMachine);
    schedule.allowInvoking(fns.monitorReplication.function);
  }

  public get all(): AslStateMachine[] {
    return [this.replicate, this.verify, this.cleanup, this.cutover];
  }
}

/** The executions of one state machine. */
export function replicateExecutions(stateMachine: sfn.StateMachine): string {
  return Stack.of(stateMachine).formatArn({
    service: 'states',
    resource: 'execution',
    resourceName: `${stateMachine.stateMachineName}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** Every revision of the replicator's task definition family. */
export function taskDefinitionRevisions(task: ReplicatorTask): string {
  return Stack.of(task).formatArn({
    service: 'ecs',
    resource: 'task-definition',
    resourceName: `${task.taskDefinition.family}:*`,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}

/** The tasks of the replicator's cluster. */
export function clusterTasks(task: ReplicatorTask): string {
  return Stack.of(task).formatArn({
    service: 'ecs',
    resource: 'task',
    resourceName: `${task.cluster.clusterName}/*`,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}

/**
 * What ecs:runTask.sync needs: run the task definition in this cluster, follow and stop its tasks,
 * tag them (PropagateTags copies the definition's tags onto each task), pass the task's roles to ECS,
 * and the managed EventBridge rule Step Functions watches tasks with. Any revision of the family: an
 * execution that started before a redeploy runs the revision it was started with.
 */
function allowRunTask(stateMachine: sfn.StateMachine, task: ReplicatorTask): void {
  const stack = Stack.of(stateMachine);
  stateMachine.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['ecs:RunTask'],
      resources: [taskDefinitionRevisions(task)],
      conditions: { ArnEquals: { 'ecs:cluster': task.cluster.clusterArn } },
    }),
  );
  stateMachine.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['ecs:StopTask', 'ecs:DescribeTasks'], resources: [clusterTasks(task)] }),
  );
  stateMachine.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['ecs:TagResource'],
      resources: [clusterTasks(task)],
      conditions: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
    }),
  );
  stateMachine.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [task.taskDefinition.taskRole.roleArn, task.taskDefinition.obtainExecutionRole().roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    }),
  );
  stateMachine.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      resources: [
        stack.formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForECSTaskRule' }),
      ],
    }),
  );
}
