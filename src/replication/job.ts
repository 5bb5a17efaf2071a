import type pg from 'pg';
import { openClient, openClients } from '../connection/client.ts';
import type { TlsPolicy } from '../connection/tls.ts';
import { withDatabase, type ConnectionSpec } from '../connection/url.ts';
import { deriveJobId } from '../jobs/naming.ts';
import { LocalJobStore, type JobState } from '../snapshot/state.ts';

export interface JobContext {
  source: ConnectionSpec;
  target: ConnectionSpec;
  tls: TlsPolicy;
  jobId: string;
  store: LocalJobStore;
  state: JobState | undefined;
  openSource: (database: string) => Promise<pg.Client>;
  openTarget: (database: string) => Promise<pg.Client>;
}

export class JobNotFoundError extends Error {
  override name = 'JobNotFoundError';
}

/** Finds the job that init recorded for this source and target (or --job-id) in the state folder. */
export function loadJob(options: {
  source: ConnectionSpec;
  target: ConnectionSpec;
  tls: TlsPolicy;
  jobId?: string;
  stateDir: string;
}): JobContext {
  const jobId = options.jobId ?? deriveJobId(options.source, options.target);
  const store = new LocalJobStore(options.stateDir);
  return {
    source: options.source,
    target: options.target,
    tls: options.tls,
    jobId,
    store,
    state: store.load(jobId),
    openSource: (database) => openClient(withDatabase(options.source, database), { role: 'source', ...options.tls }),
    openTarget: (database) => openClient(withDatabase(options.target, database), { role: 'target', ...options.tls }),
  };
}

export function requireJob(job: JobContext, command: string): JobState {
  if (!job.state) {
    throw new JobNotFoundError(
      `No init job ${job.jobId} was found in ${job.store.dir} for this source and target; run init first (or pass the same --job-id and --state-dir as init) before ${command}.`,
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
