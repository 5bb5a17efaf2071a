import { qualifiedName, quoteIdent } from '../catalog/ident.ts';
import type { TableFacts } from '../catalog/database.ts';
import { type Check, fail, listRelations, pass, relationsIn } from './types.ts';

export const checkSelectPrivileges: Check = ({ source, databases }) => {
  const title = 'SELECT privileges';
  const tables = relationsIn(databases, (db) => [
    ...db.tables.filter((t) => t.kind !== 'partitioned' && !t.selectable),
    ...db.sequences.filter((s) => !s.selectable),
  ]);
  const schemas = databases.flatMap((db) => db.schemasWithoutUsage.map((schema) => ({ database: db.name, schema })));
  if (tables.length === 0 && schemas.length === 0) {
    const count = databases.reduce((n, db) => n + db.tables.length + db.sequences.length, 0);
    return pass('source-select-privileges', title, `SELECT granted on all ${count} tables and sequences.`);
  }
  const user = quoteIdent(source.role.name);
  const grants = new Map<string, string[]>();
  const add = (database: string, statement: string) =>
    grants.set(database, [...(grants.get(database) ?? []), statement]);
  for (const { database, schema } of schemas) add(database, `GRANT USAGE ON SCHEMA ${quoteIdent(schema)} TO ${user};`);
  for (const { database, relation } of tables)
    add(database, `GRANT SELECT ON ${qualifiedName(relation.schema, relation.name)} TO ${user};`);
  const remedy = [...grants]
    .map(([db, statements]) => `In database ${db}, as the owner: ${statements.join(' ')}`)
    .join(' ');
  const missing = [
    tables.length ? `no SELECT on ${listRelations(tables)}` : '',
    schemas.length ? `no USAGE on schema ${schemas.map((s) => `${s.database}: ${s.schema}`).join(', ')}` : '',
  ].filter(Boolean);
  return fail('source-select-privileges', title, `${source.role.name} has ${missing.join('; ')}.`, remedy);
};

/**
 * Once a table is in a publication, PostgreSQL rejects UPDATE and DELETE on it unless it has a
 * replica identity: without one, the source application would start failing. A partitioned root is
 * published in its leaves' stead (publish_via_partition_root), so the changes carry the root's replica
 * identity: without one the source keeps working, but the target's apply worker fails on every
 * UPDATE or DELETE ("publisher did not send replica identity column") and retries forever.
 */
export const checkReplicaIdentity: Check = ({ databases }) => {
  const title = 'Replica identity';
  const lacksIdentity = (t: TableFacts) =>
    t.replicaIdentity === 'nothing' || (t.replicaIdentity === 'default' && !t.hasPrimaryKey);
  const published = (t: TableFacts) => !t.unlogged && t.published !== false;
  const broken = databases.flatMap((db) =>
    db.tables
      .filter((t) => published(t) && lacksIdentity(t) && (t.kind !== 'partitioned' || !t.isPartition))
      .map((t) => ({ database: db.name, relation: t, table: t })),
  );
  if (broken.length === 0)
    return pass('replica-identity', title, 'Every table has a primary key or a replica identity.');
  const statements = broken.map(({ database, table }) => {
    const name = qualifiedName(table.schema, table.name);
    const using =
      table.identityIndexCandidate && table.kind !== 'partitioned'
        ? `USING INDEX ${quoteIdent(table.identityIndexCandidate)}`
        : 'FULL';
    return `${database}: ALTER TABLE ${name} REPLICA IDENTITY ${using};`;
  });
  const roots = broken.filter(({ table }) => table.kind === 'partitioned');
  const leaves = broken.filter(({ table }) => table.kind !== 'partitioned');
  const why = leaves.map(({ table }) =>
    table.replicaIdentity === 'nothing' ? 'REPLICA IDENTITY NOTHING' : 'no primary key',
  );
  const details = [
    ...(leaves.length
      ? [
          `${listRelations(leaves, 10)} ${leaves.length === 1 ? 'has' : 'have'} ${[...new Set(why)].join(' or ')}, so UPDATE and DELETE on ${leaves.length === 1 ? 'it' : 'them'} would fail on the source once published.`,
        ]
      : []),
    ...(roots.length
      ? [
          `The partitioned ${listRelations(roots, 10)} ${roots.length === 1 ? 'has' : 'have'} no replica identity of ${roots.length === 1 ? 'its' : 'their'} own, and changes are published through the root, so the target could not apply UPDATE or DELETE of ${roots.length === 1 ? 'its' : 'their'} partitions (its apply worker would fail and retry forever).`,
        ]
      : []),
  ];
  return fail(
    'replica-identity',
    title,
    details.join(' '),
    `Add a primary key, or run ${statements.join(' ')} (USING INDEX needs a unique index on NOT NULL columns; FULL sends whole old rows and makes the target scan on UPDATE/DELETE without an index).`,
  );
};

