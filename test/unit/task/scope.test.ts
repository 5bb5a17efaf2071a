import { describe, expect, it } from 'vitest';
import { engineJobId, scopeFilters } from '../../../src/task/scope.ts';
import { replicationObjectName } from '../../../src/jobs/naming.ts';

describe('engineJobId', () => {
  it('is the job id itself when it makes a valid slot name, as the workflow computes the names', () => {
    expect(engineJobId('shop_move_1', 'shop')).toBe('shop_move_1');
    expect(replicationObjectName(engineJobId('shop_move_1', 'shop'), 'shop')).toMatch(
      /^dbr_shop_move_1_shop_[0-9a-f]{6}$/,
    );
  });

  it('is a hash, the same for every database of the job, for other ids, and always makes a valid name', () => {
    const a = engineJobId('Job-2025.01', 'shop');
    expect(a).toMatch(/^[0-9a-f]{12}$/);
    expect(engineJobId('Job-2025.01', 'crm')).toBe(a);
    expect(engineJobId('Job-2025.02', 'shop')).not.toBe(a);
    for (const [jobId, db] of [
      ['x'.repeat(128), 'A Very Long Database Name With Spaces And More'],
      ['a'.repeat(50), 'shop'],
      ['Upper', 'shop'],
    ] as const) {
      expect(replicationObjectName(engineJobId(jobId, db), db)).toMatch(/^[a-z0-9_]{1,63}$/);
    }
    expect(engineJobId('a'.repeat(50), 'shop')).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe('scopeFilters', () => {
  const sources = ['shop', 'crm'];
  it('keeps the rules of this database and unqualified ones, drops those of other databases', () => {
    const scoped = scopeFilters(
      {
        includeDatabases: ['shop', 'crm'],
        includeTables: [
          'shop.orders',
          'crm.contacts',
          'shop.public.items',
          'crm.public.leads',
          'sales.invoices',
          'lonely',
        ],
        excludeTables: ['crm.audit'],
        schemaOnlyTables: ['shop."Big Log"'],
        timeFilters: ['shop.events:at:6 months', 'crm.events:at:1 year'],
        tableFilters: ["crm.contacts:region = 'eu'", "shop.orders:status <> 'x'"],
      },
      'shop',
      sources,
    );
    expect(scoped).toEqual({
      includeDatabases: ['shop'],
      excludeDatabases: [],
      // sales is no source database: sales.invoices is schema.table inside shop.
      includeTables: ['shop.orders', 'shop.public.items', 'sales.invoices', 'lonely'],
      excludeTables: [],
      schemaOnlyTables: ['shop."Big Log"'],
      timeFilters: ['shop.events:at:6 months'],
      tableFilters: ["shop.orders:status <> 'x'"],
    });
  });

  it('narrows an empty plan to the one database', () => {
    expect(scopeFilters({}, 'crm', sources)).toEqual({
      includeDatabases: ['crm'],
      excludeDatabases: [],
      includeTables: [],
      excludeTables: [],
      schemaOnlyTables: [],
      timeFilters: [],
      tableFilters: [],
    });
  });
});
