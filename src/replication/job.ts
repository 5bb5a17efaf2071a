import type pg from 'pg';
import { openClient, openClients } from '../connection/client.ts';
import type { TlsPolicy } from '../connection/tls.ts';
import { withDatabase, type ConnectionSpec } from '../connection/url.ts';
import type { InitCheckpoint } from '../jobs/checkpoint.ts';
import type { CheckpointWriter } from '../jobs/checkpoint-writer.ts';
import { deriveJobId } from '../jobs/naming.ts';

export interface JobContext {
  source: ConnectionSpec;
  target: ConnectionSpec;
  tls: TlsPolicy;
  jobId: string;
  /** Where init's checkpoint of the job is read and written (the job store). */
  checkpoints: CheckpointWriter;
  /** Init's checkpoint as loaded; a command that changes it saves it through `checkpoints`. */
  state: InitCheckpoint | undefined;
  openSource: (database: string) => Promise<pg.Client>;
  openTarget: (database: string) => Promise<pg.Client>;
}

export class JobNotFoundError extends Error {
  override name = 'JobNotFoundError';
}

/** Finds the job that init recorded for this source and target (or --job-id) in the job store. */
export async function loadJob(options: {
  source: ConnectionSpec;
  target: ConnectionSpec;
  tls: TlsPolicy;
  jobId?: string;
  /** The job store's checkpoint of the job with this id. */
  checkpoints: (jobId: string) => CheckpointWriter;
}): Promise<JobContext> {
  const jobId = options.jobId ?? deriveJobId(options.source, options.target);
  const checkpoints = options.checkpoints(jobId);
  return {
    source: options.source,
    target: options.target,
    tls: options.tls,
    jobId,
    checkpoints,
    state: await checkpoints.load(),
    openSource: (database) => openClient(withDatabase(options.source, database), { role: 'source', ...options.tls }),
    openTarget: (database) => openClient(withDatabase(options.target, database), { role: 'target', ...options.tls }),
  };
}

export function requireJob(job: JobContext, command: string): InitCheckpoint {
  if (!job.state) {
    throw new JobNotFoundError(
      `No init job ${job.jobId} was found in the job store for this source and target; run init first (or pass the same --job-id and --state-dir as init) before ${command}.`,
    );
  }
  return job.state;
}

export async function withClients<T>(
  open: Promise<pg.Client>[],
  fn: (...clients: pg.Client[]) => Promise<T>,
): Promise<T> {
  const clients = await openClients(open);
  try {
    return await fn(...clients);
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}
