// The last steps of a database's init: ANALYZE, and for a snapshot-only copy the replication objects dropped.
import { quoteIdent } from '../catalog/ident.ts';
import type pg from 'pg';
import { settledPoint, waitForSlotConfirmed } from '../replication/hand-off.ts';
import { dropPublication } from '../replication/publication.ts';
import { dropSlot } from '../replication/slot.ts';
import { dropSubscription } from '../replication/subscription.ts';
import type { DatabaseRun } from './database-run.ts';

/** --no-sync: a snapshot-only copy keeps no slot (it would retain WAL), no publication, no subscription. */
export async function dropReplicationObjects(run: DatabaseRun, source: pg.Client): Promise<void> {
  const { db } = run;
  if (db.subscription) {
    // A resumed copy is consistent once its subscription has caught up with the source.
    await waitForSlotConfirmed(
      source,
      db.slot,
      await settledPoint(source, run.req.syncTimeoutMs ?? 3_600_000),
      run.req.syncTimeoutMs ?? 3_600_000,
    );
    const target = await run.openTarget(run.plan.target);
    try {
      await dropSubscription(target, db.subscription);
    } finally {
      await target.end();
    }
  }
  await dropSlot(source, db.slot);
  await dropPublication(source, db.publication);
}

/** ANALYZE table by table on --jobs connections, biggest first (one ANALYZE uses one core); `done` were analyzed already. */
export async function analyzeInParallel(run: DatabaseRun, done: Set<string>): Promise<void> {
  const tables = run.plan.tables.filter((t) => !done.has(`${t.schema}.${t.name}`)).sort((a, b) => b.bytes - a.bytes);
  const parents = new Map(run.plan.publication.map((p) => [`${p.schema}.${p.name}`, p]));
  const names = [
    ...tables.map((t) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`),
    // Partitioned roots: their leaves are in the plan's tables, they themselves are not.
    ...[...parents.values()]
      .filter((p) => !run.plan.tables.some((t) => t.schema === p.schema && t.name === p.name))
      .map((p) => `${quoteIdent(p.schema)}.${quoteIdent(p.name)}`),
  ];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(run.req.jobs, names.length)) }, async () => {
      const target = await run.openTarget(run.plan.target);
      try {
        while (next < names.length) await target.query(`ANALYZE ${names[next++]!}`);
      } finally {
        await target.end().catch(() => undefined);
      }
    }),
  );
}

/** ANALYZE of one table on a session of its own, beside whatever else runs. */
export async function analyzeTable(run: DatabaseRun, key: string): Promise<void> {
  const table = run.plan.tables.find((t) => `${t.schema}.${t.name}` === key)!;
  const target = await run.openTarget(run.plan.target);
  try {
    await target.query(`ANALYZE ${quoteIdent(table.schema)}.${quoteIdent(table.name)}`);
  } finally {
    await target.end().catch(() => undefined);
  }
}
