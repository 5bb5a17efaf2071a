import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { readServerFacts } from '../src/catalog/server.ts';
import { openClient, withConnection } from '../src/connection/client.ts';
import { withDatabase, type ConnectionSpec } from '../src/connection/url.ts';
import type { DatabasePlan, FilterOptions } from '../src/plan/plan.ts';
import { BENCHMARK_BYTES_PER_SECOND_PER_WORKER, estimateDatabase, measureCopyRate } from '../src/snapshot/estimate.ts';
import { planJob } from '../src/plan/job-plan.ts';
import { createSecretsClient } from './shared/clients.ts';
import { resolveEndpoints } from './shared/endpoints.ts';
import { lambdaHandler, parseEvent } from './shared/errors.ts';
import { effectiveFilters, endpointsEventSchema } from './shared/events.ts';
import { createLambdaLogger, type LambdaLog } from './shared/logger.ts';

// The replication plan per source database with its size and the estimated copy time, for the
// workflow to size the task and show the operator. Errors (by name): ConnectionFailed, FilterError,
// MissingPermission, SecretNotFound, SecretMalformed, InvalidEvent.

const logger = createLambdaLogger('estimate-size');
const secrets = createSecretsClient();

export const estimateSizeEvent = endpointsEventSchema.extend({
  /** Parallel copy workers the task will run. */
  jobs: z.number().int().min(1).max(64).optional(),
  /** Measure this source's copy rate (reads the biggest table for under a second) instead of using the benchmark rate. */
  calibrate: z.boolean().optional(),
});
export type EstimateSizeEvent = z.infer<typeof estimateSizeEvent>;

export const DEFAULT_JOBS = 2;
/** Only the biggest tables are listed: the result must stay far below Step Functions' 256 KB. */
const LARGEST_TABLES = 5;

export interface DatabaseEstimateResult {
  source: string;
  target: string;
  bytes: number;
  estimatedSeconds: number;
  bytesPerSecondPerWorker: number;
  rate: 'benchmark' | 'measured';
  tables: { data: number; schemaOnly: number; excluded: number };
  largestTables: { table: string; bytes: number; estimatedRows: number }[];
}

export interface EstimateSizeResult {
  jobId: string;
  jobs: number;
  totalBytes: number;
  totalEstimatedSeconds: number;
  databases: DatabaseEstimateResult[];
}

export interface PlannedSource {
  plans: DatabasePlan[];
  /** Bytes per second of one worker, by source database, when measured. */
  measuredRates: Map<string, number>;
}

/** Reads the source catalogs into the same plan init would make (and measures the copy rate when asked). */
export async function planSource(
  source: ConnectionSpec,
  target: ConnectionSpec,
  filters: FilterOptions,
  options: { allowSelfSignedCerts: boolean; calibrate: boolean },
): Promise<PlannedSource> {
  const open = (spec: ConnectionSpec) =>
    openClient(spec, { role: 'source', allowSelfSignedCerts: options.allowSelfSignedCerts });
  const plans = await withConnection(
    source,
    { role: 'source', allowSelfSignedCerts: options.allowSelfSignedCerts },
    async (admin) => {
      const { major } = await readServerFacts(admin);
      return (
        await planJob(admin, (db) => open(withDatabase(source, db)), { source, target }, filters, major, undefined)
      ).databases;
    },
  );
  const measuredRates = new Map<string, number>();
  if (options.calibrate) {
    for (const plan of plans) {
      const client = await open(withDatabase(source, plan.source));
      try {
        measuredRates.set(plan.source, await measureCopyRate(client, plan));
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  }
  return { plans, measuredRates };
}

export interface EstimateSizeDependencies {
  secrets: SecretsManagerClient;
  logger?: LambdaLog;
  plan?: typeof planSource;
}

export async function estimateSize(
  event: EstimateSizeEvent,
  deps: EstimateSizeDependencies,
): Promise<EstimateSizeResult> {
  const { source, target } = await resolveEndpoints(deps.secrets, event);
  const jobs = event.jobs ?? DEFAULT_JOBS;
  deps.logger?.info('planning the source databases', { jobId: event.jobId });
  const planned = await (deps.plan ?? planSource)(
    source,
    target,
    effectiveFilters(event.databases, event.filters) ?? {},
    {
      allowSelfSignedCerts: event.allowSelfSignedCerts ?? false,
      calibrate: event.calibrate ?? false,
    },
  );
  const databases = planned.plans.map((plan): DatabaseEstimateResult => {
    const measured = planned.measuredRates.get(plan.source);
    // A source too small to time (or empty) measures 0 B/s; the benchmark rate is the better guess then.
    const rate = measured !== undefined && measured > 0 ? measured : BENCHMARK_BYTES_PER_SECOND_PER_WORKER;
    const estimate = estimateDatabase(plan, rate, jobs);
    const count = (mode: string) => plan.tables.filter((t) => t.mode === mode).length;
    return {
      source: plan.source,
      target: plan.target,
      bytes: estimate.bytes,
      estimatedSeconds: Math.round(estimate.seconds * 10) / 10,
      bytesPerSecondPerWorker: Math.round(rate),
      rate: rate === measured ? 'measured' : 'benchmark',
      tables: { data: count('data'), schemaOnly: count('schema-only'), excluded: count('excluded') },
      largestTables: plan.tables
        .filter((t) => t.mode === 'data')
        .sort((a, b) => b.bytes - a.bytes)
        .slice(0, LARGEST_TABLES)
        .map((t) => ({ table: `${t.schema}.${t.name}`, bytes: t.bytes, estimatedRows: t.estimatedRows })),
    };
  });
  const result: EstimateSizeResult = {
    jobId: event.jobId,
    jobs,
    totalBytes: databases.reduce((n, d) => n + d.bytes, 0),
    totalEstimatedSeconds: Math.round(databases.reduce((n, d) => n + d.estimatedSeconds, 0) * 10) / 10,
    databases,
  };
  deps.logger?.info('estimated the copy', {
    jobId: event.jobId,
    databases: databases.length,
    totalBytes: result.totalBytes,
    totalEstimatedSeconds: result.totalEstimatedSeconds,
  });
  return result;
}

export const handler = lambdaHandler(logger, (event) =>
  estimateSize(parseEvent(estimateSizeEvent, event), { secrets, logger }),
);
