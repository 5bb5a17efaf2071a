import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RemovalPolicy, Stack, type Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

import { LAMBDA_MAIN_FIELDS, LAMBDA_TARGET, NEVER_BUNDLED, REQUIRE_SHIM } from './lambda-bundling.ts';
import { metricsNamespace } from '../../src/monitor/metrics.ts';

export { metricsNamespace };

export { REQUIRE_SHIM } from './lambda-bundling.ts';

export interface ReplicatorFunctionNetwork {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroup: ec2.ISecurityGroup;
}

export interface ReplicatorFunctionProps {
  /** The handler's file name under lambdas/, without .ts: `check-grants` for lambdas/check-grants.ts. */
  readonly name: string;
  readonly description: string;
  /** The repository root (entry files and the lock file). */
  readonly repoRoot: string;
  /** Up to 15 minutes. */
  readonly timeout: Duration;
  readonly memorySize?: number;
  /** Only for functions that open database connections. */
  readonly network?: ReplicatorFunctionNetwork;
  readonly environment?: Record<string, string>;
  /** Layers to add, such as the RDS CA bundle. */
  readonly layers?: lambda.ILayerVersion[];
  readonly logRetention?: logs.RetentionDays;
  readonly removalPolicy?: RemovalPolicy;
}

const NAME = /^[a-z][a-z0-9-]{1,62}$/;

/** The network interface actions a function in a VPC needs (Lambda's own list); EC2 offers no narrower resource for them. */
export const VPC_ENI_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
];

/**
 * One Lambda function of the workflow with the project's defaults: Node.js 24 on ARM64, an ESM
 * bundle made locally by esbuild (no Docker), active X-Ray tracing, its own log group with a
 * retention, and the Powertools settings the handlers read (service name, log level, metrics
 * namespace; lambdas/shared/observability.ts). Its role may write to its own log group only (no AWS
 * managed policy), plus the network interface actions when it runs in the VPC.
 */
export class ReplicatorFunction extends Construct {
  public readonly function: NodejsFunction;
  public readonly logGroup: logs.LogGroup;
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: ReplicatorFunctionProps) {
    super(scope, id);
    const entry = join(props.repoRoot, 'lambdas', `${props.name}.ts`);
    if (!NAME.test(props.name) || !existsSync(entry)) {
      throw new Error(
        `ReplicatorFunction: "${props.name}" names no handler file lambdas/<name>.ts under ${props.repoRoot}; pass the file name without .ts, such as check-grants.`,
      );
    }
    if (props.timeout.toSeconds() < 1 || props.timeout.toSeconds() > 900) {
      throw new Error(`ReplicatorFunction: the timeout of ${props.name} must be from 1 second to 15 minutes.`);
    }
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `database-replicator: the ${props.name} function`,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    if (props.network)
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: VPC_ENI_ACTIONS, resources: ['*'] }));
    this.function = new NodejsFunction(this, 'Function', {
      role: this.role,
      entry,
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      ...(props.layers?.length ? { layers: props.layers } : {}),
      projectRoot: props.repoRoot,
      depsLockFilePath: join(props.repoRoot, 'package-lock.json'),
      bundling: {
        format: OutputFormat.ESM,
        target: LAMBDA_TARGET,
        mainFields: LAMBDA_MAIN_FIELDS,
        banner: REQUIRE_SHIM,
        minify: true,
        sourceMap: true,
        // The AWS SDK versions the handlers were tested with, rather than the runtime's.
        externalModules: NEVER_BUNDLED,
      },
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: `database-replicator-${props.name}`,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        POWERTOOLS_METRICS_NAMESPACE: metricsNamespace(Stack.of(this).stackName),
        ...props.environment,
      },
      ...(props.network
        ? { vpc: props.network.vpc, vpcSubnets: props.network.subnets, securityGroups: [props.network.securityGroup] }
        : {}),
    });
  }
}
