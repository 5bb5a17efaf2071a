import { ArnFormat, Duration, Stack, type RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ReplicatorFunction, type ReplicatorFunctionNetwork } from './replicator-function.ts';

/** Record-job's Powertools service name (POWERTOOLS_SERVICE_NAME, from its name): its metrics carry it as the `service` dimension. */
export const METRIC_SERVICE = 'database-replicator-record-job';
import { JOB_ITEM_ACTIONS } from './status-table.ts';
import type { SecretAccess } from './secret-access.ts';

export interface WorkflowFunctionsProps {
  readonly repoRoot: string;
  /** Where the functions that open database connections run. */
  readonly network: ReplicatorFunctionNetwork;
  readonly secrets: SecretAccess;
  readonly jobTable: dynamodb.ITableV2;
  /** Copy workers of one task when the plan sets none, for the size estimate. */
  readonly taskJobs: number;
  /** The RDS CA bundle for the functions that connect (a layer at /opt/rds-ca/global-bundle.pem). */
  readonly caBundle?: lambda.ILayerVersion;
  readonly logRetention?: logs.RetentionDays;
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The workflow's Lambda functions (lambdas/*.ts), each with only the access it needs. Only those that
 * connect to the databases run in the VPC; the RDS API check and the job records do not need it.
 */
export class WorkflowFunctions extends Construct {
  public readonly checkRdsParameterGroup: ReplicatorFunction;
  public readonly checkGrants: ReplicatorFunction;
  public readonly estimateSize: ReplicatorFunction;
  public readonly checkReplication: ReplicatorFunction;
  public readonly checkTargetReachesSource: ReplicatorFunction;
  public readonly recordJob: ReplicatorFunction;
  /** Run by each job's monitor schedule: publishes the replication metrics, guards the retained WAL. */
  public readonly monitorReplication: ReplicatorFunction;
  /** What the parameter-group check may describe: this account's and region's instances, clusters and parameter groups. */
  public readonly rdsDescribeArns: readonly string[];

  constructor(scope: Construct, id: string, props: WorkflowFunctionsProps) {
    super(scope, id);
    if (!Number.isInteger(props.taskJobs) || props.taskJobs < 1 || props.taskJobs > 64) {
      throw new Error(`WorkflowFunctions: taskJobs ${props.taskJobs} must be a whole number from 1 to 64.`);
    }
    const common = { repoRoot: props.repoRoot, logRetention: props.logRetention, removalPolicy: props.removalPolicy };
    const inVpc = {
      ...common,
      network: props.network,
      memorySize: 512,
      ...(props.caBundle ? { layers: [props.caBundle] } : {}),
    };

    this.checkRdsParameterGroup = new ReplicatorFunction(this, 'CheckRdsParameterGroup', {
      ...common,
      name: 'check-rds-parameter-group',
      description: 'database-replicator: checks rds.logical_replication and the source instance through the RDS API',
      timeout: Duration.seconds(60),
    });
    this.checkGrants = new ReplicatorFunction(this, 'CheckGrants', {
      ...inVpc,
      name: 'check-grants',
      description: 'database-replicator: connects to source and target and runs the validate checks',
      timeout: Duration.minutes(5),
    });
    this.estimateSize = new ReplicatorFunction(this, 'EstimateSize', {
      ...inVpc,
      name: 'estimate-size',
      description: 'database-replicator: plans the source databases and estimates the copy time',
      timeout: Duration.minutes(15),
    });
    this.checkReplication = new ReplicatorFunction(this, 'CheckReplication', {
      ...inVpc,
      name: 'check-replication',
      description: "database-replicator: reads one database's slot and subscription and judges the replication",
      timeout: Duration.seconds(90),
    });
    this.checkTargetReachesSource = new ReplicatorFunction(this, 'CheckTargetReachesSource', {
      ...inVpc,
      name: 'check-target-reaches-source',
      description:
        'database-replicator: probes the source from the target server, as its subscription will connect, before the copy',
      timeout: Duration.minutes(5),
    });
    this.recordJob = new ReplicatorFunction(this, 'RecordJob', {
      ...common,
      name: 'record-job',
      description:
        'database-replicator: records the job in the job table (started, succeeded, failed, verify result, clean-up)',
      timeout: Duration.seconds(30),
      environment: {
        JOB_TABLE: props.jobTable.tableName,
        TASK_JOBS: String(props.taskJobs),
      },
    });

    this.monitorReplication = new ReplicatorFunction(this, 'MonitorReplication', {
      ...inVpc,
      name: 'monitor-replication',
      description:
        "database-replicator: once a minute per job, publishes each database's lag, retained WAL, tables and errors, and guards the retained WAL",
      timeout: Duration.seconds(50),
      environment: {
        JOB_TABLE: props.jobTable.tableName,
      },
    });

    for (const fn of this.connecting) props.secrets.grantRead(fn.function);
    // It records a slot the WAL-retention guard dropped in the job record.
    props.jobTable.grant(this.monitorReplication.function, ...JOB_ITEM_ACTIONS);
    // The RDS source's FreeStorageSpace; GetMetricData names no resource.
    this.monitorReplication.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }),
    );
    props.jobTable.grant(this.recordJob.function, ...JOB_ITEM_ACTIONS);
    const stack = Stack.of(this);
    this.rdsDescribeArns = ['db', 'cluster', 'pg', 'cluster-pg'].map((resource) =>
      stack.formatArn({ service: 'rds', resource, resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    );
    // The source is named only when an execution starts, so the check may read any of them.
    this.checkRdsParameterGroup.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          'rds:DescribeDBInstances',
          'rds:DescribeDBClusters',
          'rds:DescribeDBParameters',
          'rds:DescribeDBClusterParameters',
        ],
        resources: [...this.rdsDescribeArns],
      }),
    );
  }

  public get all(): ReplicatorFunction[] {
    return [
      this.checkRdsParameterGroup,
      this.checkGrants,
      this.estimateSize,
      this.checkReplication,
      this.checkTargetReachesSource,
      this.recordJob,
      this.monitorReplication,
    ];
  }

  /** The functions that connect to the databases: in the VPC, reading the secrets. */
  public get connecting(): ReplicatorFunction[] {
    return [
      this.checkGrants,
      this.estimateSize,
      this.checkReplication,
      this.checkTargetReachesSource,
      this.monitorReplication,
    ];
  }
}
