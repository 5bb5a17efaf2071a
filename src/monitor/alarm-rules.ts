import { GIB } from './wal-guard.ts';
import { METRIC, type PublishedMetric } from './metrics.ts';

// The alarms on the monitor's metrics, as data (verify differences are told by the alarm on failed verify
// executions, since a verify run that finds differences fails: one notification, not two): the stack turns each into a CloudWatch alarm
// (infra/lib/replication-dashboard.ts) and the tests judge published readings with `breaches`, so the
// deployed condition and the tested one are the same numbers.

export type AlarmStatistic = 'Maximum' | 'Minimum' | 'Sum';

export interface AlarmRule {
  id: string;
  metric: PublishedMetric;
  statistic: AlarmStatistic;
  comparison: 'GreaterThanThreshold' | 'LessThanThreshold' | 'GreaterThanOrEqualToThreshold';
  threshold: number;
  periodSeconds: number;
  /** Periods in a row that must breach: periodSeconds x this is how long the condition lasts before the alarm. */
  periods: number;
  /** What it means and what to do, the seed guide's troubleshooting steps in short. */
  description: string;
}

export interface AlarmThresholds {
  /** WAL retained by one slot, in GiB (context walRetainedAlarmGb, default 20). */
  walRetainedGb: number;
  /** Replication lag in seconds (context lagAlarmSeconds, default 300). */
  lagSeconds: number;
}

export const DEFAULT_ALARM_THRESHOLDS: AlarmThresholds = { walRetainedGb: 20, lagSeconds: 300 };

const STATUS = 'database-replicator status --remote --job-id <JobId>';

export function alarmRules(thresholds: AlarmThresholds = DEFAULT_ALARM_THRESHOLDS): AlarmRule[] {
  return [
    {
      id: 'WalRetainedAlarm',
      metric: METRIC.walRetained,
      statistic: 'Maximum',
      comparison: 'GreaterThanThreshold',
      threshold: thresholds.walRetainedGb * GIB,
      periodSeconds: 300,
      periods: 1,
      description:
        `A replication slot retains more than ${thresholds.walRetainedGb} GB of WAL on the source, whose disk fills with it. ` +
        `The alarm names the job and database; run \`${STATUS}\`: a disabled subscription or a stopped worker is resumed with \`database-replicator sync --remote --job-id <JobId>\`, ` +
        'a job nobody needs any more is removed with `database-replicator cleanup --remote --job-id <JobId>`. Watch FreeStorageSpace of the source meanwhile.',
    },
    {
      id: 'WalGrowingUnconsumedAlarm',
      metric: METRIC.unconsumedGrowth,
      statistic: 'Sum',
      comparison: 'GreaterThanThreshold',
      threshold: 0,
      periodSeconds: 300,
      periods: 6,
      description:
        "For 30 minutes a replication slot's WAL has grown while no subscription streams from it. " +
        `Run \`${STATUS}\`: the verdict says why (subscription disabled, apply worker failing, target cannot reach the source); ` +
        'fix that and run `database-replicator sync --remote --job-id <JobId>`, or remove the job with `database-replicator cleanup --remote --job-id <JobId>` before the source disk fills.',
    },
    {
      id: 'ReplicationLagAlarm',
      metric: METRIC.lagSeconds,
      statistic: 'Maximum',
      comparison: 'GreaterThanThreshold',
      threshold: thresholds.lagSeconds,
      periodSeconds: 300,
      periods: 3,
      description:
        `For 15 minutes a target has been more than ${thresholds.lagSeconds} s behind its source. ` +
        "Check the target's CPU and I/O (apply is single-threaded per subscription), long transactions on the source, and the apply errors on the dashboard; " +
        `\`${STATUS}\` shows the lag per database. Lag that only grows means the target cannot keep up: a bigger target, or fewer tables per job.`,
    },
    {
      id: 'SubscriptionDisabledAlarm',
      metric: METRIC.subscriptionEnabled,
      statistic: 'Minimum',
      comparison: 'LessThanThreshold',
      threshold: 1,
      periodSeconds: 300,
      periods: 1,
      description:
        "A job's subscription on the target is disabled: nothing is applied and the slot retains WAL on the source. " +
        "An apply error disables it when disable_on_error is set: read the target's server log for the error, fix its cause (a conflicting row, a missing table), " +
        'then `database-replicator sync --remote --job-id <JobId>` enables it again.',
    },
    {
      id: 'SlotDroppedAlarm',
      metric: METRIC.slotDropped,
      statistic: 'Sum',
      comparison: 'GreaterThanOrEqualToThreshold',
      threshold: 1,
      periodSeconds: 300,
      periods: 1,
      description:
        "The WAL-retention guard dropped a job's slot because its retained WAL passed maxRetainedWalGb: the target no longer receives changes of that database. " +
        `The job record says which (\`${STATUS}\`); run \`database-replicator cleanup --remote --job-id <JobId>\`, then replicate the database again.`,
    },
  ];
}

/** Whether one period's value breaches the rule (the alarm fires after `periods` such periods in a row). */
export function breaches(rule: AlarmRule, value: number): boolean {
  switch (rule.comparison) {
    case 'GreaterThanThreshold':
      return value > rule.threshold;
    case 'GreaterThanOrEqualToThreshold':
      return value >= rule.threshold;
    case 'LessThanThreshold':
      return value < rule.threshold;
  }
}

/** The rule's statistic over one period's values. */
export function aggregate(rule: AlarmRule, values: number[]): number {
  if (rule.statistic === 'Sum') return values.reduce((a, b) => a + b, 0);
  return rule.statistic === 'Maximum' ? Math.max(...values) : Math.min(...values);
}
