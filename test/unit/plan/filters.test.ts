import { describe, expect, it } from 'vitest';
import {
  FilterError,
  parseTableFilter,
  parseTableSelector,
  parseTimeFilter,
  parseWindow,
  splitOutsideQuotes,
} from '../../../src/plan/filters.ts';

describe('parseTableSelector', () => {
  it('reads db.table and db.schema.table, folding unquoted table and schema names', () => {
    expect(parseTableSelector('shop.Orders')).toMatchObject({ database: 'shop', name: 'orders' });
    expect(parseTableSelector('Shop.Sales.Orders')).toMatchObject({
      database: 'Shop',
      schema: 'sales',
      name: 'orders',
    });
  });
  it('keeps quoted identifiers as written, with dots and doubled quotes inside', () => {
    expect(parseTableSelector('shop."Order Items"')).toMatchObject({ database: 'shop', name: 'Order Items' });
    expect(parseTableSelector('shop."Reporting Dept"."Daily.Totals ""x"""')).toMatchObject({
      schema: 'Reporting Dept',
      name: 'Daily.Totals "x"',
    });
  });
  it('refuses names that need quotes, too many parts and unclosed quotes', () => {
    expect(() => parseTableSelector('shop.Order Items')).toThrow(/needs double quotes/);
    expect(() => parseTableSelector('a.b.c.d')).toThrow(/too many dots/);
    expect(() => parseTableSelector('shop."Order')).toThrow(/unclosed double quote/);
    expect(() => parseTableSelector('shop.')).toThrow(FilterError);
  });
});

describe('time filters', () => {
  it.each([
    ['6 months', '6 months'],
    ['1 year', '1 year'],
    ['90 days', '90 days'],
    ['1 days', '1 day'],
    ['30 second', '30 seconds'],
    ['2 weeks', '2 weeks'],
    ['12 hours', '12 hours'],
    ['5 minutes', '5 minutes'],
  ])('reads the window "%s"', (text, interval) => {
    expect(parseWindow(text, 'x')).toBe(interval);
  });
  it('refuses other windows', () => {
    for (const bad of ['six months', '0 days', '3 fortnights', '-1 day', ''])
      expect(() => parseWindow(bad, 'The time filter')).toThrow(FilterError);
  });
  it('splits table:column:window, with quoted names holding colons', () => {
    expect(parseTimeFilter('shop.events:created_at:6 months')).toMatchObject({
      table: { database: 'shop', name: 'events' },
      column: 'created_at',
      window: '6 months',
    });
    expect(parseTimeFilter('shop."a:b":"At":1 day')).toMatchObject({
      table: { name: 'a:b' },
      column: 'At',
      window: '1 day',
    });
    expect(() => parseTimeFilter('shop.events:6 months')).toThrow(/must be table:column:window/);
  });
});

describe('table filters', () => {
  it('splits at the first colon outside quotes; the predicate may hold colons', () => {
    expect(parseTableFilter("shop.orders:placed_at > '2024-01-01 10:00'")).toMatchObject({
      table: { name: 'orders' },
      predicate: "placed_at > '2024-01-01 10:00'",
    });
  });
  it('refuses an empty predicate and statements', () => {
    expect(() => parseTableFilter('shop.orders:')).toThrow(/must be table:predicate/);
    expect(() => parseTableFilter('shop.orders:true; DROP TABLE x')).toThrow(/semicolon/);
    expect(parseTableFilter("shop.orders:note <> 'a;b'").predicate).toBe("note <> 'a;b'");
  });
});

describe('splitOutsideQuotes', () => {
  it('splits lists of names without breaking quoted ones', () => {
    expect(splitOutsideQuotes('a.b,"c,d".e', ',')).toEqual(['a.b', '"c,d".e']);
  });
});
