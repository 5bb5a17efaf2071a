// README's "First run, step by step", checked against the synthesized template and the definitions: the
// network a task and a function run in, the AWS services they reach (the VPC endpoints listed), the secrets
// the stack may read, the example input, the states the console shows and the errors a failure names.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { normalizeJob, workflowInputSchema } from '../../lambdas/shared/workflow-job.ts';
import { SecretAccess } from '../../infra/lib/secret-access.ts';
import { repoRoot, testApp } from './cdk-context.ts';
import { asList, CUSTOM, logicalId, resourcesOf, statementsOf, synth, type Synthesized } from './synth.ts';

const base = synth();
const custom = synth(CUSTOM);
const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const guide = readme.slice(
  readme.indexOf('### First run, step by step'),
  readme.indexOf('\n### ', readme.indexOf('### First run, step by step') + 5),
);
const step = (n: number) =>
  guide.slice(
    guide.indexOf(`#### ${n}.`),
    guide.indexOf(`#### ${n + 1}.`) === -1 ? undefined : guide.indexOf(`#### ${n + 1}.`),
  );

type Json = Record<string, unknown>;
const list = asList;

const definitions = readdirSync(join(repoRoot, 'statemachines'))
  .filter((f) => f.endsWith('.asl.json'))
  .map((f) => JSON.parse(readFileSync(join(repoRoot, 'statemachines', f), 'utf8')) as Json);
type State = { Type: string; Resource?: string; Parameters?: Json; Branches?: Machine[]; ItemProcessor?: Machine };
type Machine = { States: Record<string, State> };
const allStates = (m: Machine): [string, State][] =>
  Object.entries(m.States).flatMap(([n, s]): [string, State][] => [
    [n, s],
    ...(s.Branches ?? []).flatMap(allStates),
    ...(s.ItemProcessor ? allStates(s.ItemProcessor) : []),
  ]);

describe('step 2: the network of the tasks and the functions that connect', () => {
  it('runs every task without a public IP address, in the subnets and security group of the stack', () => {
    const runTasks = definitions
      .flatMap((d) => allStates(d as Machine))
      .filter(([, s]) => s.Resource?.endsWith(':ecs:runTask.sync'));
    expect(runTasks.length).toBeGreaterThanOrEqual(5);
    for (const [name, s] of runTasks) {
      expect((s.Parameters!.NetworkConfiguration as Json).AwsvpcConfiguration, name).toEqual({
        'Subnets.$': "States.StringSplit('${SubnetIds}', ',')",
        SecurityGroups: ['${SecurityGroupId}'],
        AssignPublicIp: 'DISABLED',
      });
    }
    const machines = resourcesOf(base.json, 'AWS::StepFunctions::StateMachine');
    const privateSubnets = base.stack.network.subnets.map((subnet) => ({ Ref: logicalId(base, subnet) }));
    for (const [, p] of machines) {
      const substitutions = p.DefinitionSubstitutions as Json;
      expect(substitutions.SubnetIds).toEqual({ 'Fn::Join': [',', privateSubnets] });
      expect(substitutions.SecurityGroupId).toEqual({
        'Fn::GetAtt': [logicalId(base, base.stack.network.securityGroup), 'GroupId'],
      });
    }
    const inVpc = resourcesOf(base.json, 'AWS::Lambda::Function')
      .filter(([, p]) => p.VpcConfig)
      .map(([id]) => id);
    expect(inVpc.sort()).toEqual(base.stack.functions.connecting.map((f) => logicalId(base, f.function)).sort());
    expect(step(2)).toContain('`Check grants`, `Estimate size`,\n`Check replication`, `Check target reaches source`');
  });

  it('creates a group with all outbound traffic and no inbound rule', () => {
    const [[, group]] = resourcesOf(base.json, 'AWS::EC2::SecurityGroup') as [[string, Json]];
    expect(group.SecurityGroupEgress).toEqual([expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: '-1' })]);
    expect(group.SecurityGroupIngress).toBeUndefined();
    expect(resourcesOf(base.json, 'AWS::EC2::SecurityGroupIngress')).toEqual([]);
  });

  it('sends everything the private subnets send out through one NAT gateway, whose Elastic IP is the output NatPublicIp', () => {
    const [[natId, nat]] = resourcesOf(base.json, 'AWS::EC2::NatGateway') as [[string, Json]];
    const eipId = (nat.AllocationId as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    expect(base.json.Outputs!.NatPublicIp!.Value).toEqual({ 'Fn::GetAtt': [eipId, 'PublicIp'] });
    const routes = resourcesOf(base.json, 'AWS::EC2::Route').map(([, r]) => r);
    const associations = resourcesOf(base.json, 'AWS::EC2::SubnetRouteTableAssociation').map(([, a]) => a);
    for (const subnet of base.stack.network.subnets) {
      const table = associations.find(
        (a) => JSON.stringify(a.SubnetId) === JSON.stringify({ Ref: logicalId(base, subnet) }),
      )!.RouteTableId;
      const defaultRoute = routes.find(
        (r) => JSON.stringify(r.RouteTableId) === JSON.stringify(table) && r.DestinationCidrBlock === '0.0.0.0/0',
      );
      expect(defaultRoute, subnet.node.path).toMatchObject({ NatGatewayId: { Ref: natId } });
    }
  });

  it('has no NAT address to offer in an existing VPC, where it creates no network resource', () => {
    expect(custom.json.Outputs).not.toHaveProperty('NatPublicIp');
    for (const type of [
      'AWS::EC2::VPC',
      'AWS::EC2::Subnet',
      'AWS::EC2::Route',
      'AWS::EC2::NatGateway',
      'AWS::EC2::VPCEndpoint',
      'AWS::EC2::SecurityGroup',
    ])
      expect(resourcesOf(custom.json, type), type).toEqual([]);
  });
});

