import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { Match } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/lib/replicator-stack.ts';
import { buildContextExcludes } from '../../infra/lib/replicator-task.ts';
import { deploymentFromStack } from '../../src/remote/deployment.ts';
import { CUSTOM, logicalId, resourcesOf, synth } from './synth.ts';

// Synthesis dominates the run time: each variant is synthesized once and shared by its assertions.
const base = synth();
const custom = synth(CUSTOM);
const { template } = base;

const TABLE = 'AWS::DynamoDB::GlobalTable';
const FUNCTION = 'AWS::Lambda::Function';
/** The workflow's own functions (CDK adds one for the default security group's custom resource). */
const ours = (s: typeof base) =>
  resourcesOf(s.json, FUNCTION).filter(([, p]) => String(p.Description ?? '').startsWith('database-replicator:'));

describe('job table', () => {
  it('is one table keyed by string pk and sk, on demand, with point-in-time recovery and TTL on expiresAt', () => {
    template.resourceCountIs(TABLE, 1);
    template.hasResourceProperties(TABLE, {
      KeySchema: Match.exact([
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ]),
      AttributeDefinitions: Match.exact([
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ]),
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: Match.exact({ AttributeName: 'expiresAt', Enabled: true }),
      Replicas: [
        Match.objectLike({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          SSESpecification: Match.absent(),
        }),
      ],
      SSESpecification: Match.exact({ SSEEnabled: true, SSEType: 'KMS' }),
    });
  });

  it('is retained by default and deleted when the removal policy says so, like the log groups', () => {
    template.hasResource(TABLE, { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    custom.template.hasResource(TABLE, { DeletionPolicy: 'Delete' });
    for (const [, r] of Object.entries(base.json.Resources).filter(([, r]) => r.Type === 'AWS::Logs::LogGroup'))
      expect(r.DeletionPolicy).toBe('Retain');
    for (const [, r] of Object.entries(custom.json.Resources).filter(([, r]) => r.Type === 'AWS::Logs::LogGroup'))
      expect(r.DeletionPolicy).toBe('Delete');
  });
});

describe('network', () => {
  it('creates a VPC over 2 AZs with one NAT gateway, flow logs and free gateway endpoints when none is given', () => {
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::Subnet', 4);
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceType: 'VPC',
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
    });
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 2);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith(['.dynamodb'])] }),
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '0.0.0.0/0', IpProtocol: '-1' })],
      SecurityGroupIngress: Match.absent(),
    });
  });

  it('runs the database functions in its private subnets with the security group, and nothing else in the VPC', () => {
    const sg = logicalId(base, base.stack.network.securityGroup);
    const privateSubnets = base.stack.network.subnets.map((s) => ({ Ref: logicalId(base, s) }));
    const inVpc = ours(base).filter(([, p]) => p.VpcConfig);
    expect(inVpc.map(([, p]) => p.Description)).toEqual([
      expect.stringContaining('connects to source and target'),
      expect.stringContaining('estimates'),
      expect.stringContaining('slot and subscription'),
      expect.stringContaining('probes the source from the target'),
      expect.stringContaining('once a minute per job'),
    ]);
    for (const [, p] of inVpc)
      expect(p.VpcConfig).toEqual({ SecurityGroupIds: [{ 'Fn::GetAtt': [sg, 'GroupId'] }], SubnetIds: privateSubnets });
    expect(base.stack.network.subnets.every((s) => s.node.path.includes('private'))).toBe(true);
  });

  it('imports an existing VPC from its ids, creating no network resource', () => {
    for (const type of [
      'AWS::EC2::VPC',
      'AWS::EC2::Subnet',
      'AWS::EC2::NatGateway',
      'AWS::EC2::SecurityGroup',
      'AWS::EC2::FlowLog',
    ])
      custom.template.resourceCountIs(type, 0);
    const inVpc = ours(custom).filter(([, p]) => p.VpcConfig);
    expect(inVpc).toHaveLength(5);
    for (const [, p] of inVpc)
      expect(p.VpcConfig).toEqual({
        SecurityGroupIds: ['sg-0123456789abcdef0'],
        SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
      });
    expect(custom.stack.resolve(custom.stack.network.subnetIdList)).toBe(
      'subnet-0123456789abcdef0,subnet-0fedcba9876543210',
    );
  });
});

