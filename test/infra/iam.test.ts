import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it, vi } from 'vitest';
import { VPC_ENI_ACTIONS } from '../../infra/lib/replicator-function.ts';
import { ReplicatorStack } from '../../infra/lib/replicator-stack.ts';
import { cdkContext, testApp } from './cdk-context.ts';
import { CUSTOM, logicalId, resourcesOf, synth, type Synthesized } from './synth.ts';

const base = synth();
const custom = synth(CUSTOM);

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
}
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Every Allow statement of the inline policies attached to a role, by the role's logical id. */
function statementsByRole(s: Synthesized): Map<string, Statement[]> {
  const byRole = new Map<string, Statement[]>();
  for (const [, p] of resourcesOf(s.json, 'AWS::IAM::Policy')) {
    const statements = (p.PolicyDocument as { Statement: Statement[] }).Statement.filter((st) => st.Effect === 'Allow');
    for (const role of p.Roles as { Ref: string }[])
      byRole.set(role.Ref, [...(byRole.get(role.Ref) ?? []), ...statements]);
  }
  return byRole;
}
const of = (s: Synthesized, role: IConstruct) => statementsByRole(s).get(logicalId(s, role)) ?? [];
/** Sorted: the feature flag that minimizes policies reorders statements, actions and resources. */
const actionsOn = (statements: Statement[], resource: unknown) =>
  statements
    .filter((st) => list(st.Resource).some((r) => JSON.stringify(r) === JSON.stringify(resource)))
    .flatMap((st) => list(st.Action))
    .sort();
const allActions = (statements: Statement[]) => statements.flatMap((st) => list(st.Action)).sort();
const sorted = (values: unknown[]) => values.map((v) => JSON.stringify(v)).sort();
const getAtt = (s: Synthesized, c: IConstruct, attr = 'Arn') => ({ 'Fn::GetAtt': [logicalId(s, c), attr] });
const ref = (s: Synthesized, c: IConstruct) => ({ Ref: logicalId(s, c) });

/** The only actions AWS offers no resource-level permission for, and that the stack grants on "*". */
const ONLY_ON_STAR = new Set([
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
  'ecr:GetAuthorizationToken',
  'cloudwatch:GetMetricData',
  ...VPC_ENI_ACTIONS,
]);

