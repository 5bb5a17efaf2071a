import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, IgnoreMode, RemovalPolicy, Stack, type CfnResource } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { CpuArchitectureName, ImageSettings } from './app-settings.ts';
import { fargateSizeProblem } from './fargate-sizes.ts';
import { metricsNamespace } from './replicator-function.ts';
import { JOB_ITEM_ACTIONS } from './status-table.ts';
import { ECR_REPOSITORY, IMAGE_TAG, invalid } from './validation.ts';

/** The image is built from the repository root with this Dockerfile. */
export const DOCKERFILE = 'containers/replicator/Dockerfile';
export const CONTAINER_NAME = 'replicator';

/**
 * The build context is what the Dockerfile's own ignore file lets through (package files, src/ and
 * containers/replicator/), so the asset hash changes only with the files the image holds.
 */
export function buildContextExcludes(repoRoot: string): string[] {
  const ignoreFile = join(repoRoot, `${DOCKERFILE}.dockerignore`);
  if (!existsSync(ignoreFile))
    return ['.git', '**/node_modules', '.tools', 'cdk.out', '.scratch', 'coverage', '**/*.log'];
  return readFileSync(ignoreFile, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
}

export interface ReplicatorTaskProps {
  readonly vpc: ec2.IVpc;
  /** The job table: the task records progress, resume state and verify runs in it. */
  readonly jobTable: dynamodb.ITableV2;
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly architecture?: CpuArchitectureName;
  /** A prebuilt image in ECR; left out, containers/replicator/Dockerfile is built at deploy time. */
  readonly image?: ImageSettings;
  /** The repository root (the Docker build context). */
  readonly repoRoot: string;
  readonly logRetention?: logs.RetentionDays;
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The ECS cluster and the Fargate task definition of the replicator (containers/replicator): the state
 * machines run it with a subcommand (snapshot, subscribe, verify, cleanup) and per-run environment
 * (JOB_ID, DATABASE, secret ARNs, PLAN). The definition's own environment holds no secret: the task
 * reads credentials from Secrets Manager itself.
 */
export class ReplicatorTask extends Construct {
  public readonly cluster: ecs.Cluster;
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly container: ecs.ContainerDefinition;
  public readonly logGroup: logs.LogGroup;
  public readonly containerName = CONTAINER_NAME;

  constructor(scope: Construct, id: string, props: ReplicatorTaskProps) {
    super(scope, id);
    const problem = fargateSizeProblem(props.cpu, props.memoryMiB);
    if (problem) throw new Error(`ReplicatorTask: ${problem}`);
    if (props.image && (invalid(props.image.repositoryName, ECR_REPOSITORY) || invalid(props.image.tag, IMAGE_TAG))) {
      throw new Error(
        `ReplicatorTask: image ${props.image.repositoryName}:${props.image.tag} is not an ECR repository name and tag; pass a repository of this account and region and a tag or sha256 digest.`,
      );
    }
    if (!props.image && !existsSync(join(props.repoRoot, DOCKERFILE))) {
      throw new Error(
        `ReplicatorTask: ${DOCKERFILE} is missing under ${props.repoRoot}; restore it, or pass -c imageRepository=<ECR repository> -c imageTag=<tag> to run a prebuilt image.`,
      );
    }
    const arm = props.architecture === 'arm64';

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu,
      memoryLimitMiB: props.memoryMiB,
      runtimePlatform: {
        cpuArchitecture: arm ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    const image = props.image
      ? ecs.ContainerImage.fromEcrRepository(
          ecr.Repository.fromRepositoryName(this, 'Repository', props.image.repositoryName),
          props.image.tag,
        )
      : ecs.ContainerImage.fromAsset(props.repoRoot, {
          file: DOCKERFILE,
          platform: arm ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
          exclude: buildContextExcludes(props.repoRoot),
          ignoreMode: IgnoreMode.DOCKER,
        });
    this.container = this.taskDefinition.addContainer('Replicator', {
      containerName: CONTAINER_NAME,
      image,
      essential: true,
      logging: ecs.LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: 'replicator',
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
      }),
      // Node is not PID 1, so the pg_dump and pg_restore children are reaped; 30 s to record the state on SIGTERM.
      linuxParameters: new ecs.LinuxParameters(this, 'LinuxParameters', { initProcessEnabled: true }),
      stopTimeout: Duration.seconds(30),
      // Configuration only: credentials come from Secrets Manager at run time (the workflow passes secret ARNs).
      // Fargate sets AWS_REGION; copy workers default to PLAN.jobs, else the task's vCPUs.
      // The copy and verify metrics go out as EMF lines on stdout, which the log driver ships (src/task/task-metrics.ts).
      environment: {
        JOB_TABLE: props.jobTable.tableName,
        LOG_LEVEL: 'info',
        POWERTOOLS_METRICS_NAMESPACE: metricsNamespace(Stack.of(this).stackName),
        POWERTOOLS_SERVICE_NAME: 'database-replicator-task',
      },
    });
    // What the job store's writes and reads of one job need (src/jobs/dynamodb-store.ts); no Scan, batch or delete.
    props.jobTable.grant(this.taskDefinition.taskRole, ...JOB_ITEM_ACTIONS);
    // A redeploy registers a new revision; the old one stays ACTIVE, so an execution that started
    // before it (pinned to its revision) can still start its next tasks. Revisions cost nothing; the
    // last one stays registered after the stack is deleted too.
    (this.taskDefinition.node.defaultChild as CfnResource).applyRemovalPolicy(RemovalPolicy.RETAIN);
  }
}
