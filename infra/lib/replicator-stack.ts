import { fileURLToPath } from 'node:url';
import { CfnOutput, Stack, type RemovalPolicy, type StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { AlarmThresholds } from '../../src/monitor/alarm-rules.ts';
import { ReplicatorAlerts } from './alerts.ts';
import { readAlarmThresholds } from './alarm-settings.ts';
import {
  DEFAULT_SECRETS_PREFIX,
  type ImageSettings,
  type NetworkSettings,
  type SecretAccessSettings,
  type TaskSettings,
} from './app-settings.ts';
import { DEFAULT_TASK_CPU, DEFAULT_TASK_MEMORY } from './fargate-sizes.ts';
import { suppressAcceptedFindings } from './nag-suppressions.ts';
import { ReplicatorNetwork } from './network.ts';
import { RdsCaBundle } from './rds-ca-bundle.ts';
import { ReplicationDashboard } from './replication-dashboard.ts';
import { ReplicatorTask } from './replicator-task.ts';
import { SecretAccess } from './secret-access.ts';
import { StatusTable } from './status-table.ts';
import { VerifySchedule } from './verify-schedule.ts';
import { metricsNamespace } from './replicator-function.ts';
import { METRIC_SERVICE, WorkflowFunctions } from './workflow-functions.ts';
import { ReplicatorWorkflows } from './workflows.ts';

/** The repository root: lambdas/, statemachines/ and the image's build context. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ReplicatorStackProps extends StackProps {
  /** Removal policy of stateful resources (job table, log groups, topic key); RETAIN unless a throwaway deployment asks otherwise. */
  readonly removalPolicy?: RemovalPolicy;
  /** An existing VPC; left out, one is created. */
  readonly network?: NetworkSettings;
  /** Which secrets may be read; default: names starting with database-replicator/. */
  readonly secrets?: SecretAccessSettings;
  /** Customer managed KMS keys the secrets are encrypted with: kms:Decrypt for every role that reads them. */
  readonly secretsKmsKeyArns?: readonly string[];
  readonly task?: Partial<TaskSettings>;
  readonly alarmEmail?: string;
  /** A prebuilt image in ECR instead of building containers/replicator at deploy time. */
  readonly image?: ImageSettings;
  /** Where lambdas/, statemachines/ and containers/ are (default: this repository). */
  readonly repoRoot?: string;
  /**
   * The RDS global CA bundle (global-bundle.pem) the deployer provides: the functions that connect
   * get it at /opt/rds-ca/global-bundle.pem, where the task image has it, for secrets that ask for
   * sslmode=verify-full. Left out, such secrets fail in the functions with a sentence saying so.
   */
  readonly rdsCaBundle?: string;
  /** Thresholds of the replication alarms; left out, read from the context (walRetainedAlarmGb, lagAlarmSeconds) or the defaults. */
  readonly alarmThresholds?: AlarmThresholds;
}

/**
 * The serverless deployment: one construct per concern (network, job table, secrets access, Fargate
 * task, functions, state machines, verify schedule, alerts). Environment-agnostic and lookup-free,
 * so `cdk synth` needs no AWS credentials and no Docker.
 */
export class ReplicatorStack extends Stack {
  public readonly network: ReplicatorNetwork;
  public readonly statusTable: StatusTable;
  public readonly secretAccess: SecretAccess;
  public readonly task: ReplicatorTask;
  public readonly functions: WorkflowFunctions;
  public readonly schedule: VerifySchedule;
  public readonly alerts: ReplicatorAlerts;
  public readonly workflows: ReplicatorWorkflows;
  public readonly monitoring: ReplicationDashboard;