describe('cdk-nag AwsSolutions', () => {
  it.each([
    ['the default stack', base],
    ['the stack with every option set', custom],
  ])('finds nothing unacknowledged in %s', (_name, s) => {
    const report = new AwsSolutionsChecks().validateScope(s.stack);
    expect(
      report.violations.map(
        (v) => `${v.ruleName} (${v.severity}) at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
      ),
    ).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('passes as a validation plugin of the app, as cdk synth runs it (which does fail on a finding)', () => {
    const app = testApp(cdkContext({ 'aws:cdk:bundling-stacks': [] }));
    new ReplicatorStack(app, 'Nagged', CUSTOM);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();

    const control = testApp();
    new sns.Topic(new Stack(control, 'Control'), 'PlainTopic');
    Validations.of(control).addPlugins(new AwsSolutionsChecks(control));
    const stderr = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(() => control.synth()).toThrow('AwsSolutions-SNS3');
    stderr.mockRestore();
  });

  it('acknowledges each finding with a specific reason, and each IAM5 for one named wildcard', () => {
    const acks = base.stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          id: id.replace(/^Annotation::/, ''),
          reason,
        })),
      );
    const nag = acks.filter((a) => a.id.startsWith('AwsSolutions-'));
    expect(new Set(nag.map((a) => a.id.replace(/\[.*$/, '')))).toEqual(
      new Set(['AwsSolutions-ECS2', 'AwsSolutions-IAM5', 'AwsSolutions-SQS3']),
    );
    for (const a of nag) {
      expect(a.reason.length, a.id).toBeGreaterThan(60);
      if (a.id.startsWith('AwsSolutions-IAM5')) expect(a.id).toMatch(/^AwsSolutions-IAM5\[Resource::.+\]$/);
    }
  });
});

describe('IAM scope', () => {
  it.each([
    ['default', base],
    ['custom', custom],
  ])('grants "*" only for actions that have no narrower resource (%s)', (_name, s) => {
    for (const [role, statements] of statementsByRole(s)) {
      for (const st of statements.filter((x) => list(x.Resource).includes('*'))) {
        for (const action of list(st.Action)) expect(ONLY_ON_STAR.has(action), `${role}: ${action} on "*"`).toBe(true);
      }
      for (const action of allActions(statements)) expect(action, role).not.toMatch(/^[a-z0-9-]+:\*$|^\*$/);
    }
  });

  it('attaches no AWS managed policy to a role of the workflow', () => {
    const withManaged = resourcesOf(base.json, 'AWS::IAM::Role').filter(([, p]) => p.ManagedPolicyArns);
    // Only the provider CDK adds to strip the default security group of a created VPC.
    expect(withManaged.map(([id]) => id)).toEqual([expect.stringMatching(/^CustomVpcRestrictDefaultSG/)]);
  });

  it('lets the database functions and the task read only the secrets under the prefix, or the listed ARNs', () => {
    const prefix = base.stack.resolve(base.stack.secretAccess.secretArns[0]);
    expect(JSON.stringify(prefix)).toContain(':secret:database-replicator/*');
    const readers = [
      base.stack.task.taskDefinition.taskRole,
      base.stack.functions.checkGrants.role,
      base.stack.functions.estimateSize.role,
      base.stack.functions.checkReplication.role,
      base.stack.functions.checkTargetReachesSource.role,
    ];
    for (const role of readers)
      expect(actionsOn(of(base, role), prefix)).toEqual([
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
      ]);
    for (const role of [
      base.stack.functions.checkRdsParameterGroup.role,
      base.stack.functions.recordJob.role,
      ...base.stack.workflows.all.map((m) => m.stateMachine.role),
    ]) {
      expect(
        allActions(of(base, role)).filter((a) => a.startsWith('secretsmanager:')),
        role.node.path,
      ).toEqual([]);
    }
    const arns = CUSTOM.secrets && 'secretArns' in CUSTOM.secrets ? CUSTOM.secrets.secretArns : [];
    const secretStatement = of(custom, custom.stack.functions.checkReplication.role).find((st) =>
      allActions([st]).includes('secretsmanager:GetSecretValue'),
    );
    expect(sorted(list(secretStatement?.Resource))).toEqual(sorted([...arns]));
  });

  it('lets record-job and the task use the job table, and nothing else touch it', () => {
    const table = getAtt(base, base.stack.statusTable.table);
    for (const role of [base.stack.functions.recordJob.role, base.stack.task.taskDefinition.taskRole]) {
      // What the job store does to one job's items, and nothing it never does (Scan, batch writes, deletes).
      expect(allActions(of(base, role)).filter((a) => a.startsWith('dynamodb:'))).toEqual([
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ]);
      expect(actionsOn(of(base, role), table)).toEqual([
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ]);
    }
    for (const fn of [
      base.stack.functions.checkGrants,
      base.stack.functions.estimateSize,
      base.stack.functions.checkReplication,
      base.stack.functions.checkTargetReachesSource,
      base.stack.functions.checkRdsParameterGroup,
    ]) {
      expect(allActions(of(base, fn.role)).filter((a) => a.startsWith('dynamodb:'))).toEqual([]);
    }
  });

  it('lets each function write only to its own log group, and only the VPC functions manage network interfaces', () => {
    for (const fn of base.stack.functions.all) {
      const statements = of(base, fn.role);
      expect(actionsOn(statements, getAtt(base, fn.logGroup))).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
      expect(allActions(statements).filter((a) => a.startsWith('logs:'))).toEqual([
        'logs:CreateLogStream',
        'logs:PutLogEvents',
      ]);
      expect(allActions(statements).some((a) => a.startsWith('ec2:'))).toBe(fn.function.isBoundToVpc);
    }
  });

  it("lets the RDS check describe this account's instances, clusters and parameter groups only", () => {
    const statements = of(base, base.stack.functions.checkRdsParameterGroup.role).filter((st) =>
      allActions([st]).some((a) => a.startsWith('rds:')),
    );
    expect(statements).toHaveLength(1);
    expect(list(statements[0]!.Action).every((a) => /^rds:Describe/.test(a))).toBe(true);
    expect(sorted(list(statements[0]!.Resource))).toEqual(
      sorted(base.stack.functions.rdsDescribeArns.map((a) => base.stack.resolve(a))),
    );
    expect(JSON.stringify(statements[0]!.Resource)).toMatch(/:cluster-pg:\*.*:cluster:\*.*:db:\*.*:pg:\*/);
  });

  it('lets each state machine invoke exactly the functions its definition names, without version wildcards', () => {
    const fns = base.stack.functions;
    const invoked = (role: IConstruct) =>
      sorted(
        of(base, role)
          .filter((st) => allActions([st]).includes('lambda:InvokeFunction'))
          .flatMap((st) => list(st.Resource)),
      );
    const [replicate, verify, cleanup, cutover] = base.stack.workflows.all.map((m) => m.stateMachine.role);
    expect(invoked(replicate!)).toEqual(
      sorted(
        [
          fns.checkRdsParameterGroup,
          fns.checkGrants,
          fns.estimateSize,
          fns.checkReplication,
          fns.checkTargetReachesSource,
          fns.recordJob,
        ].map((f) => getAtt(base, f.function)),
      ),
    );
    expect(invoked(verify!)).toEqual(sorted([getAtt(base, fns.recordJob.function)]));
    expect(invoked(cleanup!)).toEqual(sorted([getAtt(base, fns.recordJob.function)]));
    expect(invoked(cutover!)).toEqual(sorted([getAtt(base, fns.recordJob.function)]));
  });

  it('lets each state machine run only revisions of the replicator task definition, in its cluster, passing only its roles to ECS', () => {
    const task = base.stack.task;
    const family = base.stack.resolve(task.taskDefinition.family) as string;
    for (const machine of base.stack.workflows.all) {
      const statements = of(base, machine.stateMachine.role);
      const run = statements.find((st) => list(st.Action).includes('ecs:RunTask'));
      expect(run).toMatchObject({ Condition: { ArnEquals: { 'ecs:cluster': getAtt(base, task.cluster) } } });
      // Every revision of the family: an execution started before a redeploy keeps running its own.
      expect(JSON.stringify(run!.Resource)).toContain(`:task-definition/${family}:*`);
      // PropagateTags copies the definition's tags onto the task: RunTask then needs ecs:TagResource, for RunTask only.
      const tag = statements.find((st) => list(st.Action).includes('ecs:TagResource'));
      expect(tag).toMatchObject({ Condition: { StringEquals: { 'ecs:CreateAction': 'RunTask' } } });
      expect(JSON.stringify(tag!.Resource)).toContain(':task/');
      const pass = statements.filter((st) => list(st.Action).includes('iam:PassRole'));
      expect(pass[0]).toMatchObject({
        Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      });
      expect(sorted(list(pass[0]!.Resource))).toEqual(
        sorted([getAtt(base, task.taskDefinition.taskRole), getAtt(base, task.taskDefinition.obtainExecutionRole())]),
      );
      expect(JSON.stringify(statements.find((st) => list(st.Action).includes('events:PutRule'))?.Resource)).toContain(
        'rule/StepFunctionsGetEventsForECSTaskRule',
      );
      expect(allActions(statements).filter((a) => a.startsWith('states:') || a.startsWith('dynamodb:'))).toEqual([]);
    }
  });

  it('lets replicate create and cleanup delete schedules of the group only; the schedules may start verify only', () => {
    const { schedule, workflows } = base.stack;
    const scheduleArns = base.stack.resolve(schedule.scheduleArns);
    expect(actionsOn(of(base, workflows.replicate.stateMachine.role), scheduleArns)).toEqual(
      expect.arrayContaining(['scheduler:CreateSchedule', 'scheduler:UpdateSchedule']),
    );
    expect(actionsOn(of(base, workflows.replicate.stateMachine.role), getAtt(base, schedule.role))).toEqual([
      'iam:PassRole',
    ]);
    expect(
      of(base, workflows.replicate.stateMachine.role).find(
        (st) =>
          list(st.Action).includes('iam:PassRole') &&
          JSON.stringify(st.Resource) === JSON.stringify(getAtt(base, schedule.role)),
      ),
    ).toMatchObject({ Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } } });
    expect(actionsOn(of(base, workflows.cleanup.stateMachine.role), scheduleArns)).toEqual([
      'scheduler:DeleteSchedule',
    ]);
    for (const machine of [workflows.verify, workflows.cutover]) {
      expect(
        allActions(of(base, machine.stateMachine.role)).filter((a) => a.startsWith('scheduler:')),
        machine.node.id,
      ).toEqual([]);
      expect(actionsOn(of(base, machine.stateMachine.role), getAtt(base, schedule.role)), machine.node.id).toEqual([]);
    }
    expect(of(base, schedule.role)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: 'states:StartExecution',
          Resource: ref(base, workflows.verify.stateMachine),
        }),
        // The dead-letter queue of a fire that could not start verify.
        expect.objectContaining({ Action: 'sqs:SendMessage', Resource: getAtt(base, schedule.deadLetterQueue) }),
      ]),
    );
    // The verify schedules start verify; the monitor schedules invoke the monitor function.
    expect(allActions(of(base, schedule.role))).toEqual([
      'lambda:InvokeFunction',
      'sqs:SendMessage',
      'states:StartExecution',
    ]);
  });

  it('lets record-job read the executions of the replicate workflow only, to refuse a second one of a running job', () => {
    const statements = of(base, base.stack.functions.recordJob.role).filter((st) =>
      allActions([st]).some((a) => a.startsWith('states:')),
    );
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ Action: 'states:DescribeExecution' });
    const resource = JSON.stringify(statements[0]!.Resource);
    expect(resource).toContain(':execution:');
    expect(resource).toContain(logicalId(base, base.stack.workflows.replicate.stateMachine));
  });

  it('lets only the replicate workflow publish to the alarm topic (schema drift notices), with the two key actions SNS needs', () => {
    const replicate = base.stack.workflows.replicate;
    for (const machine of base.stack.workflows.all.filter((m) => m !== replicate))
      expect(
        allActions(of(base, machine.stateMachine.role)).filter((a) => a.startsWith('sns:') || a.startsWith('kms:')),
      ).toEqual([]);
    const statements = of(base, replicate.stateMachine.role);
    expect(
      allActions(statements)
        .filter((a) => a.startsWith('sns:') || a.startsWith('kms:'))
        .sort(),
    ).toEqual(['kms:Decrypt', 'kms:GenerateDataKey', 'sns:Publish']);
    const publish = statements.find((st) => list(st.Action).includes('sns:Publish'))!;
    expect(JSON.stringify(publish.Resource)).toContain(
      base.stack.getLogicalId(base.stack.alerts.topic.node.defaultChild as CfnElement),
    );
  });

  it('lets cutover run the replicator task and invoke record-job, and nothing else', () => {
    const role = base.stack.workflows.cutover.stateMachine.role;
    const granted = [...new Set(allActions(of(base, role)))].filter((a) => !ONLY_ON_STAR.has(a)).sort();
    expect(granted).toEqual([
      'ecs:DescribeTasks',
      'ecs:RunTask',
      'ecs:StopTask',
      'ecs:TagResource',
      'events:DescribeRule',
      'events:PutRule',
      'events:PutTargets',
      'iam:PassRole',
      'lambda:InvokeFunction',
    ]);
  });

  it('gives the task role no Step Functions callback rights: the workflow runs the task with runTask.sync, without a token', () => {
    expect(
      allActions(of(base, base.stack.task.taskDefinition.taskRole)).filter((a) => a.startsWith('states:')),
    ).toEqual([]);
  });
});
