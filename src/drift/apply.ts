import type pg from 'pg';
import { quoteIdent } from '../catalog/ident.ts';
import { describeFinding, type DriftFinding, type DriftKind } from './types.ts';

/** Columns first (the apply worker waits on them), then types and constraints, new tables, and indexes last. */
const ORDER: DriftKind[] = [
  'column added',
  'type widened',
  'nullability',
  'default',
  'table added',
  'index missing',
  'primary key',
];

export interface DriftApplied {
  /** What was done, one sentence per finding, in the order it was done. */
  applied: string[];
  /** Destructive or ambiguous findings: never applied, each with the statements to run. */
  listed: DriftFinding[];
  /** The subscription was disabled and is enabled again. */
  reenabled: boolean;
}

export class DriftApplyError extends Error {
  override name = 'DriftApplyError';
}

async function subscriptionEnabled(target: pg.Client, subscription: string): Promise<boolean> {
  const { rows } = await target.query<{ enabled: boolean }>(
    'SELECT subenabled AS enabled FROM pg_subscription WHERE subname = $1',
    [subscription],
  );
  return rows[0]?.enabled ?? false;
}

/**
 * The apply errors the drift caused are explained and fixed: counted on, they would make the restarted
 * worker look like one that keeps failing (status's judge). PostgreSQL 15+; by default only a superuser
 * may reset them, so a refusal leaves the count as it is (status then says broken for a few seconds).
 */
async function resetErrorCount(target: pg.Client, subscription: string): Promise<void> {
  try {
    await target.query(
      "SELECT pg_stat_reset_subscription_stats(oid) FROM pg_subscription WHERE subname = $1 AND current_setting('server_version_num')::int >= 150000",
      [subscription],
    );
  } catch {
    // No EXECUTE on the function (or before 15): nothing else depends on the count.
  }
}

/**
 * Runs the statements of the additive findings (sync --apply-ddl), each finding's in its order, and
 * REFRESH PUBLICATION once after every new table is in the publication (it copies only the tables new
 * to the subscription, and refuses to run on a disabled one). The subscription, disabled by an error
 * or by hand, is enabled again once the target's tables can take the source's rows.
 */
export async function applyDrift(
  source: pg.Client,
  target: pg.Client,
  subscription: string,
  findings: DriftFinding[],
): Promise<DriftApplied> {
  const additive = findings.filter((f) => f.additive).sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
  const out: DriftApplied = { applied: [], listed: findings.filter((f) => !f.additive), reenabled: false };
  const enable = async () => {
    if (await subscriptionEnabled(target, subscription)) return;
    await target.query(`ALTER SUBSCRIPTION ${quoteIdent(subscription)} ENABLE`);
    out.reenabled = true;
  };
  const refresh = new Set<string>();
  for (const finding of additive) {
    if (finding.kind === 'table added') await enable();
    for (const statement of finding.statements) {
      if (/^ALTER SUBSCRIPTION .* REFRESH PUBLICATION/.test(statement.sql)) {
        refresh.add(statement.sql);
        continue;
      }
      try {
        await (statement.on === 'source' ? source : target).query(statement.sql);
      } catch (error) {
        throw new DriftApplyError(
          `Applying "${statement.sql}" on the ${statement.on} failed (${(error as Error).message}) while fixing: ${finding.message}. ` +
            `${out.applied.length} earlier change(s) were applied; fix the cause, then run sync --apply-ddl again (it starts from what is still different).`,
          { cause: error },
        );
      }
    }
    out.applied.push(describeFinding(finding));
  }
  for (const sql of refresh) await target.query(sql);
  if (out.applied.length) await resetErrorCount(target, subscription);
  await enable();
  return out;
}
