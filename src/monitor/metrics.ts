import type { MonitorReport } from './monitor.ts';

// The emitter: what the monitor publishes to CloudWatch, per job and database. The dashboard and the
// alarms (infra/lib/replication-dashboard.ts) name metrics from PUBLISHED_METRICS only, and a test
// compares the two, so a renamed metric cannot leave a widget or an alarm watching nothing.

export type MetricUnitName = 'Bytes' | 'Seconds' | 'Count' | 'Megabytes/Second';

export interface PublishedMetric {
  name: string;
  unit: MetricUnitName;
  /** The dimension names of its one dimension set, in order. */
  dimensions: readonly string[];
  /** What it means, for the dashboard's text and the alarms. */
  description: string;
}

export const JOB_DATABASE = ['JobId', 'Database'] as const;
export const JOB = ['JobId'] as const;
/** record-job publishes VerifyDifferences under its service name (lambdas/record-job.ts, emfLine). */
export const SERVICE = ['service'] as const;

export const METRIC = {
  lagBytes: {
    name: 'ReplicationLagBytes',
    unit: 'Bytes',
    dimensions: JOB_DATABASE,
    description: 'WAL written on the source that the target has not confirmed',
  },
  lagSeconds: {
    name: 'ReplicationLagSeconds',
    unit: 'Seconds',
    dimensions: JOB_DATABASE,
    description: "seconds since the target last reported the source's end position",
  },
  walRetained: {
    name: 'WalRetainedBytes',
    unit: 'Bytes',
    dimensions: JOB_DATABASE,
    description: "WAL the slot keeps on the source's disk",
  },
  unconsumedGrowth: {
    name: 'UnconsumedWalGrowthBytes',
    unit: 'Bytes',
    dimensions: JOB_DATABASE,
    description: 'WAL the slot retained since the previous reading while nothing consumed it',
  },
  slotConsumed: {
    name: 'SlotConsumed',
    unit: 'Count',
    dimensions: JOB_DATABASE,
    description: '1 while a subscription streams from the slot, else 0',
  },
  tablesNotReady: {
    name: 'TablesNotReady',
    unit: 'Count',
    dimensions: JOB_DATABASE,
    description: 'tables of the subscription not yet synchronized',
  },
  applyErrors: {
    name: 'ApplyErrors',
    unit: 'Count',
    dimensions: JOB_DATABASE,
    description: "the subscription's apply errors (PostgreSQL 15+)",
  },
  syncErrors: {
    name: 'SyncErrors',
    unit: 'Count',
    dimensions: JOB_DATABASE,
    description: "the subscription's table sync errors (PostgreSQL 15+)",
  },
  subscriptionEnabled: {
    name: 'SubscriptionEnabled',
    unit: 'Count',
    dimensions: JOB_DATABASE,
    description: '1 while the subscription is enabled, 0 while disabled (none published before it exists)',
  },
  slotDropped: {
    name: 'SlotDropped',
    unit: 'Count',
    dimensions: JOB_DATABASE,
    description: 'the WAL-retention guard dropped the slot (maxRetainedWalGb)',
  },
  sourceFreeStorage: {
    name: 'SourceFreeStorageBytes',
    unit: 'Bytes',
    dimensions: JOB,
    description: "the RDS source's FreeStorageSpace",
  },
  verifyDifferences: {
    name: 'VerifyDifferences',
    unit: 'Count',
    dimensions: SERVICE,
    description: 'rows found different by the latest verify run',
  },
  // The Fargate task's (src/task/task-metrics.ts): init's copy while it runs, and each verify run.
  copyRows: {
    name: 'CopyRowsCopied',
    unit: 'Count',
    dimensions: JOB_DATABASE,
    description: 'rows the snapshot copy has committed so far',
  },
  copyBytes: {
    name: 'CopyBytesCopied',
    unit: 'Bytes',
    dimensions: JOB_DATABASE,
    description: 'bytes the snapshot copy has streamed so far',
  },
  copyRate: {
    name: 'CopyThroughput',
    unit: 'Megabytes/Second',
    dimensions: JOB_DATABASE,
    description: "the snapshot copy's rate since its previous reading",
  },
  verifyDatabaseDifferences: {
    name: 'VerifyDifferences',
    unit: 'Count',
    dimensions: JOB_DATABASE,
    description: 'rows (or keys) the verify task found different in a database',
  },
} as const satisfies Record<string, PublishedMetric>;

