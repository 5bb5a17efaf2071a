import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CfnParameter, CfnResource, Duration, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { ReplicatorAlerts } from '../../infra/lib/alerts.ts';
import { AslStateMachine, placeholdersOf } from '../../infra/lib/asl-state-machine.ts';
import { fargateSizeProblem, FARGATE_SIZES } from '../../infra/lib/fargate-sizes.ts';
import { ReplicatorNetwork } from '../../infra/lib/network.ts';
import { ReplicatorFunction } from '../../infra/lib/replicator-function.ts';
import { REPO_ROOT } from '../../infra/lib/replicator-stack.ts';
import { ReplicatorTask } from '../../infra/lib/replicator-task.ts';
import { SecretAccess } from '../../infra/lib/secret-access.ts';
import { StatusTable } from '../../infra/lib/status-table.ts';
import { VerifySchedule } from '../../infra/lib/verify-schedule.ts';
import { cdkContext, testApp } from './cdk-context.ts';

// Each construct checks its props before it creates anything: one sentence that names the prop.

function bareStack(id = 'Bare'): Stack {
  return new Stack(testApp(cdkContext({ 'aws:cdk:bundling-stacks': [] })), id);
}
const nothingCreated = (stack: Stack) =>
  expect(stack.node.findAll().filter((c) => CfnResource.isCfnResource(c))).toEqual([]);

const folders: string[] = [];
afterAll(() => folders.forEach((f) => rmSync(f, { recursive: true, force: true })));

describe('StatusTable', () => {
  it('takes a valid fixed name, or lets CloudFormation name the table', () => {
    const named = bareStack();
    new StatusTable(named, 'T', { tableName: 'replicator-jobs' });
    Template.fromStack(named).hasResourceProperties('AWS::DynamoDB::GlobalTable', { TableName: 'replicator-jobs' });
    const unnamed = bareStack();
    new StatusTable(unnamed, 'T');
    Template.fromStack(unnamed).hasResourceProperties('AWS::DynamoDB::GlobalTable', { TableName: Match.absent() });
  });

  it('defers a name only known at deploy time to CloudFormation', () => {
    const stack = bareStack();
    expect(
      () => new StatusTable(stack, 'T', { tableName: new CfnParameter(stack, 'TableName').valueAsString }),
    ).not.toThrow();
  });

  it.each([['no spaces allowed'], [''], ['ab'], ['x'.repeat(256)]])(
    'refuses the invalid name %j before creating anything',
    (tableName) => {
      const stack = bareStack();
      expect(() => new StatusTable(stack, 'T', { tableName })).toThrow(
        `StatusTable: tableName "${tableName}" is not a valid DynamoDB table name: use 3 to 255 letters, digits, "_", "-" or ".", or leave it out.`,
      );
      nothingCreated(stack);
    },
  );
});

describe('ReplicatorNetwork', () => {
  const good = { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-01234567'], securityGroupId: 'sg-01234567' };
  it.each([
    [{ ...good, vpcId: 'vpc-xyz' }, 'vpcId "vpc-xyz" is not a VPC id'],
    [{ ...good, subnetIds: [] }, 'subnetIds is empty'],
    [{ ...good, subnetIds: ['subnet-01234567', 'subnet-01234567'] }, 'subnetIds lists a subnet twice'],
    [{ ...good, subnetIds: ['sg-01234567'] }, '"sg-01234567" is not a subnet id'],
    [{ ...good, securityGroupId: 'default' }, 'securityGroupId "default" is not a security group id'],
  ])('refuses %j', (existing, message) => {
    const stack = bareStack();
    expect(() => new ReplicatorNetwork(stack, 'N', { existing })).toThrow(`ReplicatorNetwork: ${message}`);
    nothingCreated(stack);
  });
});

describe('ReplicatorTask', () => {
  const base = () => {
    const stack = bareStack();
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-01234567', availabilityZones: ['eu-west-1a'] });
    const table = new dynamodb.TableV2(stack, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    });
    return { stack, props: { vpc, jobTable: table, cpu: 1024, memoryMiB: 2048, repoRoot: REPO_ROOT } };
  };

  it.each([
    [
      { cpu: 300, memoryMiB: 1024 },
      'taskCpu 300 is not a Fargate CPU value: use one of 256, 512, 1024, 2048, 4096, 8192, 16384.',
    ],
    [
      { cpu: 256, memoryMiB: 4096 },
      'taskMemory 4096 does not go with taskCpu 256: Fargate allows 512, 1024, 2048 MiB for it.',
    ],
    [
      { cpu: 4096, memoryMiB: 4096 },
      'taskMemory 4096 does not go with taskCpu 4096: Fargate allows 8192 to 30720 in steps of 1024 MiB for it.',
    ],
  ])('refuses the size %j', (size, message) => {
    const { stack, props } = base();
    expect(() => new ReplicatorTask(stack, 'T', { ...props, ...size })).toThrow(`ReplicatorTask: ${message}`);
  });

  it('refuses a bad image, and a missing Dockerfile unless an image is given', () => {
    const { stack, props } = base();
    expect(
      () => new ReplicatorTask(stack, 'T1', { ...props, image: { repositoryName: 'Bad Repo', tag: 'v1' } }),
    ).toThrow('ReplicatorTask: image Bad Repo:v1 is not an ECR repository name and tag');
    const empty = mkdtempSync(join(tmpdir(), 'dbr-repo-'));
    folders.push(empty);
    expect(() => new ReplicatorTask(stack, 'T2', { ...props, repoRoot: empty })).toThrow(
      `ReplicatorTask: containers/replicator/Dockerfile is missing under ${empty}; restore it, or pass -c imageRepository=<ECR repository> -c imageTag=<tag> to run a prebuilt image.`,
    );
    expect(
      () =>
        new ReplicatorTask(stack, 'T3', {
          ...props,
          repoRoot: empty,
          image: { repositoryName: 'database-replicator', tag: 'sha256:' + 'a'.repeat(64) },
        }),
    ).not.toThrow();
  });

  it('knows every Fargate size', () => {
    expect(Object.keys(FARGATE_SIZES).map(Number)).toEqual([256, 512, 1024, 2048, 4096, 8192, 16384]);
    expect(fargateSizeProblem(16384, 122880)).toBeUndefined();
    expect(fargateSizeProblem(8192, 20000)).toMatch(/16384 to 61440 in steps of 4096/);
  });
});

