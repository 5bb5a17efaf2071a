import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../catalog/ident.ts';
import type { PublishedTable } from '../catalog/publishable.ts';
import type { ServerFacts } from '../catalog/server.ts';
import { ddlCaptureName } from '../jobs/naming.ts';
import { createPublication, publicationExists } from '../replication/publication.ts';
import { applySql, captureSql, eventTriggerSql, logTableSql } from './sql.ts';

/** Creating an event trigger takes a superuser; on RDS and Aurora, a member of rds_superuser. */
export function canTrackDdl(source: ServerFacts): boolean {
  return source.role.superuser || source.role.memberOf.includes('rds_superuser');
}

export interface DdlCaptureSetup {
  jobId: string;
  source: pg.Client;
  /** A session on the target database, ended here. */
  openTarget: () => Promise<pg.Client>;
  /** The job's publication; created here with `published` when it does not exist yet. */
  publication: string;
  published: PublishedTable[];
  /** The publication a resume copies unfinished tables through (jobs/naming.ts resumeObjectName). */
  resumePublication?: string;
  sourceMajor: number;
}

/**
 * Sets up init --track-ddl for one database, before the job's slot exists: the target's log and trigger
 * first (nothing streams yet), then the source's log, function and event trigger, then the log in the
 * publication. Every change committed after the slot's consistent point is then recorded, and reaches
 * the target in the same stream as the rows, in commit order; changes before it are in the snapshot's
 * schema. Safe to run again (a resumed init).
 */
export async function installDdlCapture(setup: DdlCaptureSetup): Promise<void> {
  const { source } = setup;
  const schema = ddlCaptureName(setup.jobId);
  const target = await setup.openTarget();
  try {
    await target.query(applySql(schema));
  } finally {
    await target.end().catch(() => undefined);
  }
  await source.query(logTableSql(schema));
  await source.query(
    captureSql(schema, [setup.publication, ...(setup.resumePublication ? [setup.resumePublication] : [])]),
  );
  if (!(await source.query('SELECT 1 FROM pg_event_trigger WHERE evtname = $1', [schema])).rowCount)
    await source.query(eventTriggerSql(schema, schema));
  if (!(await publicationExists(source, setup.publication)))
    await createPublication(source, setup.publication, setup.published, setup.sourceMajor);
  const { rowCount } = await source.query(
    `SELECT 1 FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid WHERE p.pubname = $1 AND pr.prrelid = to_regclass($2)`,
    [setup.publication, qualifiedName(schema, 'ddl_log')],
  );
  if (!rowCount)
    await source.query(
      `ALTER PUBLICATION ${quoteIdent(setup.publication)} ADD TABLE ${qualifiedName(schema, 'ddl_log')}`,
    );
}

/**
 * Drops what installDdlCapture made in one database (the event trigger, then the schema with the log and
 * the functions); says what it dropped. Found by the job's name alone: a job record is not needed.
 */
export async function removeDdlCapture(client: pg.Client, jobId: string): Promise<string[]> {
  const name = ddlCaptureName(jobId);
  const dropped: string[] = [];
  if ((await client.query('SELECT 1 FROM pg_event_trigger WHERE evtname = $1', [name])).rowCount) {
    await client.query(`DROP EVENT TRIGGER IF EXISTS ${quoteIdent(name)}`);
    dropped.push(`event trigger ${name}`);
  }
  if ((await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [name])).rowCount) {
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(name)} CASCADE`);
    dropped.push(`schema ${name} with its DDL log and functions`);
  }
  return dropped;
}