describe('step 3: the VPC endpoints an existing VPC needs', () => {
  /** The services reached from the task's network interface, and from the four functions' code. */
  function servicesCalledFromTheVpc(s: Synthesized): Set<string> {
    // Lambda writes the functions' logs and traces and manages their network interfaces itself, from outside the VPC;
    // kms:Decrypt is allowed only through Secrets Manager, which calls KMS itself.
    const byLambdaService = /^(logs|xray|ec2):/;
    const roles: IConstruct[] = [
      s.stack.task.taskDefinition.taskRole,
      s.stack.task.taskDefinition.obtainExecutionRole(),
    ];
    const functionRoles = s.stack.functions.connecting.map((f) => f.role);
    const actions = [
      ...roles.flatMap((r) => statementsOf(s, r)).flatMap((st) => list(st.Action)),
      ...functionRoles
        .flatMap((r) => statementsOf(s, r))
        .flatMap((st) => list(st.Action))
        .filter((a) => !byLambdaService.test(a)),
    ].filter((a) => !a.startsWith('kms:'));
    return new Set(actions.map((a) => a.split(':')[0]!));
  }

  it('lists an endpoint for every AWS service the tasks and the functions in the VPC call, and no other', () => {
    const services = servicesCalledFromTheVpc(custom);
    expect([...services].sort()).toEqual(['cloudwatch', 'dynamodb', 'ecr', 'logs', 'secretsmanager']);
    // ECR serves manifests through ecr.api and ecr.dkr, and image layers from S3; CloudWatch's API endpoint is "monitoring".
    const endpointsOf = (service: string) =>
      service === 'ecr' ? ['ecr.api', 'ecr.dkr', 's3'] : service === 'cloudwatch' ? ['monitoring'] : [service];
    const needed = [...services].flatMap(endpointsOf).sort();
    const listed = [...step(3).matchAll(/`com\.amazonaws\.<region>\.([a-z0-9.]+)`/g)].map((m) => m[1]!).sort();
    expect(listed).toEqual(needed);
    for (const gateway of ['dynamodb', 's3']) expect(step(3)).toMatch(new RegExp(`\\.${gateway}\` \\| gateway`));
    // The created VPC has exactly the two gateway endpoints; the interface endpoints are for an existing VPC.
    expect(resourcesOf(base.json, 'AWS::EC2::VPCEndpoint').map(([, p]) => p.VpcEndpointType)).toEqual([
      'Gateway',
      'Gateway',
    ]);
  });
});

describe('step 4: the secrets the stack may read', () => {
  it('covers every RDS-managed secret with -c secretsPrefix=rds!, and only those', () => {
    const stack = new Stack(testApp(), 'Secrets');
    const access = new SecretAccess(stack, 'Access', { namePrefix: 'rds!' });
    expect(stack.resolve(access.secretArns)).toEqual([
      {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':secretsmanager:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            ':secret:rds!*',
          ],
        ],
      },
    ]);
  });

  it('grants the task and the four functions exactly the listed secret ARNs, an RDS-managed one included', () => {
    const arns = 'secretArns' in CUSTOM.secrets! ? CUSTOM.secrets.secretArns : [];
    expect(arns.some((a) => a.includes(':secret:rds!db-'))).toBe(true);
    for (const role of [
      custom.stack.task.taskDefinition.taskRole,
      ...custom.stack.functions.connecting.map((f) => f.role),
    ]) {
      const read = statementsOf(custom, role).filter((st) => list(st.Action).includes('secretsmanager:GetSecretValue'));
      expect(read.flatMap((st) => list(st.Resource)).sort(), role.node.path).toEqual([...arns].sort());
    }
  });
});

