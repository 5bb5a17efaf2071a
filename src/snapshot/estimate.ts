import type pg from 'pg';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { to as copyTo } from 'pg-copy-streams';
import { qualifiedName } from '../catalog/ident.ts';
import type { DatabasePlan } from '../plan/plan.ts';

export interface DatabaseEstimate {
  database: string;
  bytes: number;
  seconds: number;
}

/**
 * Measures how fast this source streams COPY data to us: reads the biggest planned table for up to
 * `budgetMs` and returns bytes per second. Small sources finish early; the rate then still reflects
 * per-row costs better than a constant would.
 */
export async function measureCopyRate(client: pg.Client, plan: DatabasePlan, budgetMs = 700): Promise<number> {
  const biggest = plan.tables.filter((t) => t.mode === 'data').sort((a, b) => b.bytes - a.bytes)[0];
  if (!biggest || biggest.bytes === 0) return 0;
  let bytes = 0;
  const started = performance.now();
  const stream = client.query(
    copyTo(`COPY ${qualifiedName(biggest.schema, biggest.name)} TO STDOUT WITH (FORMAT binary)`),
  );
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (performance.now() - started > budgetMs) done(new Error('calibration budget reached'));
      else done();
    },
  });
  try {
    await pipeline(stream, sink);
  } catch {
    // Stopping the copy early is the point; the connection is closed by the caller.
  }
  const seconds = (performance.now() - started) / 1000;
  return seconds > 0 ? bytes / seconds : 0;
}

/**
 * Copy rate of one worker measured by `npm run bench` (1.28 GB, 2 workers, bench/results/latest.md),
 * used instead of a calibration when the user answered the question in advance with --yes.
 */
export const BENCHMARK_BYTES_PER_SECOND_PER_WORKER = 75 * 1024 * 1024;

/** Estimated copy time: the data at the measured rate, spread over the workers the tables allow. */
export function estimateDatabase(plan: DatabasePlan, bytesPerSecond: number, jobs: number): DatabaseEstimate {
  const tables = plan.tables.filter((t) => t.mode === 'data');
  const bytes = tables.reduce((n, t) => n + t.bytes, 0);
  const parallel = Math.max(1, Math.min(jobs, tables.length));
  const seconds = bytesPerSecond > 0 ? bytes / (bytesPerSecond * parallel) : 0;
  return { database: plan.source, bytes, seconds };
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}