/**
 * Post-data adds every foreign key on the target. One from a table that copies data to a table that
 * copies none (excluded or schema-only) fails there, after the whole copy: refused before any work.
 */
export const checkExcludedReferencedTables: Check = ({ databases }) => {
  const title = 'Foreign keys to tables not copied';
  const broken = databases.flatMap((db) =>
    db.foreignKeys.filter((k) => k.referencesTableWithoutData).map((k) => ({ database: db.name, key: k })),
  );
  if (broken.length === 0)
    return pass(
      'excluded-referenced-tables',
      title,
      'No copied table references a table the plan leaves without data.',
    );
  const shown = broken
    .slice(0, 5)
    .map(
      ({ database, key }) =>
        `${database}: ${key.name} of ${key.table.schema}.${key.table.name} references ${key.references.schema}.${key.references.name}`,
    );
  const more = broken.length > 5 ? ` and ${broken.length - 5} more` : '';
  return fail(
    'excluded-referenced-tables',
    title,
    `The foreign key ${shown.join(', ')}${more}, which the plan copies no data for (excluded or schema-only), so adding ${broken.length === 1 ? 'it' : 'them'} on the target would fail after the whole copy.`,
    'Copy the referenced tables too, exclude the referencing tables as well, or drop those foreign keys on the source first.',
  );
};

export const checkExtensionsAvailable: Check = ({ databases, target }) => {
  const title = 'Extensions on the target';
  const used = new Map<string, string[]>();
  for (const db of databases)
    for (const ext of db.extensions) used.set(ext.name, [...(used.get(ext.name) ?? []), db.name]);
  const missing = [...used.keys()].filter((name) => !target.availableExtensions.has(name));
  if (missing.length) {
    return fail(
      'target-extensions',
      title,
      `Not available on the target: ${missing.map((m) => `${m} (used in ${used.get(m)!.join(', ')})`).join(', ')}.`,
      `Install the extension packages on the target server (on RDS, choose a version that supports them; see SELECT * FROM pg_available_extensions), or drop the extensions from the source if unused.`,
    );
  }
  return pass(
    'target-extensions',
    title,
    used.size ? `${[...used.keys()].sort().join(', ')}` : 'No extensions besides plpgsql.',
  );
};

/**
 * init names each replicated table in CREATE PUBLICATION, which PostgreSQL allows only to the table's
 * owner (or a member of the owning role, or a superuser): found here, not after the plan was shown.
 */
export const checkTableOwnership: Check = ({ source, databases }) => {
  const title = 'Table ownership';
  if (source.role.superuser) return pass('source-table-ownership', title, `${source.role.name} is a superuser.`);
  const foreign = databases.flatMap((db) =>
    db.tables
      .filter((t) => t.kind !== 'partition' && !t.unlogged && t.published !== false && !t.owned)
      .map((t) => ({ database: db.name, relation: t, owner: t.owner })),
  );
  if (foreign.length === 0)
    return pass(
      'source-table-ownership',
      title,
      `${source.role.name} owns (or is a member of the owner of) every replicated table.`,
    );
  const owners = [...new Set(foreign.map((f) => f.owner))];
  return fail(
    'source-table-ownership',
    title,
    `${source.role.name} does not own ${listRelations(foreign)}, so it cannot add ${foreign.length === 1 ? 'it' : 'them'} to a publication.`,
    `Run ${owners.map((o) => `GRANT ${quoteIdent(o)} TO ${quoteIdent(source.role.name)};`).join(' ')} as ${source.isRds ? 'the RDS master user' : 'a superuser'} (membership of the owning role is enough), or connect as the owner.`,
  );
};