describe('Fargate task', () => {
  const taskDefinition = (s: typeof base) =>
    resourcesOf(s.json, 'AWS::ECS::TaskDefinition')[0]![1] as {
      ContainerDefinitions: Record<string, unknown>[];
    } & Record<string, unknown>;

  it('runs in a cluster with Container Insights', () => {
    template.resourceCountIs('AWS::ECS::Cluster', 1);
    template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  it('takes CPU, memory and architecture from the settings (1 vCPU, 2 GiB, x86_64 by default)', () => {
    expect(taskDefinition(base)).toMatchObject({
      Cpu: '1024',
      Memory: '2048',
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
    });
    expect(taskDefinition(custom)).toMatchObject({
      Cpu: '2048',
      Memory: '8192',
      RuntimePlatform: { CpuArchitecture: 'ARM64' },
    });
  });

  it('has one container with awslogs, an init process, time to record its state, and configuration without secrets', () => {
    const [container, ...others] = taskDefinition(base).ContainerDefinitions;
    expect(others).toEqual([]);
    expect(container).toMatchObject({
      Name: 'replicator',
      Essential: true,
      LinuxParameters: { InitProcessEnabled: true },
      StopTimeout: 30,
      LogConfiguration: {
        LogDriver: 'awslogs',
        Options: {
          'awslogs-group': { Ref: logicalId(base, base.stack.task.logGroup) },
          'awslogs-stream-prefix': 'replicator',
        },
      },
    });
    expect(container!.Environment).toEqual([
      { Name: 'JOB_TABLE', Value: { Ref: logicalId(base, base.stack.statusTable.table) } },
      { Name: 'LOG_LEVEL', Value: 'info' },
      { Name: 'POWERTOOLS_METRICS_NAMESPACE', Value: 'DatabaseReplicator/Test' },
      { Name: 'POWERTOOLS_SERVICE_NAME', Value: 'database-replicator-task' },
    ]);
    expect(container).not.toHaveProperty('Secrets');
    expect(container).not.toHaveProperty('Command');
  });

  it('builds containers/replicator at deploy time from a context of only what the Dockerfile copies', () => {
    expect(JSON.stringify(taskDefinition(base).ContainerDefinitions[0]!.Image)).toContain('container-assets');
    // The patterns of containers/replicator/Dockerfile.dockerignore, so the asset hash follows the image's files only.
    expect(buildContextExcludes(REPO_ROOT)).toEqual(expect.arrayContaining(['*', '!src/', '!containers/replicator/']));
    const manifest = JSON.parse(readFileSync(join(base.assemblyDir, 'Test.assets.json'), 'utf8')) as {
      dockerImages: Record<string, { source: { directory: string; dockerFile: string } }>;
    };
    const images = Object.values(manifest.dockerImages);
    expect(images.map((i) => i.source.dockerFile)).toEqual(['containers/replicator/Dockerfile']);
    const assetDir = join(base.assemblyDir, images[0]!.source.directory);
    expect(readdirSync(assetDir).sort()).toEqual(['containers', 'package-lock.json', 'package.json', 'src']);
    expect(readdirSync(join(assetDir, 'containers'))).toEqual(['replicator']);
    expect(readdirSync(join(assetDir, 'containers', 'replicator'))).toContain('Dockerfile');
  });

  it('runs a prebuilt ECR image by repository and tag when asked', () => {
    expect(JSON.stringify(taskDefinition(custom).ContainerDefinitions[0]!.Image)).toContain(
      '/database-replicator:v1.2.3',
    );
  });
});

describe('functions', () => {
  it('are seven, on Node.js 24 and ARM64, traced, each logging to its own log group kept 90 days', () => {
    for (const s of [base, custom]) {
      const fns = ours(s);
      expect(fns).toHaveLength(7);
      for (const [, p] of fns) {
        expect(p).toMatchObject({
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          Handler: 'index.handler',
          TracingConfig: { Mode: 'Active' },
        });
        const group = (p.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
        expect(s.json.Resources[group]).toMatchObject({
          Type: 'AWS::Logs::LogGroup',
          Properties: { RetentionInDays: 90 },
        });
      }
    }
  });

  it("set the Powertools service name and the stack's metrics namespace on every function, and record-job knows the table and the task size", () => {
    const env = (fn: { function: unknown }) =>
      (
        base.json.Resources[logicalId(base, fn.function as object)]!.Properties!.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables;
    const powertools = (name: string) => ({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: `database-replicator-${name}`,
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_METRICS_NAMESPACE: 'DatabaseReplicator/Test',
    });
    expect(env(base.stack.functions.checkGrants)).toEqual(powertools('check-grants'));
    expect(env(base.stack.functions.checkRdsParameterGroup)).toEqual(powertools('check-rds-parameter-group'));
    expect(env(base.stack.functions.recordJob)).toEqual({
      ...powertools('record-job'),
      JOB_TABLE: { Ref: logicalId(base, base.stack.statusTable.table) },
      TASK_JOBS: '2',
    });
  });
});

describe('state machines', () => {
  it('are four Standard state machines logging all events without execution data, traced', () => {
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 4);
    expect(base.stack.workflows.all.map((m) => m.node.id)).toEqual(['Replicate', 'Verify', 'Cleanup', 'Cutover']);
    for (const machine of base.stack.workflows.all) {
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineType: 'STANDARD',
        RoleArn: { 'Fn::GetAtt': [logicalId(base, machine.stateMachine.role), 'Arn'] },
        LoggingConfiguration: {
          Level: 'ALL',
          IncludeExecutionData: false,
          Destinations: [
            { CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logicalId(base, machine.logGroup), 'Arn'] } } },
          ],
        },
        TracingConfiguration: { Enabled: true },
        DefinitionS3Location: Match.objectLike({ Key: Match.stringLikeRegexp('\\.json$') }),
      });
    }
  });
});

