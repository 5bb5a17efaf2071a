// The deployment's monitoring: the dashboard (every metric it graphs is one the emitter publishes, with
// the same dimensions), the alarms on the monitor's metrics and their thresholds from the context, the
// monitor function, and the life of a job's monitor schedule (made by replicate, deleted by cleanup).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { readAlarmThresholds } from '../../infra/lib/alarm-settings.ts';
import { REPO_ROOT, ReplicatorStack } from '../../infra/lib/replicator-stack.ts';
import { METRIC_SERVICE } from '../../infra/lib/workflow-functions.ts';
import { alarmRules, DEFAULT_ALARM_THRESHOLDS } from '../../src/monitor/alarm-rules.ts';
import { PUBLISHED_METRICS } from '../../src/monitor/metrics.ts';
import { cdkContext, testApp } from './cdk-context.ts';
import { logicalId, resourcesOf, synth, type Synthesized } from './synth.ts';

const base = synth();
const NAMESPACE = 'DatabaseReplicator/Test';
const GIB = 1024 ** 3;

/** The dashboard body as the console reads it, with references spelled `<LogicalId>`. */
function dashboardBody(s: Synthesized): {
  widgets: { type: string; properties: { markdown?: string; title?: string; metrics?: unknown[][] } }[];
} {
  const [[, props]] = resourcesOf(s.json, 'AWS::CloudWatch::Dashboard') as [
    [string, { DashboardBody: { 'Fn::Join': [string, unknown[]] } }],
  ];
  const text = props.DashboardBody['Fn::Join'][1]
    .map((part) => (typeof part === 'string' ? part : `<${JSON.stringify(part).replace(/"/g, "'")}>`))
    .join('');
  return JSON.parse(text) as ReturnType<typeof dashboardBody>;
}

