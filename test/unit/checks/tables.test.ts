import { describe, expect, it } from 'vitest';
import {
  checkExcludedReferencedTables,
  checkExtensionsAvailable,
  checkReplicaIdentity,
  checkSelectPrivileges,
  checkTableOwnership,
} from '../../../src/checks/tables.ts';
import { checkTargetPrivileges } from '../../../src/checks/target.ts';
import { database, facts, server, table } from './facts.ts';

describe('checkSelectPrivileges', () => {
  it('passes when every table and sequence is readable', () => {
    expect(checkSelectPrivileges(facts()).status).toBe('pass');
  });
  it('lists what is missing with the GRANT statements to run', () => {
    const db = database({
      tables: [table({ schema: 'sales', name: 'Order Items', selectable: false }), table()],
      sequences: [{ schema: 'sales', name: 'order_seq', selectable: false }],
      schemasWithoutUsage: ['sales'],
    });
    const result = checkSelectPrivileges(
      facts({ databases: [db], source: server({}, { name: 'repl', superuser: false }) }),
    );
    expect(result.status).toBe('fail');
    expect(result.detail).toContain('shop: sales.Order Items');
    expect(result.detail).toContain('shop: sales.order_seq');
    expect(result.remedy).toContain('GRANT USAGE ON SCHEMA "sales" TO "repl";');
    expect(result.remedy).toContain('GRANT SELECT ON "sales"."Order Items" TO "repl";');
  });
});

describe('checkReplicaIdentity', () => {
  it('fails for a partitioned root without a replica identity, not for its sub-partitioned children', () => {
    const root = table({ name: 'events', kind: 'partitioned', hasPrimaryKey: false });
    const child = table({ name: 'events_2026', kind: 'partitioned', isPartition: true, hasPrimaryKey: false });
    const leaf = table({
      name: 'events_2026_01',
      kind: 'partition',
      isPartition: true,
      hasPrimaryKey: false,
      replicaIdentity: 'full',
    });
    const result = checkReplicaIdentity(facts({ databases: [database({ tables: [root, child, leaf] })] }));
    expect(result.status).toBe('fail');
    expect(result.detail).toMatch(/^The partitioned shop: public\.events has no replica identity .*apply worker/);
    expect(result.detail).not.toContain('events_2026');
    expect(result.remedy).toContain('ALTER TABLE "public"."events" REPLICA IDENTITY FULL;');
    const fixed = checkReplicaIdentity(
      facts({ databases: [database({ tables: [{ ...root, replicaIdentity: 'full' }, child, leaf] })] }),
    );
    expect(fixed.status).toBe('pass');
  });
  it('passes for tables with a primary key or an explicit identity', () => {
    const db = database({
      tables: [
        table(),
        table({ name: 'log', hasPrimaryKey: false, replicaIdentity: 'full' }),
        table({ name: 'u', hasPrimaryKey: false, replicaIdentity: 'index' }),
      ],
    });
    expect(checkReplicaIdentity(facts({ databases: [db] })).status).toBe('pass');
  });
  it('names tables without primary key and suggests USING INDEX when a candidate exists, else FULL', () => {
    const db = database({
      tables: [
        table({ name: 'events', hasPrimaryKey: false }),
        table({ name: 'codes', hasPrimaryKey: false, identityIndexCandidate: 'codes_code_key' }),
        table({ name: 'muted', replicaIdentity: 'nothing' }),
      ],
    });
    const result = checkReplicaIdentity(facts({ databases: [db] }));
    expect(result.status).toBe('fail');
    expect(result.detail).toContain('shop: public.events');
    expect(result.detail).toContain('shop: public.muted');
    expect(result.remedy).toContain('ALTER TABLE "public"."events" REPLICA IDENTITY FULL;');
    expect(result.remedy).toContain('ALTER TABLE "public"."codes" REPLICA IDENTITY USING INDEX "codes_code_key";');
    expect(result.remedy).toContain('ALTER TABLE "public"."muted" REPLICA IDENTITY FULL;');
  });
  it('ignores sub-partitioned parents and unlogged tables (neither is published row by row)', () => {
    const db = database({
      tables: [
        table({ kind: 'partitioned', isPartition: true, hasPrimaryKey: false }),
        table({ unlogged: true, hasPrimaryKey: false }),
      ],
    });
    expect(checkReplicaIdentity(facts({ databases: [db] })).status).toBe('pass');
  });
});

