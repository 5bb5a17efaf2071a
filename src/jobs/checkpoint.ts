// Init's checkpoint: what init has made and done, enough to resume and to clean up. It is kept by the
// job store beside the job record (a file of the local store, an attribute of the DynamoDB job item),
// written under the same rules as the record: never a password, and never on a finished job.
import { gunzipSync, gzipSync } from 'node:zlib';
import type { FilterOptions, ResolvedTimeFilter } from '../plan/plan.ts';
import { InvalidJobRecordError } from './errors.ts';
import { assertNoSecrets } from './secrets.ts';

export const INIT_STEPS = ['roles', 'schema', 'data', 'largeObjects', 'postData', 'sequences', 'analyze'] as const;
export type InitStep = (typeof INIT_STEPS)[number];

export interface TableProgress {
  rows: number;
  bytes: number;
  seconds: number;
}

/** What init has made and done for one database: enough to resume, and to clean up. Never a password. */
export interface DatabaseCheckpoint {
  source: string;
  target: string;
  createdTargetDatabase: boolean;
  publication: string;
  slot: string;
  slotCreated: boolean;
  consistentPoint?: string;
  steps: Partial<Record<InitStep, { seconds: number }>>;
  /** Copy units finished and committed on the target, by "schema.table" (or "schema.table#chunk"). */
  copied: Record<string, TableProgress>;
  /** Set once a subscription streams into the target (a resume creates it). */
  subscription?: string;
  /** A resume's progress: which tables it copies again, and how far its hand-off went. */
  resume?: ResumeRecord;
  done: boolean;
}

/**
 * A resume copies the unfinished tables again under a second slot's snapshot, then joins the two
 * streams into the job's one subscription. Each point is a WAL position on the source.
 */
export interface ResumeRecord {
  /** Leaf tables copied again ("schema.table"), and the published tables they belong to. */
  tables: string[];
  published: { schema: string; name: string; rowFilter: string | null }[];
  /** The second slot, publication and subscription. */
  name: string;
  /** Every transaction that could still hold those tables' changes for the first slot ends before this. */
  leftPublicationAt?: string;
  snapshotPoint?: string;
  copied: Record<string, TableProgress>;
  copyDone?: boolean;
  switchedAt?: string;
  handoffAt?: string;
  handedOff?: boolean;
}

export interface InitCheckpoint {
  version: 1;
  /** The id init names the job's slots, publications and subscriptions with (replicationObjectName). */
  jobId: string;
  createdAt: string;
  updatedAt: string;
  source: string;
  target: string;
  filters: FilterOptions;
  noSync: boolean;
  /** init --track-ddl: each database has the DDL capture of src/ddl-capture (cleanup finds it by name anyway). */
  trackDdl?: boolean;
  timeFilters: ResolvedTimeFilter[];
  databases: Record<string, DatabaseCheckpoint>;
}

/** The store's refusal of a checkpoint it cannot hold or read. */
export class CheckpointError extends InvalidJobRecordError {
  override name = 'CheckpointError';
}

const GZIP_PREFIX = 'gz:';
/** Bigger checkpoints are gzipped (a DynamoDB item holds every database's checkpoint, and stops at 400 KB). */
const COMPRESS_OVER = 16 * 1024;
/** The most a packed checkpoint may take in the job item. */
export const MAX_PACKED_CHECKPOINT = 300_000;

/** The checks every store makes before it writes a checkpoint: its shape, and no secret anywhere in it. */
export function checkedCheckpoint(jobId: string, checkpoint: unknown): InitCheckpoint {
  assertNoSecrets(checkpoint, 'init checkpoint');
  const c = checkpoint as InitCheckpoint | undefined;
  if (c?.version !== 1 || typeof c.jobId !== 'string' || typeof c.databases !== 'object' || c.databases === null)
    throw new CheckpointError(
      `The init checkpoint of job ${jobId} does not have the expected shape; run cleanup for the job, then init again.`,
    );
  return c;
}

/** JSON text, or `gz:` + base64 of gzipped JSON, at most MAX_PACKED_CHECKPOINT characters. */
export function packCheckpoint(jobId: string, checkpoint: InitCheckpoint): string {
  const json = JSON.stringify(checkedCheckpoint(jobId, checkpoint));
  const text = json.length > COMPRESS_OVER ? GZIP_PREFIX + gzipSync(json).toString('base64') : json;
  if (text.length > MAX_PACKED_CHECKPOINT) {
    throw new CheckpointError(
      `The init checkpoint of job ${jobId} is ${Math.round(text.length / 1024)} KB packed, more than the job record holds (${MAX_PACKED_CHECKPOINT / 1000} KB); replicate fewer tables per database, or run the CLI with a local state folder.`,
    );
  }
  return text;
}

export function unpackCheckpoint(jobId: string, text: string): InitCheckpoint {
  let value: unknown;
  try {
    const json = text.startsWith(GZIP_PREFIX)
      ? gunzipSync(Buffer.from(text.slice(GZIP_PREFIX.length), 'base64')).toString('utf8')
      : text;
    value = JSON.parse(json);
  } catch {
    value = undefined;
  }
  return checkedCheckpoint(jobId, value);
}