describe('verify schedule', () => {
  it('is a schedule group and a role that EventBridge Scheduler of this account assumes for the group only', () => {
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);

    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'scheduler.amazonaws.com' },
            // The schedule group's ARN: what EventBridge Scheduler presents when it assumes the role for a schedule.
            Condition: {
              StringEquals: {
                'aws:SourceAccount': { Ref: 'AWS::AccountId' },
                'aws:SourceArn': { 'Fn::GetAtt': [logicalId(base, base.stack.schedule.group), 'Arn'] },
              },
            },
          }),
        ],
      },
    });
  });
});

describe('verify schedule, after cdk destroy', () => {
  it('the group is deleted with the stack even when data is retained, so the next deployment can create it again', () => {
    for (const s of [base, custom])
      s.template.hasResource('AWS::Scheduler::ScheduleGroup', {
        DeletionPolicy: 'Delete',
        UpdateReplacePolicy: 'Delete',
      });
  });

  it('a fire that cannot start verify goes to an encrypted dead-letter queue that an alarm watches', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 86_400,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [logicalId(base, base.stack.schedule.deadLetterQueue), 'QueueName'] },
        },
      ],
      AlarmActions: [{ Ref: logicalId(base, base.stack.alerts.topic) }],
    });
  });
});

describe('task definition', () => {
  it('keeps its old revisions on a redeploy, so a running execution can start its next task', () => {
    for (const s of [base, custom])
      s.template.hasResource('AWS::ECS::TaskDefinition', { UpdateReplacePolicy: 'Retain', DeletionPolicy: 'Retain' });
  });
});

describe('state machine logs', () => {
  it('go to log groups under /aws/vendedlogs/states/, named per deployment so a retained one does not block the next', () => {
    for (const machine of base.stack.workflows.all) {
      const name = base.json.Resources[logicalId(base, machine.logGroup)]!.Properties!.LogGroupName as {
        'Fn::Join': [string, unknown[]];
      };
      const [, parts] = name['Fn::Join'];
      expect(parts[0]).toBe(`/aws/vendedlogs/states/Test-${machine.node.id}-`);
      expect(JSON.stringify(parts.slice(1))).toContain('AWS::StackId');
    }
  });
});

describe('alerts', () => {
  it('publish to a topic that enforces TLS and is encrypted with a rotating key CloudWatch may use', () => {
    const key = logicalId(base, base.stack.alerts.key);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [key, 'Arn'] } });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          // The topic policy replaces the default one, so the alarms are let in by name.
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sns:Publish',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Condition: { ArnLike: { 'aws:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
    template.resourceCountIs('AWS::KMS::Key', 1);
  });

  it('alarm on failed, timed-out or aborted executions of each state machine (a verify difference included, told once), and on dead-lettered verify runs', () => {
    // Five here, five on the monitor's metrics (test/infra/monitoring.test.ts).
    template.resourceCountIs('AWS::CloudWatch::Alarm', 10);
    const topic = { Ref: logicalId(base, base.stack.alerts.topic) };
    for (const machine of base.stack.workflows.all) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmActions: [topic],
        Threshold: 1,
        Metrics: Match.arrayWith([
          // A period without executions has no data: FILL makes it 0 rather than a missing sum.
          Match.objectLike({ Expression: 'FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)' }),
          Match.objectLike({
            Id: 'failed',
            MetricStat: Match.objectLike({
              Metric: {
                Namespace: 'AWS/States',
                MetricName: 'ExecutionsFailed',
                Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: logicalId(base, machine.stateMachine) } }],
              },
            }),
          }),
        ]),
      });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription:
        'database-replicator: An execution of the cut-over workflow failed: open it in the Step Functions console for the failed state and its cause.',
      Metrics: Match.arrayWith([
        Match.objectLike({
          Id: 'timedOut',
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({
              MetricName: 'ExecutionsTimedOut',
              Dimensions: [
                { Name: 'StateMachineArn', Value: { Ref: logicalId(base, base.stack.workflows.cutover.stateMachine) } },
              ],
            }),
          }),
        }),
      ]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp(
        'verify workflow failed \\(rows differ between source and target, or verify could not run\\)',
      ),
    });
    // One notification per difference: no second alarm on the VerifyDifferences metric.
    expect(JSON.stringify(base.json)).not.toContain('"MetricName":"VerifyDifferences"');
  });

  it('e-mail the address given, and no one when none is', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    custom.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'dba@example.com' });
  });
});

