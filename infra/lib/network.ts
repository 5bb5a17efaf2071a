import { Fn, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { NetworkSettings } from './app-settings.ts';
import { invalid, SECURITY_GROUP_ID, SUBNET_ID, VPC_ID } from './validation.ts';

export interface ReplicatorNetworkProps {
  /** An existing VPC, its private subnets and a security group; left out, a VPC is created (2 AZs, one NAT gateway). */
  readonly existing?: NetworkSettings;
  /** Retention of the flow logs of a created VPC. */
  readonly logRetention?: logs.RetentionDays;
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Where the Fargate tasks and the functions that open database connections run. An existing VPC is
 * imported from its ids (no lookup, so synth stays offline); its subnets need a route to the AWS APIs
 * (NAT or VPC endpoints) and the databases must accept the security group on their port.
 */
export class ReplicatorNetwork extends Construct {
  public readonly vpc: ec2.IVpc;
  /** The subnets tasks and functions run in. */
  public readonly subnets: ec2.ISubnet[];
  public readonly subnetSelection: ec2.SubnetSelection;
  /** Attached to every task and function: the databases allow it in. */
  public readonly securityGroup: ec2.ISecurityGroup;
  /** Flow logs of a created VPC (an existing VPC keeps its own). */
  public readonly flowLogGroup?: logs.LogGroup;
  /**
   * The public address of a created VPC's NAT gateway: what databases outside that VPC see the tasks and
   * functions connect from (a security group cannot be referenced from another, unpeered VPC).
   */
  public readonly natPublicIp?: string;

  constructor(scope: Construct, id: string, props: ReplicatorNetworkProps = {}) {
    super(scope, id);
    const existing = props.existing;
    if (existing) validate(existing);

    if (existing) {
      this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: existing.vpcId,
        // The AZs of the subnets are not needed to place tasks and functions in them; asking EC2 would be a lookup.
        availabilityZones: Fn.getAzs(),
        privateSubnetIds: [...existing.subnetIds],
      });
      this.subnets = this.vpc.privateSubnets;
      Validations.of(this).acknowledge({
        id: 'Annotation::@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones',
        reason:
          'Tasks and functions are placed by explicit subnet ids and nothing here selects subnets by AZ; asking EC2 for the AZs would be a lookup, and synth stays offline.',
      });
      Validations.of(this).acknowledge({
        id: 'Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId',
        reason:
          'Nothing reads the route tables of the given subnets: the stack adds no routes or endpoints to an existing VPC.',
      });
      this.securityGroup = ec2.SecurityGroup.fromSecurityGroupId(this, 'SecurityGroup', existing.securityGroupId, {
        mutable: false,
      });
    } else {
      this.flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
        retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      });
      const vpc = new ec2.Vpc(this, 'Vpc', {
        maxAzs: 2,
        natGateways: 1,
        subnetConfiguration: [
          { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
          { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        ],
        flowLogs: {
          all: {
            destination: ec2.FlowLogDestination.toCloudWatchLogs(this.flowLogGroup),
            trafficType: ec2.FlowLogTrafficType.ALL,
          },
        },
        // DynamoDB (job table) and S3 (ECR image layers) without the NAT gateway, at no cost.
        gatewayEndpoints: {
          DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
          S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        },
      });
      this.vpc = vpc;
      const eip = vpc.publicSubnets
        .map((s) => s.node.tryFindChild('EIP'))
        .find((c): c is ec2.CfnEIP => c instanceof ec2.CfnEIP);
      if (eip) this.natPublicIp = eip.attrPublicIp;
      this.subnets = vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnets;
      this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
        vpc,
        description:
          'database-replicator tasks and functions: out to the databases and the AWS APIs; allow it in on the database port',
        allowAllOutbound: true,
      });
    }
    this.subnetSelection = { subnets: this.subnets };
  }

  /** The subnet ids, comma-separated: the state machines split them into the tasks' network configuration. */
  public get subnetIdList(): string {
    return Fn.join(
      ',',
      this.subnets.map((s) => s.subnetId),
    );
  }
}

function validate(existing: NetworkSettings): void {
  const problems: string[] = [];
  if (invalid(existing.vpcId, VPC_ID)) problems.push(`vpcId "${existing.vpcId}" is not a VPC id (vpc-...)`);
  if (existing.subnetIds.length === 0) problems.push('subnetIds is empty');
  for (const subnet of existing.subnetIds)
    if (invalid(subnet, SUBNET_ID)) problems.push(`"${subnet}" is not a subnet id (subnet-...)`);
  if (new Set(existing.subnetIds).size !== existing.subnetIds.length) problems.push('subnetIds lists a subnet twice');
  if (invalid(existing.securityGroupId, SECURITY_GROUP_ID))
    problems.push(`securityGroupId "${existing.securityGroupId}" is not a security group id (sg-...)`);
  if (problems.length)
    throw new Error(
      `ReplicatorNetwork: ${problems.join('; ')}; pass the ids of an existing VPC, its private subnets and a security group.`,
    );
}
