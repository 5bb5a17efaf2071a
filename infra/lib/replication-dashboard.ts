import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { alarmRules, type AlarmRule, type AlarmThresholds } from '../../src/monitor/alarm-rules.ts';
import { METRIC, type PublishedMetric } from '../../src/monitor/metrics.ts';

export interface ReplicationDashboardProps {
  /** Where the monitor and record-job publish (metricsNamespace(stackName)). */
  readonly namespace: string;
  /** The `service` dimension record-job publishes VerifyDifferences under. */
  readonly recordJobService: string;
  readonly stateMachines: { name: string; stateMachine: sfn.IStateMachine }[];
  /** The replicator task's cluster and task definition family (Container Insights). */
  readonly clusterName: string;
  readonly taskFamily: string;
  readonly topic: sns.ITopic;
  readonly thresholds: AlarmThresholds;
}

const STATISTIC: Record<AlarmRule['statistic'], string> = { Maximum: 'MAX', Minimum: 'MIN', Sum: 'SUM' };
const COMPARISON: Record<AlarmRule['comparison'], cloudwatch.ComparisonOperator> = {
  GreaterThanThreshold: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
  GreaterThanOrEqualToThreshold: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
  LessThanThreshold: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
};

/** `{"ns",JobId,Database}` with the metric name: every job's and database's series, whichever exist now. */
export function searchExpression(
  namespace: string,
  metric: PublishedMetric,
  statistic: string,
  periodSeconds = 60,
): string {
  return `SEARCH('{"${namespace}",${metric.dimensions.join(',')}} MetricName="${metric.name}"', '${statistic}', ${periodSeconds})`;
}

/** A Metrics Insights query: one series per job and database, so the alarm names the one that breaches. */
export function insightsQuery(namespace: string, rule: AlarmRule): string {
  const dims = rule.metric.dimensions;
  return `SELECT ${STATISTIC[rule.statistic]}("${rule.metric.name}") FROM SCHEMA("${namespace}", ${dims.join(', ')}) GROUP BY ${dims.join(', ')}`;
}

const HOW_TO_READ = `# database-replicator: replication health

Each line is one **job / database**, read once a minute by the job's monitor schedule (\`health-<jobId>\`, made by the replicate workflow, deleted by cleanup).

* **WAL retained** is what the slot keeps on the source's disk. It should stay flat or saw-tooth while a subscription streams. A line that only climbs, with **Slot consumed** at 0, is a slot nobody reads: run \`database-replicator status --remote --job-id <JobId>\`, then \`sync\` to resume or \`cleanup\` to remove it, before **Source free storage** reaches 0.
* **Replication lag** (bytes and seconds) is how far the target is behind. Spikes during bulk writes are normal; a steady climb means the target cannot keep up.
* **Tables not ready** is above 0 while tables synchronize (init resume, refresh). **Apply / sync errors** count failures of the target's workers: read the target's server log.
* **Subscription enabled** at 0 means nothing is applied. **Slot dropped** marks the WAL-retention guard dropping a slot (\`maxRetainedWalGb\`): that database must be cleaned up and replicated again.
* Below: the workflows' executions, the replicator task's CPU and memory (Container Insights), and the rows verify found different; then the snapshot copy while a task runs it (rows and bytes so far, MB/s: a rate that drops to 0 with tables left means a stuck copy; \`status --remote --watch\` shows each table's bar).

Alarms (to the stack's topic) fire on: WAL retained above ${'${WAL_GB}'} GB; WAL growing for 30 minutes with nothing consuming it; lag above ${'${LAG_S}'} s for 15 minutes; a disabled subscription; a dropped slot; a failed workflow execution (a verify that found differences included).`;

/**
 * The deployment's CloudWatch dashboard and the alarms on the monitor's metrics. The dashboard graphs
 * every job's series through SEARCH expressions (jobs come and go without a redeploy); the alarms use
 * Metrics Insights queries grouped by job and database, for the same reason. Metric names and
 * dimensions come from src/monitor/metrics.ts, the emitter's own list.
 */