  constructor(scope: Construct, id: string, props: ReplicatorStackProps = {}) {
    super(scope, id, props);
    const repoRoot = props.repoRoot ?? REPO_ROOT;
    const removalPolicy = props.removalPolicy;
    const kept = { logRetention: logs.RetentionDays.THREE_MONTHS, removalPolicy };
    const cpu = props.task?.cpu ?? DEFAULT_TASK_CPU;

    this.network = new ReplicatorNetwork(this, 'Network', {
      ...kept,
      ...(props.network ? { existing: props.network } : {}),
    });
    this.statusTable = new StatusTable(this, 'StatusTable', { removalPolicy });
    this.secretAccess = new SecretAccess(
      this,
      'SecretAccess',
      props.secrets ?? { namePrefix: DEFAULT_SECRETS_PREFIX },
      props.secretsKmsKeyArns,
    );
    this.task = new ReplicatorTask(this, 'Task', {
      ...kept,
      vpc: this.network.vpc,
      jobTable: this.statusTable.table,
      cpu,
      memoryMiB: props.task?.memoryMiB ?? DEFAULT_TASK_MEMORY,
      architecture: props.task?.architecture ?? 'x86_64',
      repoRoot,
      ...(props.image ? { image: props.image } : {}),
    });
    this.secretAccess.grantRead(this.task.taskDefinition.taskRole);
    const caBundle = props.rdsCaBundle ? new RdsCaBundle(this, 'RdsCaBundle', { file: props.rdsCaBundle }) : undefined;
    this.functions = new WorkflowFunctions(this, 'Functions', {
      ...kept,
      repoRoot,
      network: {
        vpc: this.network.vpc,
        subnets: this.network.subnetSelection,
        securityGroup: this.network.securityGroup,
      },
      secrets: this.secretAccess,
      jobTable: this.statusTable.table,
      // As the task counts its copy workers when the plan sets none: its vCPUs, at least two.
      taskJobs: Math.max(2, Math.floor(cpu / 1024)),
      ...(caBundle ? { caBundle: caBundle.layer } : {}),
    });
    this.schedule = new VerifySchedule(this, 'VerifySchedule');
    this.alerts = new ReplicatorAlerts(this, 'Alerts', {
      ...(props.alarmEmail ? { alarmEmail: props.alarmEmail } : {}),
      removalPolicy,
    });
    this.workflows = new ReplicatorWorkflows(this, 'Workflows', {
      ...kept,
      repoRoot,
      network: this.network,
      task: this.task,
      functions: this.functions,
      schedule: this.schedule,
      alarmTopic: this.alerts.topic,
      alarmTopicKey: this.alerts.key,
    });
    this.alerts.alarmOnFailedExecutions('ReplicateFailedAlarm', this.workflows.replicate.stateMachine, 'replicate');
    this.alerts.alarmOnFailedExecutions(
      'VerifyFailedAlarm',
      this.workflows.verify.stateMachine,
      'verify',
      ' (rows differ between source and target, or verify could not run)',
    );
    this.alerts.alarmOnFailedExecutions('CleanupFailedAlarm', this.workflows.cleanup.stateMachine, 'cleanup');
    this.alerts.alarmOnFailedExecutions('CutoverFailedAlarm', this.workflows.cutover.stateMachine, 'cut-over');
    this.alerts.alarmOnDeadLetters(
      'VerifyScheduleDeadLettersAlarm',
      this.schedule.deadLetterQueue,
      'A scheduled verify or monitor run',
    );
    this.monitoring = new ReplicationDashboard(this, 'Monitoring', {
      namespace: metricsNamespace(this.stackName),
      recordJobService: METRIC_SERVICE,
      stateMachines: this.workflows.all.map((m) => ({ name: m.node.id.toLowerCase(), stateMachine: m.stateMachine })),
      clusterName: this.task.cluster.clusterName,
      taskFamily: this.task.taskDefinition.family,
      topic: this.alerts.topic,
      thresholds: props.alarmThresholds ?? readAlarmThresholds(this.node),
    });

    const output = (name: string, value: string, description: string) =>
      new CfnOutput(this, name, { value, description });
    output(
      'ReplicateStateMachineArn',
      this.workflows.replicate.stateMachine.stateMachineArn,
      'Start an execution with the job input to replicate',
    );
    output(
      'VerifyStateMachineArn',
      this.workflows.verify.stateMachine.stateMachineArn,
      'Compares source and target of a job (the verify schedules start it)',
    );
    output(
      'CleanupStateMachineArn',
      this.workflows.cleanup.stateMachine.stateMachineArn,
      "Removes a job's subscription, publication, slot and verify schedule",
    );
    output(
      'CutoverStateMachineArn',
      this.workflows.cutover.stateMachine.stateMachineArn,
      'Cuts a job over: drains the lag, optionally makes the source read-only, sets the target sequences',
    );
    output(
      'JobTableName',
      this.statusTable.table.tableName,
      'DynamoDB table holding replication jobs and their status',
    );
    output(
      'AlarmTopicArn',
      this.alerts.topic.topicArn,
      'SNS topic of the alarms (failed workflows, verify differences, verify runs that could not start) and of schema drift notices: subscribe to it',
    );
    output('ClusterName', this.task.cluster.clusterName, 'ECS cluster the replicator tasks run in');
    output(
      'TaskDefinitionArn',
      this.task.taskDefinition.taskDefinitionArn,
      'Fargate task definition of the replicator',
    );
    output(
      'ScheduleGroupName',
      this.schedule.group.scheduleGroupName,
      'EventBridge Scheduler group of the per-job verify schedules',
    );
    output(
      'SchedulerRoleArn',
      this.schedule.role.roleArn,
      'Role a verify schedule runs as: it may start the verify state machine only',
    );
    output(
      'ScheduleDeadLetterQueueArn',
      this.schedule.deadLetterQueue.queueArn,
      'Where EventBridge Scheduler puts a verify run it could not start (an alarm watches it)',
    );
    if (this.secretAccess.namePrefix !== undefined)
      output(
        'SecretsPrefix',
        this.secretAccess.namePrefix,
        'The workflow reads the secrets whose names start with this',
      );
    output(
      'SecurityGroupId',
      this.network.securityGroup.securityGroupId,
      'Allow this security group in on the database port of source and target',
    );
    if (this.network.natPublicIp)
      output(
        'NatPublicIp',
        this.network.natPublicIp,
        'The address tasks and functions reach databases outside the created VPC from: allow it in on their port',
      );

    suppressAcceptedFindings(this);
  }
}
