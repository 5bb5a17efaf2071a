import { describe, expect, it } from 'vitest';
import { compareTable, isConstantDefault } from '../../../src/drift/compare.ts';
import type { ColumnDefinition, TableDefinition } from '../../../src/drift/definitions.ts';
import { explainWithDrift } from '../../../src/drift/detect.ts';
import { isWidening } from '../../../src/drift/widening.ts';

const col = (name: string, type: string, extra: Partial<ColumnDefinition> = {}): ColumnDefinition => ({
  name,
  type,
  notNull: false,
  default: null,
  identity: '',
  generated: null,
  ...extra,
});
const table = (columns: ColumnDefinition[], extra: Partial<TableDefinition> = {}): TableDefinition => ({
  schema: 'app',
  name: 'x',
  kind: 'r',
  columns,
  primaryKey: { name: 'x_pkey', columns: ['id'] },
  indexes: [],
  constraints: [],
  ownedSequences: [],
  ...extra,
});
const id = col('id', 'integer', { notNull: true });

describe('isWidening', () => {
  it.each([
    ['integer', 'bigint', true],
    ['smallint', 'integer', true],
    ['bigint', 'integer', false],
    ['integer', 'numeric', true],
    ['character varying(10)', 'character varying(20)', true],
    ['character varying(20)', 'character varying(10)', false],
    ['character varying(10)', 'text', true],
    ['text', 'character varying(10)', false],
    ['numeric(10,2)', 'numeric(12,2)', true],
    ['numeric(10,2)', 'numeric(10,3)', false],
    ['real', 'double precision', true],
    ['integer', 'text', false],
    ['integer', 'numeric(12,0)', true],
    ['timestamp without time zone', 'timestamp with time zone', false],
  ])('%s -> %s: %s', (from, to, expected) => expect(isWidening(from, to)).toBe(expected));
});

describe('isConstantDefault', () => {
  it.each([
    ['7', true],
    ["'x'::text", true],
    ["'{}'::jsonb", true],
    ['true', true],
    ['(-1)', true],
    ['now()', false],
    ["nextval('app.s'::regclass)", false],
    ['random()', false],
  ])('%s: %s', (expression, expected) => expect(isConstantDefault(expression)).toBe(expected));
});

describe('compareTable', () => {
  it('a new column with a constant default is additive and blocks replication', () => {
    const [f] = compareTable('shop', table([id, col('c', 'integer', { default: '7' })]), table([id]));
    expect(f).toMatchObject({
      kind: 'column added',
      additive: true,
      blocksReplication: true,
      message: 'column c was added to app.x on the source; the target lacks it',
      statements: [{ on: 'target', sql: 'ALTER TABLE "app"."x" ADD COLUMN "c" integer DEFAULT 7' }],
    });
  });

  it('a new NOT NULL column without default is added nullable; a volatile default is left to a person', () => {
    expect(
      compareTable('shop', table([id, col('c', 'text', { notNull: true })]), table([id]))[0]!.statements[0]!.sql,
    ).toBe('ALTER TABLE "app"."x" ADD COLUMN "c" text');
    const [volatile] = compareTable(
      'shop',
      table([id, col('at', 'timestamp with time zone', { default: 'now()' })]),
      table([id]),
    );
    expect(volatile).toMatchObject({ additive: false });
    expect(volatile!.message).toContain("would give the target's existing rows other values");
  });

  it('one column gone and one of the same type new is a rename, never applied', () => {
    const found = compareTable('shop', table([id, col('label', 'text')]), table([id, col('title', 'text')]));
    expect(found).toEqual([
      expect.objectContaining({
        kind: 'column renamed',
        additive: false,
        statements: [{ on: 'target', sql: 'ALTER TABLE "app"."x" RENAME COLUMN "title" TO "label"' }],
      }),
    ]);
  });

  it('types: widened on the source is applied, narrowed is listed and does not block', () => {
    expect(compareTable('shop', table([id, col('n', 'bigint')]), table([id, col('n', 'integer')]))[0]).toMatchObject({
      kind: 'type widened',
      additive: true,
      statements: [{ sql: 'ALTER TABLE "app"."x" ALTER COLUMN "n" TYPE bigint' }],
    });
    expect(compareTable('shop', table([id, col('n', 'integer')]), table([id, col('n', 'bigint')]))[0]).toMatchObject({
      kind: 'type changed',
      additive: false,
      blocksReplication: false,
    });
    expect(
      compareTable('shop', table([id, col('n', 'text')]), table([id, col('n', 'integer')]))[0]!.statements[0]!.sql,
    ).toBe('ALTER TABLE "app"."x" ALTER COLUMN "n" TYPE text USING "n"::text');
  });

  it('nullability, defaults, primary keys and indexes', () => {
    const found = compareTable(
      'shop',
      table([id, col('a', 'text'), col('b', 'text', { default: "'z'::text" })], {
        indexes: [{ name: 'x_a', definition: 'CREATE INDEX x_a ON app.x USING btree (a)' }],
      }),
      table([id, col('a', 'text', { notNull: true }), col('b', 'text')], { primaryKey: null }),
    );
    expect(found.map((f) => [f.kind, f.additive, f.statements.map((s) => s.sql).join('; ')])).toEqual([
      ['nullability', true, 'ALTER TABLE "app"."x" ALTER COLUMN "a" DROP NOT NULL'],
      ['default', true, `ALTER TABLE "app"."x" ALTER COLUMN "b" SET DEFAULT 'z'::text`],
      ['primary key', true, 'ALTER TABLE "app"."x" ADD PRIMARY KEY ("id")'],
      ['index missing', true, 'CREATE INDEX x_a ON app.x USING btree (a)'],
    ]);
  });
});

describe('explainWithDrift', () => {
  const added = compareTable('shop', table([id, col('c', 'integer', { default: '7' })]), table([id]));
  it('a broken replication that drift explains says so, with the way out', () => {
    expect(explainWithDrift({ verdict: 'broken', reason: 'the apply worker keeps failing' }, true, added)).toBe(
      'schema drift stops replication: column c was added to app.x on the source; the target lacks it; run sync --apply-ddl to fix it',
    );
  });
  it('a missing slot is not drift', () => {
    expect(explainWithDrift({ verdict: 'broken', reason: 'the replication slot is missing' }, false, added)).toBe(
      'the replication slot is missing',
    );
  });
});
