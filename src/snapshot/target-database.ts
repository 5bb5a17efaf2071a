// The target database of a first run: checked before anything is written, then made (or dropped and
// made again with --drop-existing) with the source's encoding, collation and settings.
import type pg from 'pg';
import { quoteIdent, quoteLiteral } from '../catalog/ident.ts';
import type { DatabasePlan } from '../plan/plan.ts';
import { checkRowFilters, checkTargetEmpty } from '../plan/target-checks.ts';
import { copyDatabaseSettings } from './database-settings.ts';
import type { DatabaseRun } from './database-run.ts';
import { checkDroppable, dropTargetDatabase, type TargetDrop } from './drop-target.ts';
import type { InitRequest } from './init.ts';

/**
 * Before a first run writes anything: each target is empty, or (--drop-existing) may be dropped; and
 * the time windows whose column cannot filter the publication are told.
 */
export async function checkNewTargets(
  req: InitRequest,
  plans: DatabasePlan[],
  targetAdmin: pg.Client,
  openSource: (db: string) => Promise<pg.Client>,
  openTarget: (db: string) => Promise<pg.Client>,
): Promise<TargetDrop[]> {
  const drops: TargetDrop[] = [];
  for (const plan of plans) {
    if (!req.dropExisting) await checkTargetEmpty(targetAdmin, openTarget, plan);
    else if ((await targetAdmin.query('SELECT 1 FROM pg_database WHERE datname = $1', [plan.target])).rowCount) {
      const targetDb = await openTarget(plan.target);
      try {
        drops.push(await checkDroppable(targetAdmin, targetDb, plan.target));
      } finally {
        await targetDb.end().catch(() => undefined);
      }
    }
    const client = await openSource(plan.source);
    try {
      const unfiltered = await checkRowFilters(
        client,
        plan,
        (schema, name) =>
          plan.tables.find((t) => t.publishedAs.schema === schema && t.publishedAs.name === name)?.columns[0] ?? 'ctid',
      );
      for (const table of unfiltered) {
        req.logger.warn(
          `${table}: the time window's column is not part of the replica identity, so the publication carries no row filter for it; the copy still holds only the window, and updates to older rows are skipped on the target.`,
        );
      }
    } finally {
      await client.end();
    }
  }
  return drops;
}

export async function ensureTargetDatabase(run: DatabaseRun, source: pg.Client): Promise<void> {
  const { targetAdmin, plan, db, req } = run;
  const exists =
    ((await targetAdmin.query('SELECT 1 FROM pg_database WHERE datname = $1', [plan.target])).rowCount ?? 0) > 0;
  if (exists && req.dropExisting && !db.createdTargetDatabase) {
    run.log(`dropping target database ${plan.target} (--drop-existing)`);
    await dropTargetDatabase(source, targetAdmin, () => run.openTarget(plan.target), plan.target);
  } else if (exists) {
    return;
  }
  const { rows } = await source.query<{ encoding: string; collate: string; ctype: string }>(
    'SELECT pg_encoding_to_char(encoding) AS encoding, datcollate AS collate, datctype AS ctype FROM pg_database WHERE datname = current_database()',
  );
  const r = rows[0]!;
  await targetAdmin.query(
    `CREATE DATABASE ${quoteIdent(plan.target)} TEMPLATE template0 ENCODING ${quoteLiteral(r.encoding)} LC_COLLATE ${quoteLiteral(r.collate)} LC_CTYPE ${quoteLiteral(r.ctype)}`,
  );
  db.createdTargetDatabase = true;
  await run.save();
  const refused = await copyDatabaseSettings(source, targetAdmin, plan.target);
  if (refused.length)
    run.log(`${plan.target}: database settings the target refused, set them there if needed: ${refused.join('; ')}`);
}
