import type pg from 'pg';
import { qualifiedName, quoteLiteral } from '../catalog/ident.ts';
import type { SequenceValue } from '../catalog/sequences.ts';

export async function applySequenceValues(target: pg.Client, values: SequenceValue[]): Promise<void> {
  for (const v of values) {
    await target.query(`SELECT setval(${quoteLiteral(qualifiedName(v.schema, v.name))}, $1::bigint, $2)`, [
      v.lastValue,
      v.isCalled,
    ]);
  }
}

/**
 * Copies large objects as of the snapshot, with their OIDs (tables refer to them by OID). pg_restore's
 * pre-data made them empty, with owner and grants; writing at offset 0 keeps those and is idempotent.
 */
export async function copyLargeObjects(source: pg.Client, target: pg.Client): Promise<number> {
  const { rows } = await source.query<{ oid: number }>(
    'SELECT oid::int AS oid FROM pg_largeobject_metadata ORDER BY oid',
  );
  if (rows.length === 0) return 0;
  await target.query('BEGIN');
  try {
    for (const { oid } of rows) {
      const { rows: data } = await source.query<{ data: Buffer }>('SELECT lo_get($1::oid) AS data', [oid]);
      await target.query(
        `SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_largeobject_metadata WHERE oid = $1::oid)
                     THEN lo_put($1::oid, 0, $2) IS NULL
                     ELSE lo_from_bytea($1::oid, $2) IS NULL END`,
        [oid, data[0]!.data],
      );
    }
    await target.query('COMMIT');
  } catch (error) {
    await target.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return rows.length;
}
