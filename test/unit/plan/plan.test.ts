import { describe, expect, it } from 'vitest';
import type { CatalogTable } from '../../../src/catalog/tables.ts';
import { parseFilters, planDatabase, selectDatabases, type FilterOptions } from '../../../src/plan/plan.ts';

function table(schema: string, name: string, overrides: Partial<CatalogTable> = {}): CatalogTable {
  return {
    oid: 1,
    schema,
    name,
    kind: 'table',
    hasStorage: true,
    root: null,
    unlogged: false,
    bytes: 8192,
    estimatedRows: 10,
    columns: [
      { name: 'id', type: 'integer', generated: false },
      { name: 'at', type: 'timestamp with time zone', generated: false },
      { name: 'up', type: 'text', generated: true },
    ],
    primaryKey: ['id'],
    replicaIdentity: 'default',
    ...overrides,
  };
}

const tables: CatalogTable[] = [
  table('public', 'orders', { kind: 'partitioned', hasStorage: false }),
  table('public', 'orders_2025', { kind: 'partition', root: { schema: 'public', name: 'orders' } }),
  table('public', 'orders_default', { kind: 'partition', root: { schema: 'public', name: 'orders' } }),
  table('public', 'audit'),
  table('sales', 'Order Items'),
  table('public', 'cache', { unlogged: true }),
];

function plan(filters: FilterOptions, databases = ['shop']) {
  return planDatabase({
    sourceDatabase: 'shop',
    targetDatabase: 'shop',
    databases,
    tables,
    filters: parseFilters(filters),
    rowFilters: true,
    resolveSince: () => '2026-05-24T00:00:00.000000Z',
  });
}

describe('planDatabase', () => {
  it('copies every table with storage through its leaves, leaving generated columns out, and publishes top-level logged tables', () => {
    const { plan: p } = plan({});
    expect(p.tables.map((t) => `${t.schema}.${t.name}:${t.mode}`)).toEqual([
      'public.orders_2025:data',
      'public.orders_default:data',
      'public.audit:data',
      'sales.Order Items:data',
      'public.cache:data',
    ]);
    expect(p.tables[0]!.columns).toEqual(['id', 'at']);
    expect(p.tables[0]!.publishedAs).toEqual({ schema: 'public', name: 'orders' });
    expect(p.publication.map((t) => `${t.schema}.${t.name}`)).toEqual([
      'public.orders',
      'public.audit',
      'sales.Order Items',
    ]);
  });

  it('applies a filter on a partitioned table to its leaves and to the publication row filter', () => {
    const { plan: p, timeFilters } = plan({
      timeFilters: ['shop.orders:at:6 months'],
      tableFilters: ['shop.orders:id > 10'],
    });
    expect(p.tables.find((t) => t.name === 'orders_2025')!.where).toBe(
      `"at" >= '2026-05-24T00:00:00.000000Z' AND (id > 10)`,
    );
    expect(p.publication.find((t) => t.name === 'orders')).toMatchObject({
      rowFilter: `"at" >= '2026-05-24T00:00:00.000000Z' AND (id > 10)`,
      rowFilterRequired: true,
    });
    expect(timeFilters).toEqual([
      {
        database: 'shop',
        schema: 'public',
        table: 'orders',
        column: 'at',
        window: '6 months',
        since: '2026-05-24T00:00:00.000000Z',
      },
    ]);
  });

  it("include, exclude and schema-only set each table's mode; excluded and schema-only tables are not published", () => {
    expect(
      plan({ includeTables: ['shop.sales."Order Items"'] })
        .plan.tables.filter((t) => t.mode === 'data')
        .map((t) => t.name),
    ).toEqual(['Order Items']);
    const { plan: p } = plan({ excludeTables: ['shop.audit'], schemaOnlyTables: ['shop.orders'] });
    expect(p.tables.map((t) => t.mode)).toEqual(['schema-only', 'schema-only', 'excluded', 'data', 'data']);
    expect(p.publication.map((t) => t.name)).toEqual(['Order Items']);
  });

  it('accepts schema.table and table alone when one database is planned', () => {
    expect(
      plan({ excludeTables: ['audit', 'sales."Order Items"'] })
        .plan.tables.filter((t) => t.mode === 'excluded')
        .map((t) => t.name),
    ).toEqual(['audit', 'Order Items']);
  });

  it.each([
    [{ excludeTables: ['shop.nope'] }, /names a table that does not exist in database shop/],
    [
      { schemaOnlyTables: ['shop.orders_2025'] },
      /partition public\.orders_2025 is schema-only but its partitioned table public\.orders replicates/,
    ],
    [
      { excludeTables: ['shop.orders_default'] },
      /partition public\.orders_default is excluded but its partitioned table public\.orders replicates/,
    ],
    [{ includeTables: ['shop.audit'], excludeTables: ['shop.audit'] }, /both included and excluded/],
    [{ schemaOnlyTables: ['shop.audit'], excludeTables: ['shop.audit'] }, /both schema-only and excluded/],
    [{ timeFilters: ['shop.audit:nope:1 day'] }, /names the column "nope"/],
    [{ timeFilters: ['shop.audit:id:1 day'] }, /needs a date or timestamp column, but "id" is integer/],
    [{ timeFilters: ['shop.audit:at:1 day', 'shop.audit:at:2 days'] }, /two time filters/],
    [{ timeFilters: ['shop.audit:at:1 day'], excludeTables: ['shop.audit'] }, /has a time filter but copies no data/],
    [{ excludeTables: ['other.audit'] }, /names the database "other", which is not replicated/],
  ])('refuses %j', (filters, message) => {
    expect(() =>
      plan(
        filters as FilterOptions,
        (filters as FilterOptions).excludeTables?.[0]?.startsWith('other') ? ['shop', 'x'] : ['shop'],
      ),
    ).toThrow(message);
  });

  it('asks for the database when several are planned', () => {
    expect(() => plan({ excludeTables: ['audit'] }, ['shop', 'crm'])).toThrow(/must name its database/);
  });
});

describe('selectDatabases', () => {
  const all = ['crm', 'shop'];
  it('takes the URL database, else all, and honours include/exclude', () => {
    expect(selectDatabases(all, 'shop', {})).toEqual(['shop']);
    expect(selectDatabases(all, 'postgres', {})).toEqual(['crm', 'shop']);
    expect(selectDatabases(all, null, { excludeDatabases: ['crm'] })).toEqual(['shop']);
    expect(selectDatabases(all, 'shop', { includeDatabases: ['crm'] })).toEqual(['crm']);
  });
  it('refuses unknown and conflicting names', () => {
    expect(() => selectDatabases(all, null, { includeDatabases: ['nope'] })).toThrow(
      /"nope" does not exist on the source/,
    );
    expect(() => selectDatabases(all, null, { includeDatabases: ['crm'], excludeDatabases: ['crm'] })).toThrow(
      /both included and excluded/,
    );
    expect(() => selectDatabases(['crm'], null, { excludeDatabases: ['crm'] })).toThrow(/No source database is left/);
  });
});
