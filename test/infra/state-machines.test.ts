import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { placeholdersOf } from '../../infra/lib/asl-state-machine.ts';
import { nagSpelling } from '../../infra/lib/nag-suppressions.ts';
import { REPO_ROOT } from '../../infra/lib/replicator-stack.ts';
import { CUSTOM, logicalId, synth, type Synthesized } from './synth.ts';

const base = synth();
const custom = synth(CUSTOM);

const NAMES = ['replicate', 'verify', 'cleanup', 'cutover'] as const;
type Name = (typeof NAMES)[number];

function deployed(s: Synthesized, name: Name) {
  const machine = s.stack.workflows[name];
  const props = s.json.Resources[logicalId(s, machine.stateMachine)]!.Properties as {
    DefinitionS3Location: { Key: string };
    DefinitionSubstitutions: Record<string, unknown>;
  };
  // The definition ships as a file asset: the assembly holds it as asset.<hash>.json.
  const text = readFileSync(join(s.assemblyDir, `asset.${props.DefinitionS3Location.Key}`), 'utf8');
  return { text, substitutions: props.DefinitionSubstitutions };
}

/** What CloudFormation does at deploy time, with each value spelled as a readable string. */
function substitute(s: Synthesized, text: string, substitutions: Record<string, unknown>): string {
  return text.replace(/\$\{([A-Za-z][A-Za-z0-9_]*)\}/g, (whole, key: string) =>
    key in substitutions ? nagSpelling(s.stack, substitutions[key]) : whole,
  );
}

const source = (name: Name) => readFileSync(join(REPO_ROOT, 'statemachines', `${name}.asl.json`), 'utf8');

describe.each(NAMES)('the %s state machine in the template', (name) => {
  it('is the file of statemachines/ after substitution', () => {
    for (const s of [base, custom]) {
      const { text, substitutions } = deployed(s, name);
      const fromTemplate = substitute(s, text, substitutions);
      expect(fromTemplate).not.toMatch(/\$\{/);
      expect(JSON.parse(fromTemplate)).toEqual(JSON.parse(substitute(s, source(name), substitutions)));
    }
  });

  it('has a value for every placeholder of the file and for nothing else', () => {
    expect(Object.keys(deployed(base, name).substitutions).sort()).toEqual(placeholdersOf(source(name)));
  });
});

describe('substitutions', () => {
  const subs = (s: Synthesized, name: Name) => deployed(s, name).substitutions;
  const getAtt = (s: Synthesized, c: object, attr = 'Arn') => ({ 'Fn::GetAtt': [logicalId(s, c), attr] });

  it('point the task states at the replicator task, its cluster, subnets and security group', () => {
    const { task, network } = base.stack;
    for (const name of NAMES) {
      expect(subs(base, name)).toMatchObject({
        ClusterArn: getAtt(base, task.cluster),
        TaskDefinitionArn: { Ref: logicalId(base, task.taskDefinition) },
        ContainerName: 'replicator',
        SubnetIds: { 'Fn::Join': [',', network.subnets.map((sn) => ({ Ref: logicalId(base, sn) }))] },
        SecurityGroupId: getAtt(base, network.securityGroup, 'GroupId'),
        RecordJobFunctionArn: getAtt(base, base.stack.functions.recordJob.function),
      });
      expect(subs(custom, name)).toMatchObject({
        SubnetIds: 'subnet-0123456789abcdef0,subnet-0fedcba9876543210',
        SecurityGroupId: 'sg-0123456789abcdef0',
      });
    }
  });

  it('point replicate at its functions, the verify state machine and the schedule group and role', () => {
    const { functions: fns, schedule, workflows } = base.stack;
    expect(subs(base, 'replicate')).toMatchObject({
      CheckRdsParameterGroupFunctionArn: getAtt(base, fns.checkRdsParameterGroup.function),
      CheckGrantsFunctionArn: getAtt(base, fns.checkGrants.function),
      EstimateSizeFunctionArn: getAtt(base, fns.estimateSize.function),
      CheckReplicationFunctionArn: getAtt(base, fns.checkReplication.function),
      CheckTargetReachesSourceFunctionArn: getAtt(base, fns.checkTargetReachesSource.function),
      VerifyStateMachineArn: { Ref: logicalId(base, workflows.verify.stateMachine) },
      SchedulerRoleArn: getAtt(base, schedule.role),
      ScheduleGroupName: base.stack.resolve(schedule.group.scheduleGroupName),
      ScheduleDeadLetterQueueArn: getAtt(base, schedule.deadLetterQueue),
    });
    expect(subs(base, 'cleanup')).toMatchObject({
      ScheduleGroupName: base.stack.resolve(schedule.group.scheduleGroupName),
    });
    for (const name of NAMES) expect(subs(base, name), name).toMatchObject({ Partition: { Ref: 'AWS::Partition' } });
  });

  it('give cutover the replicator task and record-job only', () => {
    expect(Object.keys(subs(base, 'cutover')).sort()).toEqual([
      'ClusterArn',
      'ContainerName',
      'Partition',
      'RecordJobFunctionArn',
      'SecurityGroupId',
      'SubnetIds',
      'TaskDefinitionArn',
    ]);
    const fromTemplate = JSON.parse(substitute(base, deployed(base, 'cutover').text, subs(base, 'cutover'))) as {
      States: Record<
        string,
        {
          ItemProcessor?: {
            States: Record<
              string,
              { Parameters?: { Cluster?: string; Overrides?: { ContainerOverrides: { Command: string[] }[] } } }
            >;
          };
          Parameters?: { FunctionName?: string };
        }
      >;
    };
    const run = fromTemplate.States['Cut over each database']!.ItemProcessor!.States['Run cutover']!.Parameters!;
    expect(run.Cluster).toBe(nagSpelling(base.stack, getAtt(base, base.stack.task.cluster)));
    expect(run.Overrides!.ContainerOverrides[0]!.Command).toEqual(['cutover']);
    for (const state of ['Record job succeeded', 'Record job failed'])
      expect(fromTemplate.States[state]!.Parameters!.FunctionName).toBe(
        nagSpelling(base.stack, getAtt(base, base.stack.functions.recordJob.function)),
      );
  });

  it('give the tasks the subnets as one list the definition splits', () => {
    const fromTemplate = JSON.parse(
      substitute(custom, deployed(custom, 'replicate').text, deployed(custom, 'replicate').substitutions),
    ) as {
      States: Record<
        string,
        { ItemProcessor?: { States: Record<string, { Parameters?: { NetworkConfiguration?: unknown } }> } }
      >;
    };
    const copy = fromTemplate.States['Replicate each database']!.ItemProcessor!.States['Copy snapshot']!.Parameters!;
    expect(copy.NetworkConfiguration).toEqual({
      AwsvpcConfiguration: {
        'Subnets.$': "States.StringSplit('subnet-0123456789abcdef0,subnet-0fedcba9876543210', ',')",
        SecurityGroups: ['sg-0123456789abcdef0'],
        AssignPublicIp: 'DISABLED',
      },
    });
  });
});
