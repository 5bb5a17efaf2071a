import { describe, expect, it } from 'vitest';
import {
  checkFullIdentityComparable,
  checkGeneratedColumns,
  checkLargeObjects,
  checkMaterializedViews,
  checkPartitionedTables,
  checkSequences,
  checkUnloggedTables,
} from '../../../src/checks/caveats.ts';
import { database, facts, table } from './facts.ts';

describe('caveat warnings', () => {
  const clean = facts();
  it('pass when there is nothing to warn about', () => {
    for (const check of [
      checkFullIdentityComparable,
      checkLargeObjects,
      checkUnloggedTables,
      checkSequences,
      checkPartitionedTables,
      checkGeneratedColumns,
      checkMaterializedViews,
    ]) {
      expect(check(clean).status).toBe('pass');
    }
  });

  const db = database({
    largeObjects: 3,
    tables: [
      table({ name: 'log', hasPrimaryKey: false, replicaIdentity: 'full', uncomparableColumns: ['payload'] }),
      table({ name: 'cache', unlogged: true }),
      table({ name: 'orders', kind: 'partitioned' }),
      table({ name: 'people', generatedColumns: ['full_name'] }),
    ],
    sequences: [{ schema: 'public', name: 'orders_id_seq', selectable: true }],
    materializedViews: [{ schema: 'public', name: 'order_counts' }],
  });
  const f = facts({ databases: [db] });
  it.each([
    ['large objects', checkLargeObjects, 'shop: 3'],
    ['full-row identities it cannot compare', checkFullIdentityComparable, 'shop: public.log (payload)'],
    ['unlogged tables', checkUnloggedTables, 'shop: public.cache'],
    ['sequences', checkSequences, 'shop: public.orders_id_seq'],
    ['partitioned tables', checkPartitionedTables, 'shop: public.orders'],
    ['generated columns', checkGeneratedColumns, 'shop: public.people'],
    ['materialized views', checkMaterializedViews, 'shop: public.order_counts'],
  ])('warn about %s, naming them, with a remedy', (_name, check, named) => {
    const result = check(f);
    expect(result.status).toBe('warn');
    expect(result.detail).toContain(named);
    expect(result.remedy).toBeTruthy();
  });
});
