import type { App } from 'aws-cdk-lib';
import { RemovalPolicy } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ReplicatorStack, type ReplicatorStackProps } from '../../infra/lib/replicator-stack.ts';
import { cdkContext, testApp } from './cdk-context.ts';

export const STACK = 'Test';

/** An existing VPC, explicit secret ARNs, a bigger ARM task, a prebuilt image, an alarm e-mail, data deleted with the stack: every option away from its default. */
export const CUSTOM: ReplicatorStackProps = {
  removalPolicy: RemovalPolicy.DESTROY,
  network: {
    vpcId: 'vpc-0123456789abcdef0',
    subnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
    securityGroupId: 'sg-0123456789abcdef0',
  },
  secrets: {
    secretArns: [
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop/source-AbCdEf',
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0a1b2c3d-4e5f-GhIjKl',
    ],
  },
  task: { cpu: 2048, memoryMiB: 8192, architecture: 'arm64' },
  image: { repositoryName: 'database-replicator', tag: 'v1.2.3' },
  alarmEmail: 'dba@example.com',
};

export interface TemplateJson {
  Resources: Record<
    string,
    { Type: string; Properties?: Record<string, unknown>; DependsOn?: string[]; DeletionPolicy?: string }
  >;
  Outputs?: Record<string, { Value: unknown }>;
}

export interface Synthesized {
  app: App;
  stack: ReplicatorStack;
  template: Template;
  json: TemplateJson;
  /** The cloud assembly folder: the staged assets (state machine definitions, image build context). */
  assemblyDir: string;
}

/**
 * Synthesizes the stack with the cdk.json feature flags, offline. Lambda bundling is skipped (the
 * app test bundles for real); everything else, including the asset staging, is as deployed.
 */
export function synth(props: ReplicatorStackProps = {}): Synthesized {
  const app = testApp(cdkContext({ 'aws:cdk:bundling-stacks': [] }));
  const stack = new ReplicatorStack(app, STACK, props);
  const assembly = app.synth();
  const json = assembly.getStackByName(STACK).template as TemplateJson;
  return { app, stack, template: Template.fromJSON(json), json, assemblyDir: assembly.directory };
}

/** Resources of one type, by logical id. */
export function resourcesOf(json: TemplateJson, type: string): [string, Record<string, unknown>][] {
  return Object.entries(json.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

export function logicalId(synthesized: Synthesized, construct: { node: { defaultChild?: unknown } } | object): string {
  const child = (construct as { node?: { defaultChild?: unknown } }).node?.defaultChild ?? construct;
  return synthesized.stack.getLogicalId(child as Parameters<ReplicatorStack['getLogicalId']>[0]);
}

/** One IAM policy statement of the template. */
export interface PolicyStatement {
  Effect?: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
}

export const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Every statement of the policies attached to a role. */
export function statementsOf(s: Synthesized, role: object): PolicyStatement[] {
  const id = logicalId(s, role);
  return resourcesOf(s.json, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Roles as { Ref: string }[]).some((r) => r.Ref === id))
    .flatMap(([, p]) => (p.PolicyDocument as { Statement: PolicyStatement[] }).Statement);
}
