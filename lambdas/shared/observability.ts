// Powertools Metrics and Tracer for every function. Their settings come from the environment the
// ReplicatorFunction construct (infra/lib/replicator-function.ts) gives each function:
// POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, and active X-Ray tracing. Outside Lambda
// the tracer does nothing.
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { MiddlewareObj } from '@middy/core';

export const tracer = new Tracer();

let metrics: Metrics | undefined;

/** The function's metrics, made on first use so the environment the function runs with counts. */
export function lambdaMetrics(): Metrics {
  metrics ??= new Metrics();
  return metrics;
}

/** Adds one count metric; it is written (embedded metric format on stdout) when the invocation ends. */
export function addCountMetric(name: string, value: number): void {
  lambdaMetrics().addMetric(name, MetricUnit.Count, value);
}

/**
 * Middy middleware: writes the metrics an invocation added, also when it fails. Unlike Powertools'
 * logMetrics it writes nothing and warns of nothing when none were added (most invocations add none).
 */
export function publishMetrics(): MiddlewareObj {
  const flush = () => {
    if (metrics?.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return { after: flush, onError: flush };
}
