import { qualifiedName, quoteIdent } from '../catalog/ident.ts';
import { columnSql, createTableStatements } from './create-table.ts';
import { tableKey, type ColumnDefinition, type TableDefinition } from './definitions.ts';
import type { DriftFinding, DriftStatement } from './types.ts';
import { isWidening } from './widening.ts';

/**
 * A default every row gets the same value from (a literal, maybe cast), so adding the column on the target
 * fills the existing rows exactly as the source filled its own. A volatile default (nextval, now(),
 * random()) or an identity would give the target's old rows other values than the source's: never automatic.
 */
export function isConstantDefault(expression: string | null): boolean {
  if (expression === null) return true;
  return /^(\(?-?\d+(\.\d+)?\)?|true|false|NULL|'(?:[^']|'')*')(::[a-z0-9_ ."[\]()]+)*$/i.test(expression.trim());
}

const target = (sql: string): DriftStatement => ({ on: 'target', sql });

function addColumn(database: string, table: string, sql: string, c: ColumnDefinition): DriftFinding {
  // ADD COLUMN ... NOT NULL without a default fails on a non-empty table: add it nullable; the NOT NULL is then listed.
  const column = c.notNull && c.default === null && c.generated === null && !c.identity ? { ...c, notNull: false } : c;
  const exact = c.generated !== null || (!c.identity && isConstantDefault(c.default));
  return {
    database,
    table,
    kind: 'column added',
    column: c.name,
    message: `column ${c.name} was added to ${table} on the source; the target lacks it${exact ? '' : ` (its ${c.identity ? 'identity' : `default ${c.default}`} would give the target's existing rows other values than the source's: add it by hand and copy the values)`}`,
    statements: [target(`ALTER TABLE ${sql} ADD COLUMN ${columnSql(column)}`)],
    additive: exact,
    blocksReplication: true,
  };
}

function compareColumn(
  database: string,
  table: string,
  sql: string,
  s: ColumnDefinition,
  t: ColumnDefinition,
): DriftFinding[] {
  const out: DriftFinding[] = [];
  const col = quoteIdent(s.name);
  const base = { database, table, column: s.name };
  if (s.type !== t.type) {
    const widened = isWidening(t.type, s.type);
    const narrowed = isWidening(s.type, t.type);
    out.push({
      ...base,
      kind: widened ? 'type widened' : 'type changed',
      message: `column ${s.name} of ${table} is ${s.type} on the source but ${t.type} on the target (${widened ? 'widened on the source' : narrowed ? 'narrowed on the source: the target still accepts every value' : 'changed on the source: check the conversion'})`,
      statements: [
        target(
          `ALTER TABLE ${sql} ALTER COLUMN ${col} TYPE ${s.type}${widened || narrowed ? '' : ` USING ${col}::${s.type}`}`,
        ),
      ],
      additive: widened,
      blocksReplication: !narrowed,
    });
  }
  if (!s.identity && !t.identity && s.notNull !== t.notNull) {
    out.push(
      s.notNull
        ? {
            ...base,
            kind: 'nullability',
            message: `column ${s.name} of ${table} is NOT NULL on the source but nullable on the target`,
            statements: [target(`ALTER TABLE ${sql} ALTER COLUMN ${col} SET NOT NULL`)],
            additive: false,
            blocksReplication: false,
          }
        : {
            ...base,
            kind: 'nullability',
            message: `column ${s.name} of ${table} became nullable on the source; the target's NOT NULL rejects rows without it`,
            statements: [target(`ALTER TABLE ${sql} ALTER COLUMN ${col} DROP NOT NULL`)],
            additive: true,
            blocksReplication: true,
          },
    );
  }
  if (!s.identity && !t.identity && s.generated === null && t.generated === null && s.default !== t.default) {
    out.push({
      ...base,
      kind: 'default',
      message: `column ${s.name} of ${table} defaults to ${s.default ?? 'nothing'} on the source but ${t.default ?? 'nothing'} on the target (it matters after cutover)`,
      statements: [
        target(
          s.default === null
            ? `ALTER TABLE ${sql} ALTER COLUMN ${col} DROP DEFAULT`
            : `ALTER TABLE ${sql} ALTER COLUMN ${col} SET DEFAULT ${s.default}`,
        ),
      ],
      additive: true,
      blocksReplication: false,
    });
  }
  return out;
}

