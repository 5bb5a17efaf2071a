// --drop-existing destroys a database. It acts only on a target database that is not the source,
// holds nothing another replication depends on, and nobody else is using; the same checks run when
// the plan is shown and again right before the DROP.
import type pg from 'pg';
import { assertNotSameDatabase } from '../catalog/identity.ts';
import { quoteIdent } from '../catalog/ident.ts';

/** What --drop-existing is about to drop, for the estimate table before "Proceed?". */
export interface TargetDrop {
  database: string;
  tables: number;
  bytes: number;
}

export class DropRefusedError extends Error {
  override name = 'DropRefusedError';
}

function listed(items: string[], max = 5): string {
  return items.slice(0, max).join(', ') + (items.length > max ? ` and ${items.length - max} more` : '');
}

/**
 * Refuses (DropRefusedError) when the target database holds a replication slot, a publication or a
 * subscription, or when other sessions are connected to it; otherwise says how much it holds.
 * `targetDb` is a session in that database, `targetAdmin` one in another database of the same server.
 */
export async function checkDroppable(
  targetAdmin: pg.Client,
  targetDb: pg.Client,
  database: string,
): Promise<TargetDrop> {
  const refuse = (what: string, remedy: string) =>
    new DropRefusedError(`--drop-existing will not drop the target database ${database}: ${what}; ${remedy}`);
  const slots = await targetAdmin.query<{ slot_name: string }>(
    'SELECT slot_name FROM pg_replication_slots WHERE database = $1 ORDER BY 1',
    [database],
  );
  if (slots.rowCount) {
    throw refuse(
      `it holds the replication slot(s) ${listed(slots.rows.map((r) => r.slot_name))}, so another replication reads from it`,
      'drop them there first if they are unused, or choose another target database.',
    );
  }
  const publications = await targetDb.query<{ pubname: string }>('SELECT pubname FROM pg_publication ORDER BY 1');
  if (publications.rowCount) {
    throw refuse(
      `it holds the publication(s) ${listed(publications.rows.map((r) => r.pubname))}, so it is the source of a replication`,
      'choose another target database.',
    );
  }
  const subscriptions = await targetDb.query<{ subname: string }>(
    'SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY 1',
  );
  if (subscriptions.rowCount) {
    throw refuse(
      `it holds the subscription(s) ${listed(subscriptions.rows.map((r) => r.subname))}`,
      'run cleanup for the job that made them (or DROP SUBSCRIPTION), then init again.',
    );
  }
  const ownPid = (await targetDb.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const sessions = await targetAdmin.query<{
    pid: number;
    usename: string | null;
    application_name: string;
    state: string | null;
  }>(
    `SELECT pid, usename, application_name, state FROM pg_stat_activity
      WHERE datname = $1 AND pid <> pg_backend_pid() AND pid <> $2 AND backend_type = 'client backend' ORDER BY pid`,
    [database, ownPid],
  );
  if (sessions.rowCount) {
    const who = sessions.rows.map(
      (s) =>
        `pid ${s.pid} (user ${s.usename ?? '?'}${s.application_name ? `, ${s.application_name}` : ''}${s.state ? `, ${s.state}` : ''})`,
    );
    throw refuse(
      `${sessions.rowCount} other session(s) are connected to it: ${listed(who)}`,
      'stop them (or end them with pg_terminate_backend) and run init again.',
    );
  }
  const size = await targetDb.query<{ tables: number; bytes: string }>(
    `SELECT (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%') AS tables,
            pg_database_size(current_database())::text AS bytes`,
  );
  return { database, tables: size.rows[0]!.tables, bytes: Number(size.rows[0]!.bytes) };
}

/**
 * The DROP itself, after proving once more, on fresh reads, that the database is not the source and
 * may be dropped. `source` is a session in the source database this target replaces.
 */
export async function dropTargetDatabase(
  source: pg.Client,
  targetAdmin: pg.Client,
  openTargetDb: () => Promise<pg.Client>,
  database: string,
): Promise<void> {
  const targetDb = await openTargetDb();
  try {
    await assertNotSameDatabase(source, targetDb, `dropping target database ${database} (--drop-existing)`);
    await checkDroppable(targetAdmin, targetDb, database);
  } finally {
    await targetDb.end().catch(() => undefined);
  }
  // No FORCE: a session that connected since the check makes the DROP fail rather than be cut off.
  await targetAdmin.query(`DROP DATABASE ${quoteIdent(database)}`);
}
