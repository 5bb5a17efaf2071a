// Sequence positions: logical replication does not carry them, so init and cut-over copy them and verify compares them.
import type pg from 'pg';
import { qualifiedName } from './ident.ts';
import { USER_RELATIONS } from './relations.ts';

/** A sequence's position as of the snapshot. */
export interface SequenceValue {
  schema: string;
  name: string;
  lastValue: string;
  isCalled: boolean;
}

/** Reads every user sequence's value inside the caller's snapshot transaction. */
export async function readSequenceValues(source: pg.Client): Promise<SequenceValue[]> {
  const { rows } = await source.query<{ schema: string; name: string }>(`
    SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'S' AND ${USER_RELATIONS}
     ORDER BY 1, 2`);
  const values: SequenceValue[] = [];
  for (const seq of rows) {
    const { rows: v } = await source.query<{ last_value: string; is_called: boolean }>(
      `SELECT last_value::text, is_called FROM ${qualifiedName(seq.schema, seq.name)}`,
    );
    values.push({ ...seq, lastValue: v[0]!.last_value, isCalled: v[0]!.is_called });
  }
  return values;
}