export const PUBLISHED_METRICS: readonly PublishedMetric[] = Object.values(METRIC);

/** What publishing needs of Powertools Metrics (the Lambda passes its instance; tests a recorder). */
export interface MetricSink {
  addDimensions(dimensions: Record<string, string>): unknown;
  addMetric(name: string, unit: MetricUnitName, value: number): unknown;
  publishStoredMetrics(): unknown;
}

const flag = (on: boolean) => (on ? 1 : 0);

/** One EMF document of init's copy of a database: rows and bytes so far, and MB/s since the previous one. */
export function publishCopy(
  sink: MetricSink,
  jobId: string,
  database: string,
  copy: { rows: number; bytes: number; megabytesPerSecond: number },
): void {
  sink.addDimensions({ JobId: jobId, Database: database });
  sink.addMetric(METRIC.copyRows.name, METRIC.copyRows.unit, copy.rows);
  sink.addMetric(METRIC.copyBytes.name, METRIC.copyBytes.unit, copy.bytes);
  sink.addMetric(METRIC.copyRate.name, METRIC.copyRate.unit, copy.megabytesPerSecond);
  sink.publishStoredMetrics();
}

/** One EMF document of a verify run of a database: the differences it found. */
export function publishVerifyDifferences(sink: MetricSink, jobId: string, database: string, differences: number): void {
  sink.addDimensions({ JobId: jobId, Database: database });
  sink.addMetric(METRIC.verifyDatabaseDifferences.name, METRIC.verifyDatabaseDifferences.unit, differences);
  sink.publishStoredMetrics();
}

/**
 * Publishes one dimension set per database of the report (one EMF document each), then the job's
 * source free storage when given. A database whose source could not be read publishes nothing: a gap
 * in the graph, and the alarms treat missing data as "not breaching" rather than guessing.
 */
export function publishReport(
  sink: MetricSink,
  report: MonitorReport,
  extra: { sourceFreeStorageBytes?: number } = {},
): void {
  for (const db of report.databases) {
    const r = db.reading;
    if (!r) continue;
    sink.addDimensions({ JobId: report.jobId, Database: db.database });
    const add = (m: PublishedMetric, value: number | null | undefined) => {
      if (value !== null && value !== undefined && Number.isFinite(value)) sink.addMetric(m.name, m.unit, value);
    };
    add(METRIC.walRetained, r.retainedBytes);
    add(METRIC.lagBytes, r.lagBytes);
    add(METRIC.lagSeconds, r.lagSeconds);
    add(METRIC.unconsumedGrowth, db.unconsumedGrowthBytes);
    add(METRIC.slotConsumed, flag(r.slotExists && r.slotActive));
    if (!db.targetError) {
      add(METRIC.tablesNotReady, r.tablesNotReady);
      add(METRIC.applyErrors, r.applyErrors);
      add(METRIC.syncErrors, r.syncErrors);
      // Only once the subscription exists: before sync there is none, and that is not "disabled".
      if (r.subscriptionExists) add(METRIC.subscriptionEnabled, flag(r.subscriptionEnabled));
    }
    add(METRIC.slotDropped, flag(db.slotDropped !== undefined));
    sink.publishStoredMetrics();
  }
  if (extra.sourceFreeStorageBytes !== undefined) {
    sink.addDimensions({ JobId: report.jobId });
    sink.addMetric(METRIC.sourceFreeStorage.name, METRIC.sourceFreeStorage.unit, extra.sourceFreeStorageBytes);
    sink.publishStoredMetrics();
  }
}

/** The CloudWatch namespace the stack's functions and task publish in, one per stack (the CLI reads it too). */
export function metricsNamespace(stackName: string): string {
  return `DatabaseReplicator/${stackName}`;
}
