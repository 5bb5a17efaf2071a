import type { DatabaseFacts, RelationName } from '../catalog/database.ts';
import { type Check, listRelations, pass, relationsIn, warn } from './types.ts';

// What logical replication does not carry, or carries only with care. Each is a warning, never a
// failure: the tool handles it, and the user should know how.

export const checkLargeObjects: Check = ({ databases }) => {
  const title = 'Large objects';
  const withLobs = databases.filter((db) => db.largeObjects > 0);
  if (withLobs.length === 0) return pass('large-objects', title, 'None.');
  return warn(
    'large-objects',
    title,
    `${withLobs.map((db) => `${db.name}: ${db.largeObjects}`).join(', ')} large object(s); logical replication does not carry them.`,
    'init copies them in the snapshot; changes made after it are not replicated, so re-run the copy of large objects at cut-over or move them into bytea columns.',
  );
};

type Found = ReturnType<typeof relationsIn>;

/** A caveat about some kind of relation: it passes where no database has one, else warns, naming them. */
function relationCaveat(
  id: string,
  title: string,
  pick: (db: DatabaseFacts) => RelationName[],
  detail: (found: Found) => string,
  remedy: string,
): Check {
  return ({ databases }) => {
    const found = relationsIn(databases, pick);
    return found.length === 0 ? pass(id, title, 'None.') : warn(id, title, detail(found), remedy);
  };
}

export const checkUnloggedTables = relationCaveat(
  'unlogged-tables',
  'Unlogged tables',
  (db) => db.tables.filter((t) => t.unlogged),
  (unlogged) => `${listRelations(unlogged)}: unlogged tables write no WAL, so their changes are not replicated.`,
  'init copies their rows in the snapshot only; run ALTER TABLE ... SET LOGGED on the source if their later changes must reach the target.',
);

export const checkSequences = relationCaveat(
  'sequences',
  'Sequences',
  (db) => db.sequences,
  (sequences) =>
    `${sequences.length} sequence(s), e.g. ${listRelations(sequences, 3)}; logical replication does not advance sequences on the target.`,
  'cutover copies every sequence value from the source (with --sequence-margin for headroom); run it before writing to the target.',
);

export const checkPartitionedTables = relationCaveat(
  'partitioned-tables',
  'Partitioned tables',
  (db) => db.tables.filter((t) => t.kind === 'partitioned'),
  (parents) =>
    `${listRelations(parents)}: published through the root (publish_via_partition_root), so the target may partition differently.`,
  'Keep the same partitions on the target, or at least a default partition; partitions added later on the source must be added on the target too (DDL is not replicated).',
);

export const checkGeneratedColumns = relationCaveat(
  'generated-columns',
  'Generated columns',
  (db) => db.tables.filter((t) => t.generatedColumns.length > 0),
  (tables) => `${listRelations(tables)}: generated columns are computed on the target, not copied.`,
  'Nothing to do if the target keeps the same generation expressions; init leaves them out of the copy.',
);

export const checkMaterializedViews = relationCaveat(
  'materialized-views',
  'Materialized views',
  (db) => db.materializedViews,
  (views) => `${listRelations(views)}: materialized views are not replicated.`,
  'cutover refreshes them on the target; refresh them yourself if you read them before.',
);

/**
 * With REPLICA IDENTITY FULL and no usable index, the target's apply worker finds the row an UPDATE or
 * DELETE changes by comparing whole rows, and stops with "could not identify an equality operator"
 * on a json, xml or geometric column. Inserts are fine, so an append-only table is safe.
 */
export const checkFullIdentityComparable: Check = ({ databases }) => {
  const title = 'Full-row identity comparable';
  const tables = databases.flatMap((db) =>
    db.tables
      .filter((t) => t.replicaIdentity === 'full' && t.uncomparableColumns.length > 0)
      .map((t) => ({ database: db.name, relation: t })),
  );
  if (tables.length === 0) return pass('full-identity-comparable', title, 'None affected.');
  const columns = tables
    .map(
      ({ database, relation }) =>
        `${database}: ${relation.schema}.${relation.name} (${relation.uncomparableColumns.join(', ')})`,
    )
    .join(', ');
  return warn(
    'full-identity-comparable',
    title,
    `${columns}: REPLICA IDENTITY FULL with columns PostgreSQL cannot compare, so an UPDATE or DELETE on these tables stops replication on the target (inserts are fine).`,
    'Keep these tables append-only, or give them a primary key (or a unique index with REPLICA IDENTITY USING INDEX), or change json to jsonb.',
  );
};
