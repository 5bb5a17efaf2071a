import type { MetricSink, MetricUnitName } from '../../src/monitor/metrics.ts';

/** What Powertools Metrics would turn into EMF documents: one per publishStoredMetrics, with its dimensions. */
export class RecordedMetrics implements MetricSink {
  readonly published: {
    dimensions: Record<string, string>;
    metrics: Record<string, { unit: MetricUnitName; value: number }>;
  }[] = [];
  #dimensions: Record<string, string> = {};
  #metrics: Record<string, { unit: MetricUnitName; value: number }> = {};

  addDimensions(dimensions: Record<string, string>): void {
    Object.assign(this.#dimensions, dimensions);
  }

  addMetric(name: string, unit: MetricUnitName, value: number): void {
    this.#metrics[name] = { unit, value };
  }

  publishStoredMetrics(): void {
    this.published.push({ dimensions: this.#dimensions, metrics: this.#metrics });
    this.#dimensions = {};
    this.#metrics = {};
  }

  /** Every published value of one metric, in order. */
  values(name: string): number[] {
    return this.published.flatMap((p) => (p.metrics[name] ? [p.metrics[name].value] : []));
  }
}
