import type pg from 'pg';
import type { DatabasePlan } from '../plan/plan.ts';
import type { InitRequest } from './init.ts';
import type { DatabaseCheckpoint, InitStep } from '../jobs/checkpoint.ts';

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
  /** Tables whose statistics are current: a resume leaves these out of its ANALYZE. */
  analyzed: Set<string>;
}

/** Runs a step unless the record says it is done, then records its time. */
export async function timed<T>(
  state: DatabaseCheckpoint,
  step: InitStep,
  store: () => Promise<void>,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  if (state.steps[step]) return undefined;
  const started = performance.now();
  const result = await fn();
  state.steps[step] = { seconds: (performance.now() - started) / 1000 };
  await store();
  return result;
}