/** Each metric a widget graphs in `namespace`: from SEARCH expressions and from plain metric rows. */
function graphedMetrics(s: Synthesized, namespace: string): { name: string; dimensions: string[] }[] {
  const out: { name: string; dimensions: string[] }[] = [];
  for (const widget of dashboardBody(s).widgets) {
    for (const row of widget.properties.metrics ?? []) {
      const first = row[0];
      if (first && typeof first === 'object' && 'expression' in first) {
        const m = /^SEARCH\('\{"([^"]+)",([^}]*)\} MetricName="([^"]+)"'/.exec(
          (first as { expression: string }).expression,
        );
        expect(m, (first as { expression: string }).expression).not.toBeNull();
        if (m![1] === namespace) out.push({ name: m![3]!, dimensions: m![2]!.split(',') });
      } else if (first === namespace) {
        const rest = row.slice(2).filter((v) => typeof v === 'string') as string[];
        out.push({ name: row[1] as string, dimensions: rest.filter((_, i) => i % 2 === 0) });
      }
    }
  }
  return out;
}

describe('the dashboard', () => {
  it('is one per deployment, opening with a text that says how to read it', () => {
    base.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const [text] = dashboardBody(base).widgets;
    expect(text!.type).toBe('text');
    expect(text!.properties.markdown).toContain('Each line is one **job / database**');
    expect(text!.properties.markdown).toContain('WAL retained above 20 GB');
    expect(text!.properties.markdown).toContain('database-replicator status --remote --job-id <JobId>');
  });

  it('graphs only metrics the emitter publishes, with their dimensions, and every one of them', () => {
    const graphed = graphedMetrics(base, NAMESPACE);
    const published = PUBLISHED_METRICS.map((m) => `${m.name}{${[...m.dimensions].join(',')}}`);
    const shown = graphed.map((g) => `${g.name}{${g.dimensions.join(',')}}`);
    for (const s of shown) expect(published, s).toContain(s);
    expect([...new Set(shown)].sort()).toEqual([...published].sort());
    // VerifyDifferences as record-job publishes it: under its service name.
    const body = JSON.stringify(dashboardBody(base));
    expect(body).toContain(JSON.stringify([NAMESPACE, 'VerifyDifferences', 'service', METRIC_SERVICE]).slice(1, -1));
  });

  it("has the replicator task publish its copy and verify metrics under the dashboard's namespace", () => {
    const [[, taskDefinition]] = resourcesOf(base.json, 'AWS::ECS::TaskDefinition') as [
      [string, { ContainerDefinitions: { Environment: { Name: string; Value: unknown }[] }[] }],
    ];
    expect(taskDefinition.ContainerDefinitions[0]!.Environment).toContainEqual({
      Name: 'POWERTOOLS_METRICS_NAMESPACE',
      Value: NAMESPACE,
    });
    const titles = dashboardBody(base).widgets.map((w) => w.properties.title);
    expect(titles).toEqual(
      expect.arrayContaining([
        'Snapshot copy: bytes and rows copied',
        'Snapshot copy rate (MB/s)',
        'Rows verify found different',
      ]),
    );
  });

  it("graphs the state machines' executions and the replicator task's CPU and memory", () => {
    const rows = dashboardBody(base).widgets.flatMap((w) => w.properties.metrics ?? []);
    for (const machine of base.stack.workflows.all) {
      for (const name of ['ExecutionsStarted', 'ExecutionsSucceeded', 'ExecutionsFailed']) {
        expect(
          rows.some(
            (r) =>
              r[0] === 'AWS/States' && r[1] === name && String(r[3]).includes(logicalId(base, machine.stateMachine)),
          ),
          `${machine.node.id} ${name}`,
        ).toBe(true);
      }
    }
    for (const name of ['CpuUtilized', 'MemoryUtilized'])
      expect(
        rows.some((r) => r[0] === 'ECS/ContainerInsights' && r[1] === name && r.includes('TaskDefinitionFamily')),
        name,
      ).toBe(true);
  });
});

describe('the replication alarms', () => {
  const rules = alarmRules(DEFAULT_ALARM_THRESHOLDS);

  it('one per rule, to the alarm topic, over every job and database (Metrics Insights, grouped), with the rule threshold and duration', () => {
    const topic = { Ref: logicalId(base, base.stack.alerts.topic) };
    for (const rule of rules) {
      const dims = rule.metric.dimensions.join(', ');
      base.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmActions: [topic],
        Threshold: rule.threshold,
        EvaluationPeriods: rule.periods,
        DatapointsToAlarm: rule.periods,
        TreatMissingData: 'notBreaching',
        AlarmDescription: `database-replicator: ${rule.description}`,
        Metrics: [
          Match.objectLike({
            Expression: `SELECT ${{ Maximum: 'MAX', Minimum: 'MIN', Sum: 'SUM' }[rule.statistic]}("${rule.metric.name}") FROM SCHEMA("${NAMESPACE}", ${dims}) GROUP BY ${dims}`,
            Period: rule.periodSeconds,
          }),
        ],
      });
    }
    // The five of the monitor and the five on failed executions and dead letters.
    base.template.resourceCountIs('AWS::CloudWatch::Alarm', 10);
  });

  it('say what the issue asks: WAL above 20 GB, WAL growing 30 minutes unconsumed, lag 15 minutes, a disabled subscription', () => {
    const byId = Object.fromEntries(rules.map((r) => [r.id, r]));
    expect(byId.WalRetainedAlarm).toMatchObject({ threshold: 20 * GIB, comparison: 'GreaterThanThreshold' });
    expect(byId.WalGrowingUnconsumedAlarm!.periodSeconds * byId.WalGrowingUnconsumedAlarm!.periods).toBe(30 * 60);
    expect(byId.ReplicationLagAlarm!.periodSeconds * byId.ReplicationLagAlarm!.periods).toBe(15 * 60);
    expect(byId.SubscriptionDisabledAlarm).toMatchObject({
      statistic: 'Minimum',
      comparison: 'LessThanThreshold',
      threshold: 1,
    });
    for (const rule of rules)
      expect(rule.description, rule.id).toMatch(
        /database-replicator (status|sync|cleanup) --remote --job-id <JobId>|server log/,
      );
  });

  it('take their thresholds from the context, as numbers or strings', () => {
    const app = testApp(cdkContext({ 'aws:cdk:bundling-stacks': [], walRetainedAlarmGb: '5', lagAlarmSeconds: 120 }));
    const stack = new ReplicatorStack(app, 'Thresholds');
    const json = app.synth().getStackByName('Thresholds').template as {
      Resources: Record<
        string,
        { Type: string; Properties: { Threshold?: number; Metrics?: { Expression?: string }[] } }
      >;
    };
    const threshold = (metric: string) =>
      Object.values(json.Resources).find(
        (r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.Metrics?.[0]?.Expression?.includes(`"${metric}"`),
      )!.Properties.Threshold;
    expect(threshold('WalRetainedBytes')).toBe(5 * GIB);
    expect(threshold('ReplicationLagSeconds')).toBe(120);
    expect(stack.monitoring.alarms).toHaveLength(5);
  });

  it('refuse a threshold that is not a positive number, naming the key', () => {
    const node = (context: Record<string, unknown>) => testApp(cdkContext(context)).node;
    expect(() => readAlarmThresholds(node({ walRetainedAlarmGb: 'lots' }))).toThrow(
      'Context walRetainedAlarmGb "lots" is not valid: pass -c walRetainedAlarmGb=',
    );
    expect(() => readAlarmThresholds(node({ lagAlarmSeconds: 0 }))).toThrow('Context lagAlarmSeconds 0 is not valid');
    expect(readAlarmThresholds(node({}))).toEqual({ walRetainedGb: 20, lagSeconds: 300 });
  });
});

