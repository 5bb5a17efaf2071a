import { mkdirSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeJsonAtomic } from '../jobs/local-files.ts';
import type { FilterOptions, ResolvedTimeFilter } from '../plan/plan.ts';

export const INIT_STEPS = ['roles', 'schema', 'data', 'largeObjects', 'postData', 'sequences', 'analyze'] as const;
export type InitStep = (typeof INIT_STEPS)[number];

export interface TableProgress {
  rows: number;
  bytes: number;
  seconds: number;
}

/** What init has made and done for one database: enough to resume, and to clean up. Never a password. */
export interface DatabaseState {
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

export interface JobState {
  version: 1;
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
  databases: Record<string, DatabaseState>;
}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DATABASE_REPLICATOR_STATE_DIR) return env.DATABASE_REPLICATOR_STATE_DIR;
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'database-replicator');
}

/** The local job store: one JSON file per job, replaced atomically so a kill never leaves half a file. */
export class LocalJobStore {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = join(dir, 'jobs');
  }

  path(jobId: string): string {
    return join(this.dir, `${jobId}.json`);
  }

  /** A folder for a job's files (e.g. the post-data schema archive). */
  jobDir(jobId: string): string {
    const dir = join(this.dir, jobId);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  load(jobId: string): JobState | undefined {
    const path = this.path(jobId);
    if (!existsSync(path)) return undefined;
    return JSON.parse(readFileSync(path, 'utf8')) as JobState;
  }

  save(state: JobState): void {
    state.updatedAt = new Date().toISOString();
    writeJsonAtomic(this.path(state.jobId), state);
  }

  remove(jobId: string): void {
    rmSync(this.path(jobId), { force: true });
    rmSync(join(this.dir, jobId), { recursive: true, force: true });
  }
}