describe('step 5: the first execution', () => {
  const blocks = [...step(5).matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as Json);

  it('gives an input the workflow accepts: a source secret under the prefix and an RDS-managed target secret with its endpoint', () => {
    expect(blocks).toHaveLength(1);
    const input = workflowInputSchema.parse(blocks[0]);
    expect(input.sourceSecretArn).toContain(':secret:database-replicator/');
    expect(input.targetSecretArn).toMatch(/:secret:rds!db-[0-9a-f-]+-[A-Za-z0-9]{6}$/);
    const job = normalizeJob(input);
    expect(job).toMatchObject({
      targetEndpoint: 'shop-new.def456.eu-west-1.rds.amazonaws.com:5432',
      rdsCheck: { source: { instanceIdentifier: 'shop-prod' } },
      verifySchedule: { name: 'verify-shop' },
    });
  });

  it('shows the key for a target database of another name as the workflow reads it', () => {
    const snippet = /`("databases": \["shop"\], "targetDatabases": \["shop_v2"\])`/.exec(step(5))![1]!;
    const input = workflowInputSchema.parse({ ...blocks[0], ...(JSON.parse(`{${snippet}}`) as Json) });
    expect(normalizeJob(input).databases).toMatchObject([{ database: 'shop', targetDatabase: 'shop_v2' }]);
  });
});

describe('step 6: the console, state by state', () => {
  it('names every state of the replicate workflow, and no other', () => {
    const replicate = JSON.parse(readFileSync(join(repoRoot, 'statemachines/replicate.asl.json'), 'utf8')) as Machine;
    const rows = step(6)
      .split('\n')
      .filter((l) => l.startsWith('| `'));
    const named = rows.flatMap((row) => [...row.split('|')[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
    expect(named.sort()).toEqual(
      allStates(replicate)
        .map(([n]) => n)
        .sort(),
    );
  });
});

describe('step 7: reading a failure', () => {
  it('names only errors that the workflow, its functions or its task raise', () => {
    const code = [
      'lambdas',
      'lambdas/shared',
      'src/task',
      'src/connection',
      'src/checks',
      'src/replication',
      'statemachines',
    ]
      .flatMap((dir) =>
        readdirSync(join(repoRoot, dir))
          .filter((f) => /\.(ts|json)$/.test(f))
          .map((f) => readFileSync(join(repoRoot, dir, f), 'utf8')),
      )
      .join('\n');
    const errors = step(7).slice(0, step(7).indexOf('Then look'));
    const names = [...new Set([...errors.matchAll(/`([A-Z][A-Za-z]+(?:\.[A-Z][A-Za-z]+)?)`/g)].map((m) => m[1]!))];
    expect(names.length).toBeGreaterThanOrEqual(12);
    for (const name of names) expect(code, name).toContain(name);
  });

  it("finds the task's log stream where it says: replicator/replicator/<task id>", () => {
    const [[, taskDefinition]] = resourcesOf(base.json, 'AWS::ECS::TaskDefinition') as [
      [string, { ContainerDefinitions: Json[] }],
    ];
    const container = taskDefinition.ContainerDefinitions[0]!;
    expect(container.Name).toBe('replicator');
    expect(container.LogConfiguration).toMatchObject({
      LogDriver: 'awslogs',
      Options: { 'awslogs-stream-prefix': 'replicator' },
    });
    expect(step(7)).toContain('`replicator/replicator/<task id>`');
  });
});

describe('the partition', () => {
  it('builds every ARN of the template from AWS::Partition, never a literal arn:aws: (only ARNs given in context are literal)', () => {
    expect(JSON.stringify(base.json)).not.toMatch(/arn:aws[a-z-]*:/);
    const given = 'secretArns' in CUSTOM.secrets! ? CUSTOM.secrets.secretArns : [];
    let text = JSON.stringify(custom.json);
    for (const arn of given) text = text.split(arn).join('');
    expect(text).not.toMatch(/arn:aws[a-z-]*:/);
  });
});

describe('the limits of a first execution', () => {
  it("gives every function state more time than the function's own timeout, so a slow check fails with its own error, not States.Timeout", () => {
    const functions = new Map(
      resourcesOf(base.json, 'AWS::Lambda::Function').map(([id, p]) => [id, p.Timeout as number]),
    );
    let checked = 0;
    for (const [, machine] of resourcesOf(base.json, 'AWS::StepFunctions::StateMachine')) {
      const substitutions = machine.DefinitionSubstitutions as Record<string, unknown>;
      // The definition whose placeholders are exactly this machine's substitutions.
      const placeholders = (d: Json) =>
        [...new Set([...JSON.stringify(d).matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!))].sort();
      const file = definitions.find(
        (d) => JSON.stringify(placeholders(d)) === JSON.stringify(Object.keys(substitutions).sort()),
      )!;
      for (const [name, state] of allStates(file as Machine).filter(
        ([, st]) => st.Resource === 'arn:${Partition}:states:::lambda:invoke',
      )) {
        const placeholder = /^\$\{(\w+)\}$/.exec((state.Parameters as { FunctionName: string }).FunctionName)![1]!;
        const functionId = (substitutions[placeholder] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
        expect((state as { TimeoutSeconds?: number }).TimeoutSeconds, name).toBeGreaterThan(functions.get(functionId)!);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(13);
  });
});
