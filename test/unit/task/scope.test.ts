import { describe, expect, it } from 'vitest';
import type { JobState } from '../../../src/snapshot/state.ts';
import { SecretInRecordError } from '../../../src/jobs/errors.ts';
import { decodeInitState, encodeInitState, InitStateError } from '../../../src/task/init-state.ts';
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

const state = (tables: number): JobState => ({
  version: 1,
  jobId: 'abc123def456',
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  source: 'db:5432',
  target: 'db2:5432',
  filters: { includeDatabases: ['shop'] },
  noSync: false,
  timeFilters: [],
  databases: {
    shop: {
      source: 'shop',
      target: 'shop',
      createdTargetDatabase: true,
      publication: 'dbr_x',
      slot: 'dbr_x',
      slotCreated: true,
      consistentPoint: '0/1A2B3C',
      steps: { schema: { seconds: 1.5 } },
      copied: Object.fromEntries(
        Array.from({ length: tables }, (_, i) => [`public.table_${i}`, { rows: i, bytes: i * 10, seconds: 0.1 }]),
      ),
      done: false,
    },
  },
});

describe('init state in the job record', () => {
  it('round-trips as plain JSON while small', () => {
    const text = encodeInitState(state(3));
    expect(text.startsWith('{')).toBe(true);
    expect(decodeInitState(text)).toEqual(state(3));
  });

  it('is gzipped when big, and still round-trips', () => {
    const big = state(3000);
    const text = encodeInitState(big);
    expect(text.startsWith('gz:')).toBe(true);
    expect(text.length).toBeLessThan(JSON.stringify(big).length / 4);
    expect(decodeInitState(text)).toEqual(big);
  });

  it('refuses a state that holds a password, before packing it', () => {
    const leaky = state(1);
    leaky.filters = { tableFilters: ["shop.t:dsn = 'postgresql://app:State-Pa55@h/db'"] };
    expect(() => encodeInitState(leaky)).toThrow(SecretInRecordError);
  });

  it('says what to do when the recorded text is damaged', () => {
    expect(() => decodeInitState('gz:not-gzip')).toThrow(InitStateError);
    expect(() => decodeInitState('{"version": 2}')).toThrow(/run the cleanup task, then the snapshot task again/);
  });
});
