// The Fargate task's metrics: init's copy (rows, bytes, MB/s) while it runs and verify's differences,
// as EMF documents on stdout that the awslogs driver ships to CloudWatch Logs, which turns them into
// metrics under the stack's namespace (POWERTOOLS_METRICS_NAMESPACE, set by the task definition).
// A long-running process has no end of invocation to flush at: the copy publishes once a period.
import { Metrics } from '@aws-lambda-powertools/metrics';
import { publishCopy, publishVerifyDifferences, type MetricSink } from '../monitor/metrics.ts';
import type { CopyProgress } from '../snapshot/init.ts';

const MB = 1024 * 1024;

/** Powertools Metrics with only the emitter's dimensions (no `service`), or none when no namespace is set (a run outside AWS). */
export function taskMetricSink(env: NodeJS.ProcessEnv = process.env): MetricSink | undefined {
  const namespace = env.POWERTOOLS_METRICS_NAMESPACE;
  if (!namespace) return undefined;
  const metrics = new Metrics({ namespace, serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'database-replicator-task' });
  metrics.clearDefaultDimensions();
  return metrics;
}

export class TaskMetrics {
  readonly #sink: MetricSink | undefined;
  readonly #jobId: string;
  readonly #database: string;
  readonly #everyMs: number;
  readonly #now: () => number;
  #latest: CopyProgress | undefined;
  #last: { at: number; bytes: number } | undefined;
  #published = true;

  /** `everyMs`: CloudWatch keeps one-minute resolution, so more often buys nothing. */
  constructor(o: {
    sink: MetricSink | undefined;
    jobId: string;
    database: string;
    everyMs?: number;
    now?: () => number;
  }) {
    this.#sink = o.sink;
    this.#jobId = o.jobId;
    this.#database = o.database;
    this.#everyMs = o.everyMs ?? 60_000;
    this.#now = o.now ?? Date.now;
  }

  /** Init's progress event: remembered, and published when a period has passed since the last document. */
  copyProgress(p: CopyProgress): void {
    if (!this.#sink) return;
    this.#latest = p;
    this.#published = false;
    const now = this.#now();
    this.#last ??= { at: now, bytes: 0 };
    if (now - this.#last.at >= this.#everyMs) this.#publishCopy(now);
  }

  /** The copy's last figures, when some were not published yet (the end of the snapshot subcommand). */
  flush(): void {
    if (this.#sink && this.#latest && !this.#published) this.#publishCopy(this.#now());
  }

  verifyDifferences(differences: number): void {
    if (this.#sink) publishVerifyDifferences(this.#sink, this.#jobId, this.#database, differences);
  }

  #publishCopy(now: number): void {
    const p = this.#latest!;
    const last = this.#last ?? { at: now, bytes: 0 };
    const seconds = (now - last.at) / 1000;
    const megabytesPerSecond = seconds > 0 ? Math.max(0, p.bytesDone - last.bytes) / MB / seconds : 0;
    publishCopy(this.#sink!, this.#jobId, this.#database, {
      rows: p.rowsDone,
      bytes: p.bytesDone,
      megabytesPerSecond: Math.round(megabytesPerSecond * 100) / 100,
    });
    this.#last = { at: now, bytes: p.bytesDone };
    this.#published = true;
  }
}