describe('the monitor function and its schedules', () => {
  const fn = base.stack.functions.monitorReplication;

  it('runs in the VPC with the namespace and the job table, and reads the secrets', () => {
    base.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('once a minute per job'),
      VpcConfig: Match.objectLike({ SecurityGroupIds: Match.anyValue() }),
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_METRICS_NAMESPACE: NAMESPACE,
          JOB_TABLE: Match.anyValue(),
          POWERTOOLS_SERVICE_NAME: 'database-replicator-monitor-replication',
        }),
      },
    });
    expect(base.stack.functions.connecting).toContain(fn);
  });

  it('is what the replicate workflow schedules, and cleanup deletes the schedule by the same name in the same group', () => {
    const props = (name: 'replicate' | 'cleanup') =>
      base.json.Resources[logicalId(base, base.stack.workflows[name].stateMachine)]!.Properties as {
        DefinitionSubstitutions: Record<string, unknown>;
      };
    expect(props('replicate').DefinitionSubstitutions.MonitorFunctionArn).toEqual({
      'Fn::GetAtt': [logicalId(base, fn.function), 'Arn'],
    });
    expect(props('cleanup').DefinitionSubstitutions.ScheduleGroupName).toEqual(
      props('replicate').DefinitionSubstitutions.ScheduleGroupName,
    );
    const file = (name: string) => readFileSync(join(REPO_ROOT, 'statemachines', `${name}.asl.json`), 'utf8');
    expect(file('replicate')).toContain('"Name.$": "$.job.monitorSchedule.name"');
    expect(file('cleanup')).toContain(`"Name.$": "States.Format('health-{}', $.jobId)"`);
  });

  it('lets the schedules invoke the monitor function', () => {
    const invoke = resourcesOf(base.json, 'AWS::IAM::Policy').filter(([, p]) =>
      (p.Roles as { Ref: string }[]).some((r) => r.Ref === logicalId(base, base.stack.schedule.role)),
    );
    const statements = invoke.flatMap(
      ([, p]) => (p.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement,
    );
    const onMonitor = statements.filter((st) => JSON.stringify(st.Resource).includes(logicalId(base, fn.function)));
    expect(onMonitor.flatMap((st) => [st.Action].flat())).toEqual(['lambda:InvokeFunction']);
  });
});
