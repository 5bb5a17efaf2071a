import { describe, expect, it } from 'vitest';
import { isMatviewData, matviewDataEntries } from '../../../src/snapshot/matview-data.ts';

describe('matviewDataEntries', () => {
  it('picks the entries that fill materialized views, with their oids, and nothing named like one', () => {
    const listing = [
      ';',
      '; Archive created at 2026-12-02 07:00:00 UTC',
      '3215; 2606 16406 CONSTRAINT public sales sales_pkey postgres',
      '3220; 0 16420 MATERIALIZED VIEW DATA public totals postgres',
      '3221; 0 16431 MATERIALIZED VIEW DATA public A doubled ',
      ';3222; 0 16440 MATERIALIZED VIEW DATA public disabled postgres',
      '3223; 1259 16450 INDEX public MATERIALIZED VIEW DATA postgres',
      '',
    ].join('\n');
    expect(matviewDataEntries(listing)).toEqual([
      { line: '3220; 0 16420 MATERIALIZED VIEW DATA public totals postgres', oid: 16420 },
      { line: '3221; 0 16431 MATERIALIZED VIEW DATA public A doubled ', oid: 16431 },
    ]);
    expect(isMatviewData({ line: '3223; 1259 16450 INDEX public MATERIALIZED VIEW DATA postgres' })).toBe(false);
  });
});
