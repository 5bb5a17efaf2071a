import type pg from 'pg';
import { qualifiedName } from '../catalog/ident.ts';
import type { DatabasePlan } from '../plan/plan.ts';
import { addTablesToPublication, dropTablesFromPublication } from '../replication/publication.ts';
import { createSubscriptionAtSlot, refreshPublication, subscriptionExists, waitForTableSync } from '../replication/subscription.ts';
import type { DatabaseState } from './state.ts';

export interface ResumeContext {
  source: pg.Client;
  target: pg.Client;
  plan: DatabasePlan;
  state: DatabaseState;
  subscriptionConninfo: string;
  binary: boolean;
  syncTimeoutMs: number;
  log: (line: string) => void;
}

/** Copy units not committed on the target yet, by the table they belong to. */
export function unfinishedTables(plan: DatabasePlan, state: DatabaseState): DatabasePlan['tables'] {
  return plan.tables.filter((t) => {
    if (t.mode !== 'data') return false;
    const key = `${t.schema}.${t.name}`;
    return !(key in state.copied);
  });
}

/**
 * Finishes an interrupted copy without a new snapshot. The exported snapshot died with the process,
 * but the slot survived at the original consistent point, and the finished tables are exact as of
 * it. So: take the unfinished tables out of the publication, attach a subscription to the slot at
 * the consistent point (finished tables then stream from exactly where their copy ends), put the
 * unfinished tables back, empty them on the target, and let PostgreSQL's table synchronization copy
 * them under its own snapshot and catch them up. The apply worker skips changes of tables that are
 * not yet part of the subscription, so nothing is applied twice.
 */
export async function resumeThroughSubscription(ctx: ResumeContext): Promise<{ resynced: string[] }> {
  const { plan, state, source, target } = ctx;
  const unfinished = unfinishedTables(plan, state);
  // Table synchronization works per published table: a partitioned table is re-synced whole.
  const roots = new Map<string, { schema: string; name: string }>();
  for (const t of unfinished) if (!t.unlogged) roots.set(`${t.publishedAs.schema}.${t.publishedAs.name}`, t.publishedAs);
  const published = plan.publication.filter((p) => roots.has(`${p.schema}.${p.name}`));
  const leaves = plan.tables.filter((t) => t.mode === 'data' && roots.has(`${t.publishedAs.schema}.${t.publishedAs.name}`));
  const name = state.slot;

  if (!(await subscriptionExists(target, name))) {
    ctx.log(`resuming ${plan.source}: ${published.length} table(s) will be copied again by table synchronization on slot ${state.slot}`);
    await dropTablesFromPublication(source, state.publication, published);
    await createSubscriptionAtSlot(target, { name, conninfo: ctx.subscriptionConninfo, publication: state.publication, slot: state.slot, consistentPoint: state.consistentPoint!, binary: ctx.binary });
    state.subscription = name;
    await addTablesToPublication(source, state.publication, published);
    if (leaves.length) await target.query(`TRUNCATE ${leaves.map((t) => qualifiedName(t.schema, t.name)).join(', ')}`);
    await refreshPublication(target, name, true);
  }
  let lastLog = 0;
  await waitForTableSync(target, name, ctx.syncTimeoutMs, (pending) => {
    if (Date.now() - lastLog < 5000) return;
    lastLog = Date.now();
    ctx.log(`${plan.source}: waiting for table synchronization, ${pending} table(s) pending`);
  });
  for (const t of leaves) state.copied[`${t.schema}.${t.name}`] = { rows: 0, bytes: 0, seconds: 0 };
  return { resynced: published.map((p) => `${p.schema}.${p.name}`) };
}
