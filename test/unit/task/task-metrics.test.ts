import { afterEach, describe, expect, it } from 'vitest';
import { METRIC, PUBLISHED_METRICS } from '../../../src/monitor/metrics.ts';
import type { CopyProgress } from '../../../src/snapshot/init.ts';
import { TaskMetrics, taskMetricSink } from '../../../src/task/task-metrics.ts';
import { captureLogs } from '../../support/lambda.ts';

interface Emf {
  _aws: {
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
  };
  [key: string]: unknown;
}

const MB = 1024 * 1024;
const progress = (bytesDone: number, rowsDone: number): CopyProgress => ({
  database: 'shop',
  bytesDone,
  bytesTotal: 500 * MB,
  tablesDone: 1,
  tablesTotal: 3,
  rowsDone,
});

afterEach(() => {
  delete process.env.POWERTOOLS_METRICS_NAMESPACE;
});

/** Runs `fn` with a task metrics publisher on Powertools Metrics, and returns the EMF documents it printed. */
function emf(fn: (m: TaskMetrics, tick: (ms: number) => void) => void): Emf[] {
  process.env.POWERTOOLS_METRICS_NAMESPACE = 'DatabaseReplicator/Test';
  let now = 1_000_000;
  const logs = captureLogs();
  try {
    const metrics = new TaskMetrics({
      sink: taskMetricSink(),
      jobId: 'shop-1',
      database: 'shop',
      everyMs: 60_000,
      now: () => now,
    });
    fn(metrics, (ms) => (now += ms));
  } finally {
    logs.stop();
  }
  return logs.lines().filter((l) => '_aws' in l) as unknown as Emf[];
}

describe('the task metrics', () => {
  it('publish the copy once a minute while it runs (rows, bytes, MB/s since the last document) and its last figures at the end', () => {
    const docs = emf((m, tick) => {
      m.copyProgress(progress(0, 0));
      tick(30_000);
      m.copyProgress(progress(300 * MB, 1000));
      tick(30_000);
      m.copyProgress(progress(600 * MB, 2000));
      tick(10_000);
      m.copyProgress(progress(650 * MB, 2500));
      m.flush();
      m.flush();
    });
    expect(docs).toHaveLength(2);
    expect(docs[0]!._aws.CloudWatchMetrics[0]).toEqual({
      Namespace: 'DatabaseReplicator/Test',
      Dimensions: [['JobId', 'Database']],
      Metrics: [
        { Name: 'CopyRowsCopied', Unit: 'Count' },
        { Name: 'CopyBytesCopied', Unit: 'Bytes' },
        { Name: 'CopyThroughput', Unit: 'Megabytes/Second' },
      ],
    });
    // 600 MB in the first 60 s: 10 MB/s; then 50 MB in 10 s: 5 MB/s.
    expect(docs[0]).toMatchObject({
      JobId: 'shop-1',
      Database: 'shop',
      CopyRowsCopied: 2000,
      CopyBytesCopied: 600 * MB,
      CopyThroughput: 10,
    });
    expect(docs[1]).toMatchObject({ CopyRowsCopied: 2500, CopyBytesCopied: 650 * MB, CopyThroughput: 5 });
    expect(docs[0]).not.toHaveProperty('service');
    for (const doc of docs) {
      const { Dimensions, Metrics } = doc._aws.CloudWatchMetrics[0]!;
      for (const m of Metrics)
        expect(PUBLISHED_METRICS).toContainEqual(
          expect.objectContaining({ name: m.Name, unit: m.Unit, dimensions: Dimensions[0] }),
        );
    }
  });

  it("publish verify's differences per job and database, as the dashboard graphs them", () => {
    const [doc, ...rest] = emf((m) => m.verifyDifferences(7));
    expect(rest).toEqual([]);
    expect(doc!._aws.CloudWatchMetrics[0]).toMatchObject({
      Dimensions: [['JobId', 'Database']],
      Metrics: [{ Name: METRIC.verifyDatabaseDifferences.name, Unit: 'Count' }],
    });
    expect(doc).toMatchObject({ JobId: 'shop-1', Database: 'shop', VerifyDifferences: 7 });
  });

  it('print nothing without a namespace (a task run outside AWS keeps stdout to its one JSON line)', () => {
    expect(taskMetricSink({})).toBeUndefined();
    const logs = captureLogs();
    try {
      const m = new TaskMetrics({ sink: undefined, jobId: 'j', database: 'd' });
      m.copyProgress(progress(1, 1));
      m.flush();
      m.verifyDifferences(1);
    } finally {
      logs.stop();
    }
    expect(logs.text()).toBe('');
  });
});
