// Carries init's resume state (src/snapshot/state.ts) between Fargate tasks, which each start with an
// empty disk: the job store keeps it as text on the database's progress entry, and each task writes
// it back to a state file in a fresh folder, where loadJob, runSync & co. find it unchanged.
import { gunzipSync, gzipSync } from 'node:zlib';
import { assertNoSecrets } from '../jobs/secrets.ts';
import { LocalJobStore, type JobState } from '../snapshot/state.ts';

const GZIP_PREFIX = 'gz:';
/** Bigger states are gzipped (a job item holds every database's entry, and DynamoDB items stop at 400 KB). */
const COMPRESS_OVER = 16 * 1024;
/** The job record schema's limit for the field (src/jobs/types.ts). */
export const MAX_ENCODED = 300_000;

export class InitStateError extends Error {
  override name = 'InitStateError';
}

/** JSON text, or `gz:` + base64 of gzipped JSON; the secret guard checks the JSON before it is packed. */
export function encodeInitState(state: JobState): string {
  const json = JSON.stringify(state);
  assertNoSecrets(json, 'init state');
  const text = json.length > COMPRESS_OVER ? GZIP_PREFIX + gzipSync(json).toString('base64') : json;
  if (text.length > MAX_ENCODED) {
    throw new InitStateError(
      `The init state of job ${state.jobId} is ${Math.round(text.length / 1024)} KB packed, more than the job record holds (${MAX_ENCODED / 1000} KB); replicate fewer tables per database, or run the CLI with a local state folder.`,
    );
  }
  return text;
}

export function decodeInitState(text: string): JobState {
  try {
    const json = text.startsWith(GZIP_PREFIX)
      ? gunzipSync(Buffer.from(text.slice(GZIP_PREFIX.length), 'base64')).toString('utf8')
      : text;
    const state = JSON.parse(json) as JobState;
    if (state?.version !== 1 || typeof state.jobId !== 'string' || typeof state.databases !== 'object')
      throw new Error('unexpected shape');
    return state;
  } catch {
    throw new InitStateError(
      'The init state recorded in the job store cannot be read; run the cleanup task, then the snapshot task again.',
    );
  }
}

/** Writes the state where init and the replication commands look for it (`<dir>/jobs/<jobId>.json`). */
export function writeInitStateFile(stateDir: string, state: JobState): void {
  new LocalJobStore(stateDir).save(state);
}

export function readInitStateFile(stateDir: string, jobId: string): JobState | undefined {
  return new LocalJobStore(stateDir).load(jobId);
}
