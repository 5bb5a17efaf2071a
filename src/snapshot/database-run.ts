import type pg from 'pg';
import type { SequenceValue } from '../catalog/sequences.ts';
import type { DatabasePlan } from '../plan/plan.ts';
import type { SlotWithSnapshot } from '../replication/slot.ts';
import type { InitRequest } from './init.ts';
import type { DatabaseCheckpoint } from '../jobs/checkpoint.ts';
import type { SchemaCopyOptions } from './schema.ts';

/** What every step of one database's init works with. */
export interface DatabaseRun {
  jobId: string;
  req: InitRequest;
  plan: DatabasePlan;
  db: DatabaseCheckpoint;
  /** Writes the job's checkpoint as it is now; resolves once the job store holds it. */
  save: () => Promise<void>;
  log: (line: string) => void;
  binary: boolean;
  sourceMajor: number;
  targetAdmin: pg.Client;
  openSource: (db: string) => Promise<pg.Client>;
  openTarget: (db: string) => Promise<pg.Client>;
  /** A folder for the job's files (the post-data archive). */
  jobDir: string;
  noSync: boolean;
  /** The job records schema changes on the source and applies them on the target (init --track-ddl). */
  trackDdl: boolean;
  /** Tables whose statistics are current: the analyze step leaves these out. */
  analyzed: Set<string>;
}

/** One database's run of init's steps (init-steps.ts): what they share, and what one step leaves the next. */
export interface DatabaseSteps extends DatabaseRun {
  /** A session on the source database, for the whole run. */
  source: pg.Client;
  schemaOptions: SchemaCopyOptions;
  /** The post-data archive (pg_dump --section=post-data), kept in the job's folder. */
  postDataFile: string;
  /** The slot made by this run and its exported snapshot, until the copy's sessions have imported it. */
  exported?: SlotWithSnapshot;
  /** Sequence values the data step read in its snapshot; without them the sequences step reads them then. */
  sequences?: SequenceValue[];
  /** Post-data builds the data step started beside the copy: the post-data step awaits what is left. */
  postData?: { finish: () => Promise<void>; abandon: () => Promise<void> };
  /** Set once the sessions a stopped run left on the target have finished or been ended (leftover-sessions.ts). */
  leftoversSettled?: Promise<void>;
  /** The tables a resume copied again. */
  recopied: string[];
  /**
   * Work a resume's data step started and left running beside its hand-off (the indexes of tables copied
   * again that no foreign key or apply worker needs, and ANALYZE of the tables it copied or indexed):
   * the post-data step leaves these entries out and awaits it.
   */
  buildsUnderway?: { entries: Set<number>; done: Promise<void> };
}