describe('checkExtensionsAvailable', () => {
  it('fails naming an extension the target cannot install', () => {
    const db = database({
      extensions: [
        { name: 'citext', version: '1.6' },
        { name: 'postgis', version: '3.4' },
      ],
    });
    const result = checkExtensionsAvailable(facts({ databases: [db] }));
    expect(result.status).toBe('fail');
    expect(result.detail).toContain('postgis (used in shop)');
    expect(result.detail).not.toContain('citext');
  });
  it('passes when all are available', () => {
    const db = database({ extensions: [{ name: 'citext', version: '1.6' }] });
    expect(checkExtensionsAvailable(facts({ databases: [db] }))).toMatchObject({ status: 'pass', detail: 'citext' });
  });
});

describe('checkTargetPrivileges', () => {
  it('passes for a superuser and for an RDS master user (CREATEDB + rds_superuser)', () => {
    expect(checkTargetPrivileges(facts()).status).toBe('pass');
    const rds = server({ isRds: true }, { superuser: false, createdb: true, memberOf: ['rds_superuser'] });
    expect(checkTargetPrivileges(facts({ target: rds })).status).toBe('pass');
  });
  it('accepts pg_create_subscription only from PostgreSQL 16 on', () => {
    const role = { superuser: false, createdb: true, memberOf: ['pg_create_subscription'] };
    expect(
      checkTargetPrivileges(facts({ target: server({ major: 16, version: '16.4', versionNum: 160004 }, role) })).status,
    ).toBe('pass');
    const old = checkTargetPrivileges(facts({ target: server({}, role) }));
    expect(old.status).toBe('fail');
    expect(old.detail).toContain('superuser');
  });
  it('names CREATEDB and the subscription privilege when missing', () => {
    const result = checkTargetPrivileges(
      facts({
        target: server({ major: 16, version: '16.4', versionNum: 160004 }, { name: 'loader', superuser: false }),
      }),
    );
    expect(result.status).toBe('fail');
    expect(result.remedy).toContain('ALTER ROLE "loader" CREATEDB;');
    expect(result.remedy).toContain('GRANT pg_create_subscription TO "loader";');
  });
});

describe('checkTableOwnership', () => {
  it('passes for a superuser and for tables the role owns', () => {
    expect(checkTableOwnership(facts({ databases: [database({ tables: [table({ owned: false })] })] })).status).toBe(
      'pass',
    );
    expect(checkTableOwnership(facts({ source: server({}, { superuser: false }) })).status).toBe('pass');
  });
  it('fails for a replicated table of another owner, with the GRANT that fixes it', () => {
    const f = facts({
      source: server({}, { superuser: false, name: 'migrator' }),
      databases: [database({ tables: [table({ name: 'orders', owned: false, owner: 'app owner' })] })],
    });
    const result = checkTableOwnership(f);
    expect(result.status).toBe('fail');
    expect(result.detail).toBe('migrator does not own shop: public.orders, so it cannot add it to a publication.');
    expect(result.remedy).toContain('GRANT "app owner" TO "migrator";');
  });
  it('ignores schema-only tables and partitions (published through their root)', () => {
    const f = facts({
      source: server({}, { superuser: false }),
      databases: [
        database({
          tables: [table({ owned: false, published: false }), table({ name: 'p1', kind: 'partition', owned: false })],
        }),
      ],
    });
    expect(checkTableOwnership(f).status).toBe('pass');
  });
});

describe('checkExcludedReferencedTables', () => {
  const key = (referencesTableWithoutData: boolean) => ({
    name: 'orders_customer_fk',
    table: { schema: 'public', name: 'orders' },
    references: { schema: 'public', name: 'customers' },
    referencesTableWithoutData,
  });
  it('passes when every referenced table copies data', () => {
    expect(checkExcludedReferencedTables(facts({ databases: [database({ foreignKeys: [key(false)] })] })).status).toBe(
      'pass',
    );
  });
  it('fails naming the foreign key, both tables and the ways out', () => {
    const result = checkExcludedReferencedTables(facts({ databases: [database({ foreignKeys: [key(true)] })] }));
    expect(result.status).toBe('fail');
    expect(result.detail).toContain('shop: orders_customer_fk of public.orders references public.customers');
    expect(result.remedy).toMatch(/exclude the referencing tables/);
  });
});