/** The differences of one table published on the source and present on the target. */
export function compareTable(database: string, s: TableDefinition, t: TableDefinition): DriftFinding[] {
  const table = tableKey(s);
  const sql = qualifiedName(s.schema, s.name);
  const out: DriftFinding[] = [];
  const added = s.columns.filter((c) => !t.columns.some((x) => x.name === c.name));
  const dropped = t.columns.filter((c) => !s.columns.some((x) => x.name === c.name));
  // One column gone and one of the same type new in the same table: most likely a rename, which only a person can tell.
  if (added.length === 1 && dropped.length === 1 && added[0]!.type === dropped[0]!.type) {
    const [a, d] = [added[0]!, dropped[0]!];
    out.push({
      database,
      table,
      kind: 'column renamed',
      column: a.name,
      message: `column ${d.name} of ${table} was renamed to ${a.name} on the source, or dropped while ${a.name} was added: the target has ${d.name} and lacks ${a.name}`,
      statements: [target(`ALTER TABLE ${sql} RENAME COLUMN ${quoteIdent(d.name)} TO ${quoteIdent(a.name)}`)],
      additive: false,
      blocksReplication: true,
    });
  } else {
    for (const c of added) out.push(addColumn(database, table, sql, c));
    for (const c of dropped) {
      // The source no longer sends the column: a NOT NULL without default on the target rejects each new row.
      const blocks = c.notNull && c.default === null && c.generated === null && !c.identity;
      out.push({
        database,
        table,
        kind: 'column dropped',
        column: c.name,
        message: `column ${c.name} of ${table} was dropped on the source (the target still has it${blocks ? ', NOT NULL without a default, so it rejects every row the source inserts' : ''})`,
        statements: [
          ...(blocks ? [target(`ALTER TABLE ${sql} ALTER COLUMN ${quoteIdent(c.name)} DROP NOT NULL`)] : []),
          target(`ALTER TABLE ${sql} DROP COLUMN ${quoteIdent(c.name)}`),
        ],
        additive: false,
        blocksReplication: blocks,
      });
    }
  }
  for (const c of s.columns) {
    const other = t.columns.find((x) => x.name === c.name);
    if (other) out.push(...compareColumn(database, table, sql, c, other));
  }
  const [sk, tk] = [s.primaryKey?.columns.join(', ') ?? null, t.primaryKey?.columns.join(', ') ?? null];
  if (sk !== null && sk !== tk) {
    const keyList = s.primaryKey!.columns.map(quoteIdent).join(', ');
    out.push({
      database,
      table,
      kind: 'primary key',
      message: `the primary key of ${table} is (${sk}) on the source but ${tk === null ? 'missing' : `(${tk})`} on the target`,
      statements: [
        ...(t.primaryKey ? [target(`ALTER TABLE ${sql} DROP CONSTRAINT ${quoteIdent(t.primaryKey.name)}`)] : []),
        target(`ALTER TABLE ${sql} ADD PRIMARY KEY (${keyList})`),
      ],
      additive: t.primaryKey === null,
      blocksReplication: false,
    });
  }
  for (const i of s.indexes) {
    const same = t.indexes.find((x) => x.name === i.name);
    if (same?.definition === i.definition) continue;
    out.push({
      database,
      table,
      kind: 'index missing',
      message: same
        ? `index ${i.name} of ${table} is defined differently on the target`
        : `index ${i.name} was created on ${table} on the source; the target lacks it`,
      statements: [...(same ? [target(`DROP INDEX ${qualifiedName(s.schema, i.name)}`)] : []), target(i.definition)],
      additive: !same,
      blocksReplication: false,
    });
  }
  return out;
}

/** A table created on the source after init: created on the target, then added to the publication and the subscription. */
export function tableAdded(
  database: string,
  s: TableDefinition,
  publication: string,
  subscription: string,
): DriftFinding {
  const table = tableKey(s);
  const create = createTableStatements(s);
  return {
    database,
    table,
    kind: 'table added',
    message: `table ${table} was created on the source after init; it is not replicated${create ? '' : ' (partitioned: create it and its partitions on the target with pg_dump --schema-only --table, then run the other statements)'}`,
    statements: [
      ...(create ?? []).map(target),
      {
        on: 'source',
        sql: `ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${qualifiedName(s.schema, s.name)}`,
      },
      // copy_data applies only to tables new to the subscription: the others are not copied again.
      target(`ALTER SUBSCRIPTION ${quoteIdent(subscription)} REFRESH PUBLICATION WITH (copy_data = true)`),
    ],
    additive: create !== null,
    blocksReplication: false,
  };
}

/** A published table the target lacks: every change to it fails the apply worker. */
export function tableMissing(database: string, s: TableDefinition): DriftFinding {
  const create = createTableStatements(s);
  return {
    database,
    table: tableKey(s),
    kind: 'table missing',
    message: `table ${tableKey(s)} is replicated but missing on the target (dropped there?): create it, then copy its rows from the source (cleanup and init again is the safe way)`,
    statements: (create ?? []).map(target),
    additive: false,
    blocksReplication: true,
  };
}
