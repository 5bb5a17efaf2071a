import type { Node } from 'constructs';
import { DEFAULT_ALARM_THRESHOLDS, type AlarmThresholds } from '../../src/monitor/alarm-rules.ts';

/** A positive number from the command line ("20") or cdk.json (20). */
function positive(node: Node, key: string, fallback: number, what: string): number {
  const raw: unknown = node.tryGetContext(key) ?? fallback;
  const value = typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new Error(`Context ${key} ${JSON.stringify(raw)} is not valid: ${what}`);
  return value;
}

/** The thresholds of the replication alarms: -c walRetainedAlarmGb=20 -c lagAlarmSeconds=300. */
export function readAlarmThresholds(node: Node): AlarmThresholds {
  return {
    walRetainedGb: positive(
      node,
      'walRetainedAlarmGb',
      DEFAULT_ALARM_THRESHOLDS.walRetainedGb,
      'pass -c walRetainedAlarmGb=<GB of WAL one slot may retain before the alarm>, such as 20.',
    ),
    lagSeconds: positive(
      node,
      'lagAlarmSeconds',
      DEFAULT_ALARM_THRESHOLDS.lagSeconds,
      'pass -c lagAlarmSeconds=<seconds of replication lag that alarm after 15 minutes>, such as 300.',
    ),
  };
}