describe('stack', () => {
  it('outputs what the CLI and operators need', () => {
    const { stack } = base;
    const names = [
      'AlarmTopicArn',
      'CleanupStateMachineArn',
      'ClusterName',
      'CutoverStateMachineArn',
      'JobTableName',
      'ReplicateStateMachineArn',
      'ScheduleDeadLetterQueueArn',
      'ScheduleGroupName',
      'SchedulerRoleArn',
      'SecurityGroupId',
      'TaskDefinitionArn',
      'VerifyStateMachineArn',
    ];
    expect(Object.keys(base.json.Outputs ?? {}).sort()).toEqual([...names, 'SecretsPrefix', 'NatPublicIp'].sort());
    // The secrets prefix is there for the CLI to store URL secrets under; explicit ARNs have none. An existing VPC has no NAT of the stack's.
    expect(Object.keys(custom.json.Outputs ?? {}).sort()).toEqual(names);
    template.hasOutput('SecretsPrefix', { Value: 'database-replicator/' });
    template.hasOutput('SchedulerRoleArn', { Value: { 'Fn::GetAtt': [logicalId(base, stack.schedule.role), 'Arn'] } });
    template.hasOutput('JobTableName', { Value: { Ref: logicalId(base, stack.statusTable.table) } });
    template.hasOutput('ReplicateStateMachineArn', {
      Value: { Ref: logicalId(base, stack.workflows.replicate.stateMachine) },
    });
    // The name remote mode reads (src/remote/deployment.ts) to run cutover on the deployed workflow.
    template.hasOutput('CutoverStateMachineArn', {
      Value: { Ref: logicalId(base, stack.workflows.cutover.stateMachine) },
    });
    template.hasOutput('TaskDefinitionArn', { Value: { Ref: logicalId(base, stack.task.taskDefinition) } });
    template.hasOutput('ClusterName', { Value: { Ref: logicalId(base, stack.task.cluster) } });
  });

  it('names its outputs as remote mode reads them, the cut-over workflow included', async () => {
    const arn = (key: string) =>
      key.endsWith('StateMachineArn')
        ? `arn:aws:states:eu-west-1:123456789012:stateMachine:${key}`
        : key === 'SchedulerRoleArn'
          ? 'arn:aws:iam::123456789012:role/scheduler'
          : key === 'SecretsPrefix'
            ? 'database-replicator/'
            : key === 'ScheduleDeadLetterQueueArn'
              ? 'arn:aws:sqs:eu-west-1:123456789012:dead-letters'
              : `value-of-${key}`;
    const cfn = mockClient(CloudFormationClient);
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'Test',
          StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Test/1',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: Object.keys(base.json.Outputs ?? {}).map((k) => ({ OutputKey: k, OutputValue: arn(k) })),
        },
      ],
    });
    try {
      expect(await deploymentFromStack(new CloudFormationClient({ region: 'eu-west-1' }), 'Test')).toEqual({
        stackName: 'Test',
        region: 'eu-west-1',
        jobTableName: 'value-of-JobTableName',
        scheduleGroupName: 'value-of-ScheduleGroupName',
        schedulerRoleArn: arn('SchedulerRoleArn'),
        secretsPrefix: 'database-replicator/',
        scheduleDeadLetterQueueArn: arn('ScheduleDeadLetterQueueArn'),
        replicateStateMachineArn: arn('ReplicateStateMachineArn'),
        verifyStateMachineArn: arn('VerifyStateMachineArn'),
        cleanupStateMachineArn: arn('CleanupStateMachineArn'),
        cutoverStateMachineArn: arn('CutoverStateMachineArn'),
      });
    } finally {
      cfn.restore();
    }
  });

  it('stays environment-agnostic, so synth needs no credentials or lookups', () => {
    expect(base.stack.environment).toBe('aws://unknown-account/unknown-region');
    expect(base.app.node.tryGetContext('aws:cdk:enable-lookups')).toBeUndefined();
  });
});
