// A job's identity and the names of what it creates on the servers: derived, never stored alone,
// so every front end (CLI, task, Lambda functions) finds the same slot for the same job and database.
import { createHash } from 'node:crypto';
import type { ConnectionSpec } from '../connection/url.ts';

/** A stable job id for one source/target pair, so running the same init again resumes it. */
export function deriveJobId(source: ConnectionSpec, target: ConnectionSpec): string {
  const text = `${source.host}:${source.port}/${source.database}->${target.host}:${target.port}/${target.database}`;
  return createHash('sha256').update(text).digest('hex').slice(0, 10);
}

/** Slot, publication and subscription share one name per job and database (at most 63 bytes). */
export function replicationObjectName(jobId: string, database: string): string {
  const db = database
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 30);
  const hash = createHash('sha256').update(database).digest('hex').slice(0, 6);
  return `dbr_${jobId}_${db}_${hash}`;
}

/** The second slot, publication and subscription a resume uses until it joins them to the job's own. */
export function resumeObjectName(jobId: string, database: string): string {
  return `dbr_${jobId}_r${createHash('sha256').update(`resume:${database}`).digest('hex').slice(0, 6)}`;
}

/**
 * A job id the workflow accepts (the store's and the functions' job ids): short enough for the verify
 * schedule's name verify-<jobId> (64 characters).
 */
export const WORKFLOW_JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,56}$/;

/**
 * The schema (on both sides) and the source's event trigger of init --track-ddl: one per job, so the
 * cleanup of one job never takes another's. Every schema named like it is the tool's own (see
 * OWN_SCHEMA_PATTERN): never planned, copied or verified as the user's.
 */
export function ddlCaptureName(jobId: string): string {
  return `dbr_${jobId}_ddl`;
}

/** The names ddlCaptureName makes, as a POSIX regular expression (SQL ~) and as a pg_dump pattern. */
export const OWN_SCHEMA_REGEX = '^dbr_.+_ddl$';
export const OWN_SCHEMA_DUMP_PATTERN = 'dbr_*_ddl';