describe('ReplicatorFunction', () => {
  it('refuses a name that is no handler file, and a timeout over 15 minutes', () => {
    const stack = bareStack();
    expect(
      () =>
        new ReplicatorFunction(stack, 'F', {
          name: 'shared/errors',
          description: 'x',
          repoRoot: REPO_ROOT,
          timeout: Duration.seconds(10),
        }),
    ).toThrow('ReplicatorFunction: "shared/errors" names no handler file lambdas/<name>.ts');
    expect(
      () =>
        new ReplicatorFunction(stack, 'G', {
          name: 'no-such-handler',
          description: 'x',
          repoRoot: REPO_ROOT,
          timeout: Duration.seconds(10),
        }),
    ).toThrow('names no handler file');
    expect(
      () =>
        new ReplicatorFunction(stack, 'H', {
          name: 'record-job',
          description: 'x',
          repoRoot: REPO_ROOT,
          timeout: Duration.minutes(16),
        }),
    ).toThrow('ReplicatorFunction: the timeout of record-job must be from 1 second to 15 minutes.');
    nothingCreated(stack);
  });
});

describe('SecretAccess', () => {
  it('grants a name prefix as an ARN pattern of this account and region', () => {
    const stack = bareStack();
    const access = new SecretAccess(stack, 'S', { namePrefix: 'rds!' });
    expect(stack.resolve(access.secretArns[0])).toEqual({
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
    });
  });

  it.each([
    [{ namePrefix: 'db/*' }, 'namePrefix "db/*" is not the start of a secret name'],
    [{ namePrefix: '' }, 'namePrefix "" is not the start of a secret name'],
    [{ secretArns: [] }, 'secretArns is empty'],
    [
      { secretArns: ['arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop'] },
      '"arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop" is not a full secret ARN',
    ],
  ])('refuses %j', (props, message) => {
    expect(() => new SecretAccess(bareStack(), 'S', props)).toThrow(`SecretAccess: ${message}`);
  });
});

describe('AslStateMachine', () => {
  const file = (text: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'dbr-asl-'));
    folders.push(dir);
    mkdirSync(join(dir, 'statemachines'));
    writeFileSync(join(dir, 'statemachines', 'x.asl.json'), text);
    return join(dir, 'statemachines', 'x.asl.json');
  };
  const asl = JSON.stringify({
    StartAt: 'A',
    States: {
      A: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: '${FnArn}', Payload: { t: '${Table}' } },
        End: true,
      },
    },
  });

  it('lists the placeholders of a definition', () => {
    expect(placeholdersOf(asl)).toEqual(['FnArn', 'Table']);
  });

  it('wants a value for every placeholder and no value without one', () => {
    expect(
      () =>
        new AslStateMachine(bareStack(), 'M', { definitionFile: file(asl), substitutions: { FnArn: 'x', Other: 'y' } }),
    ).toThrow(
      /the substitutions do not match the placeholders of .*x\.asl\.json; no value for Table; no placeholder for Other\.$/,
    );
    expect(
      () =>
        new AslStateMachine(bareStack(), 'M', { definitionFile: file(asl), substitutions: { FnArn: 'x', Table: 'y' } }),
    ).not.toThrow();
  });

  it('refuses a missing file and a file that is not JSON', () => {
    expect(
      () => new AslStateMachine(bareStack(), 'M', { definitionFile: '/nowhere/x.asl.json', substitutions: {} }),
    ).toThrow('AslStateMachine: /nowhere/x.asl.json does not exist');
    expect(
      () => new AslStateMachine(bareStack(), 'M', { definitionFile: file('{ "StartAt": '), substitutions: {} }),
    ).toThrow('is not valid JSON');
  });
});

describe('VerifySchedule and ReplicatorAlerts', () => {
  it('refuse a bad group name or e-mail address', () => {
    expect(() => new VerifySchedule(bareStack(), 'V', { scheduleGroupName: 'has space' })).toThrow(
      'VerifySchedule: scheduleGroupName "has space" is not valid',
    );
    expect(() => new ReplicatorAlerts(bareStack(), 'A', { alarmEmail: 'not-an-address' })).toThrow(
      'ReplicatorAlerts: alarmEmail "not-an-address" is not an e-mail address',
    );
  });
});