export class ReplicationDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ReplicationDashboardProps) {
    super(scope, id);
    const ns = props.namespace;
    const search = (metric: PublishedMetric, statistic: string, label: string) =>
      new cloudwatch.MathExpression({
        expression: searchExpression(ns, metric, statistic),
        label,
        period: Duration.minutes(1),
        usingMetrics: {},
      });
    const graph = (title: string, metrics: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left: metrics, width: 8, height: 6, ...extra });
    const GIB = 1024 ** 3;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: HOW_TO_READ.replace('${WAL_GB}', String(props.thresholds.walRetainedGb)).replace(
          '${LAG_S}',
          String(props.thresholds.lagSeconds),
        ),
        width: 24,
        height: 7,
      }),
    );
    this.dashboard.addWidgets(
      graph('WAL retained by the slot', [search(METRIC.walRetained, 'Maximum', '')], {
        leftAnnotations: [{ value: props.thresholds.walRetainedGb * GIB, label: 'alarm', color: '#d62728' }],
      }),
      graph('WAL retained with nothing consuming it (growth per minute)', [search(METRIC.unconsumedGrowth, 'Sum', '')]),
      graph('Source free storage (RDS)', [search(METRIC.sourceFreeStorage, 'Minimum', '')]),
    );
    this.dashboard.addWidgets(
      graph('Replication lag (bytes)', [search(METRIC.lagBytes, 'Maximum', '')]),
      graph('Replication lag (seconds)', [search(METRIC.lagSeconds, 'Maximum', '')], {
        leftAnnotations: [{ value: props.thresholds.lagSeconds, label: 'alarm', color: '#d62728' }],
      }),
      graph(
        'Slot consumed, subscription enabled (1 = yes)',
        [search(METRIC.slotConsumed, 'Minimum', ''), search(METRIC.subscriptionEnabled, 'Minimum', '')],
        { leftYAxis: { min: 0, max: 1.2 } },
      ),
    );
    this.dashboard.addWidgets(
      graph('Tables not ready', [search(METRIC.tablesNotReady, 'Maximum', '')]),
      graph('Apply and sync errors', [
        search(METRIC.applyErrors, 'Maximum', ''),
        search(METRIC.syncErrors, 'Maximum', ''),
      ]),
      graph('Slots dropped by the WAL-retention guard', [search(METRIC.slotDropped, 'Sum', '')]),
    );
    const executions = props.stateMachines.flatMap(({ name, stateMachine }) => [
      stateMachine.metricStarted({ label: `${name} started`, period: Duration.minutes(5) }),
      stateMachine.metricSucceeded({ label: `${name} succeeded`, period: Duration.minutes(5) }),
      stateMachine.metricFailed({ label: `${name} failed`, period: Duration.minutes(5) }),
    ]);
    const task = (metricName: string, label: string) =>
      new cloudwatch.Metric({
        namespace: 'ECS/ContainerInsights',
        metricName,
        dimensionsMap: { ClusterName: props.clusterName, TaskDefinitionFamily: props.taskFamily },
        statistic: 'Maximum',
        period: Duration.minutes(1),
        label,
      });
    this.dashboard.addWidgets(
      graph('Workflow executions', executions),
      graph('Replicator task CPU and memory', [task('CpuUtilized', 'CPU units used')], {
        right: [task('MemoryUtilized', 'memory used (MiB)')],
      }),
      graph('Rows verify found different', [
        new cloudwatch.Metric({
          namespace: ns,
          metricName: METRIC.verifyDifferences.name,
          dimensionsMap: { service: props.recordJobService },
          statistic: 'Maximum',
          period: Duration.minutes(5),
          label: 'differences',
        }),
        search(METRIC.verifyDatabaseDifferences, 'Maximum', ''),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Snapshot copy: bytes and rows copied', [search(METRIC.copyBytes, 'Maximum', '')], {
        right: [search(METRIC.copyRows, 'Maximum', '')],
        width: 12,
      }),
      graph('Snapshot copy rate (MB/s)', [search(METRIC.copyRate, 'Average', '')], { width: 12 }),
    );

    for (const rule of alarmRules(props.thresholds)) {
      const alarm = new cloudwatch.Alarm(this, rule.id, {
        metric: new cloudwatch.MathExpression({
          expression: insightsQuery(ns, rule),
          period: Duration.seconds(rule.periodSeconds),
          usingMetrics: {},
          label: rule.metric.name,
        }),
        alarmDescription: `database-replicator: ${rule.description}`,
        threshold: rule.threshold,
        comparisonOperator: COMPARISON[rule.comparison],
        evaluationPeriods: rule.periods,
        datapointsToAlarm: rule.periods,
        // No reading (no job, or a monitor that could not connect) is not a breach; failed executions alarm on their own.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new actions.SnsAction(props.topic));
      this.alarms.push(alarm);
    }
  }
}
