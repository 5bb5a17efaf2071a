import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../catalog/ident.ts';
import { rowHashExpression } from './canonical.ts';
import type { RowDiff, Sides, TableToVerify } from './table.ts';

/** What the re-checks left: rows that differ with the source holding still, and rows the source kept changing. */
export interface RecheckResult {
  /** The source row held still from before the target caught up until after the target was read: a real difference. */
  different: RowDiff[];
  /** The source row changed while it was being checked, in the last round too: neither equal nor different can be said. */
  changing: RowDiff[];
}

/** One spelling per key, whatever json_build_object's spacing or the caller's property order is. */
function keyText(columns: { name: string }[], key: Record<string, string>): string {
  return JSON.stringify(columns.map((c) => key[c.name] ?? null));
}

/** Row hashes of specific rows, by primary key, on one side, keyed by keyText. */
async function rowsByKey(
  client: pg.Client,
  table: TableToVerify,
  keys: Record<string, string>[],
): Promise<Map<string, string>> {
  if (keys.length === 0) return new Map();
  const cols = table.primaryKey;
  const params: string[] = [];
  const tuples = keys.map(
    (key) =>
      `(${cols
        .map((c) => {
          params.push(key[c.name]!);
          return `$${params.length}::${c.type.replace(/\(.*\)/, '')}`;
        })
        .join(', ')})`,
  );
  const keyJson = `json_build_object(${cols.map((k) => `'${k.name.replace(/'/g, "''")}', ${quoteIdent(k.name)}::text`).join(', ')})::text`;
  const { rows } = await client.query<{ k: string; h: string }>(
    `SELECT ${keyJson} AS k, ${rowHashExpression(table.columns, table.hashMethod)}::text AS h FROM ONLY ${qualifiedName(table.schema, table.name)} WHERE (${cols.map((c) => quoteIdent(c.name)).join(', ')}) IN (${tuples.join(', ')})`,
    params,
  );
  return new Map(rows.map((r) => [keyText(cols, JSON.parse(r.k) as Record<string, string>), r.h]));
}

function kindOf(source: string | undefined, target: string | undefined): RowDiff['kind'] {
  return source === undefined ? 'extra on target' : target === undefined ? 'missing on target' : 'different';
}

/**
 * The delayed re-check for a live replica. Each round reads the suspect rows on the source, waits until
 * the target has applied the source's WAL position, reads them on the target, then reads the source
 * again. A row that was only in flight now matches. A row whose source value held still across the
 * round while the target shows something else is a real difference. A row whose source value moved
 * during the round (a hot row under steady updates) proves nothing either way: it stays suspect for the
 * next round, and if it is still moving in the last round it is reported as changing, never as different.
 */
export async function recheckRows(
  sides: Sides,
  table: TableToVerify,
  suspects: RowDiff[],
  rounds: number,
  catchUp: () => Promise<boolean>,
): Promise<RecheckResult> {
  let pending = suspects.map((diff) => ({ diff, changing: false }));
  for (let round = 0; round < rounds && pending.length; round++) {
    const next: typeof pending = [];
    for (let i = 0; i < pending.length; i += 500) {
      const batch = pending.slice(i, i + 500).map((p) => p.diff.key);
      const before = await rowsByKey(sides.source, table, batch);
      // The target never caught up: what is still pending cannot be settled by waiting.
      if (!(await catchUp())) return { different: pending.map((p) => p.diff), changing: [] };
      const target = await rowsByKey(sides.target, table, batch);
      const after = await rowsByKey(sides.source, table, batch);
      for (const key of batch) {
        const k = keyText(table.primaryKey, key);
        const s = before.get(k);
        const t = target.get(k);
        if (s === t) continue;
        next.push({ diff: { kind: kindOf(after.get(k), t), key }, changing: after.get(k) !== s });
      }
    }
    pending = next;
  }
  return {
    different: pending.filter((p) => !p.changing).map((p) => p.diff),
    changing: pending.filter((p) => p.changing).map((p) => p.diff),
  };
}
