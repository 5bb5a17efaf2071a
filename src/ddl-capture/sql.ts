// The SQL of init --track-ddl: a log table in a schema of the job's own on both sides, an event trigger
// on the source that records into it each schema change of a published table, and on the target a
// trigger on the log's replicated copy that carries the additive changes across.
//
// What is recorded is the table's definition after the change, not the statement. current_query() is
// the whole string the application sent: it may hold several statements, data changes among them
// (replayed, they would apply those rows twice), and it names objects through the application's
// search_path. pg_event_trigger_ddl_commands() says which table a command changed, but its command
// itself (pg_ddl_command) can only be turned back into SQL by a C extension. The definition, read under
// an empty search_path, has every name schema-qualified; the target compares it with its own table and
// derives the statements itself, with the rules src/drift uses (widening.ts, compare.ts). The statement
// text is kept beside it for people reading the log.
import { quoteIdent, quoteLiteral } from '../catalog/ident.ts';

const log = (schema: string) => `${quoteIdent(schema)}.ddl_log`;

/** The log: the same definition on both sides (drift compares it like any published table). */
export function logTableSql(schema: string): string {
  return `
    CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)};
    REVOKE ALL ON SCHEMA ${quoteIdent(schema)} FROM PUBLIC;
    CREATE TABLE IF NOT EXISTS ${log(schema)} (
      id bigserial PRIMARY KEY,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      command_tag text NOT NULL,
      table_schema text NOT NULL,
      table_name text NOT NULL,
      -- 'alter', or 'rename column' (a column kept its place under a new name: only a person can carry that)
      kind text NOT NULL,
      columns jsonb NOT NULL,
      indexes jsonb NOT NULL,
      statement text
    );`;
}

/**
 * The source's event trigger function. It runs inside the application's own DDL transaction: it never
 * fails it (an error is a warning, and the change then shows as drift in status), and it is SECURITY
 * DEFINER so an application role without rights on our schema can still be recorded.
 */
export function captureSql(schema: string, publications: string[]): string {
  const s = quoteIdent(schema);
  return `
    CREATE OR REPLACE FUNCTION ${s}.capture_ddl() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
    DECLARE
      r record;
    BEGIN
      FOR r IN
        WITH cmd AS (
          SELECT c.command_tag, c.object_type,
                 CASE WHEN c.object_type = 'index' THEN (SELECT i.indrelid FROM pg_catalog.pg_index i WHERE i.indexrelid = c.objid) ELSE c.objid END AS rel
            FROM pg_event_trigger_ddl_commands() c
           WHERE c.classid = 'pg_catalog.pg_class'::regclass AND NOT c.in_extension
        )
        SELECT cmd.rel, n.nspname AS schema_name, t.relname AS table_name, min(cmd.command_tag) AS tag,
               -- RENAME COLUMN reports the column itself; every other ALTER TABLE reports the table.
               bool_or(cmd.object_type = 'table column') AS renamed
          FROM cmd JOIN pg_catalog.pg_class t ON t.oid = cmd.rel JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
         -- A partition follows its root, where the target applies the change (ALTER TABLE on a partition alone is refused).
         WHERE t.relkind IN ('r', 'p') AND NOT t.relispartition AND n.nspname <> ${quoteLiteral(schema)}
           AND EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid
                        WHERE p.pubname IN (${publications.map(quoteLiteral).join(', ')})
                          -- A partitioned table is published as itself, or through its leaves (PostgreSQL 12).
                          AND (pr.prrelid = cmd.rel OR pr.prrelid IN (SELECT p.relid FROM pg_partition_tree(cmd.rel) p)))
         GROUP BY cmd.rel, n.nspname, t.relname
      LOOP
        INSERT INTO ${log(schema)} (command_tag, table_schema, table_name, kind, columns, indexes, statement)
        SELECT r.tag, r.schema_name, r.table_name, CASE WHEN r.renamed THEN 'rename column' ELSE 'alter' END,
               (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'notNull', a.attnotnull,
                         'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
                         'generated', CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END,
                         'identity', a.attidentity::text) ORDER BY a.attnum), '[]')
                  FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 WHERE a.attrelid = r.rel AND a.attnum > 0 AND NOT a.attisdropped),
               (SELECT coalesce(jsonb_agg(jsonb_build_object('name', ic.relname, 'definition', pg_get_indexdef(i.indexrelid)) ORDER BY ic.relname), '[]')
                  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                 WHERE i.indrelid = r.rel
                   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)),
               -- The whole string the client sent, which may hold other statements: a password in it is masked.
               regexp_replace(current_query(), $re$(PASSWORD\\s+)('(?:[^']|'')*'|\\$[^$]*\\$)$re$, '\\1***', 'gi');
      END LOOP;
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'database-replicator: this schema change was not recorded for the target (%); status will show it as drift', SQLERRM;
    END $fn$;
    REVOKE ALL ON FUNCTION ${s}.capture_ddl() FROM PUBLIC;`;
}

/** The event trigger: created last, once everything it writes to exists. */
export function eventTriggerSql(schema: string, name: string): string {
  return `CREATE EVENT TRIGGER ${quoteIdent(name)} ON ddl_command_end WHEN TAG IN ('ALTER TABLE', 'CREATE INDEX') EXECUTE FUNCTION ${quoteIdent(schema)}.capture_ddl()`;
}

/**
 * src/drift/widening.ts and compare.ts's isConstantDefault in PL/pgSQL: the target decides alone, inside
 * the apply worker. test/integration/track-ddl.test.ts holds both versions to the same answers.
 */
function rulesSql(schema: string): string {
  const s = quoteIdent(schema);
  return `
    CREATE OR REPLACE FUNCTION ${s}.is_widening(from_type text, to_type text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $fn$
    DECLARE
      ranks constant text[] := ARRAY['smallint', 'integer', 'bigint', 'numeric'];
      a int := array_position(ranks, from_type);
      b int := array_position(ranks, to_type);
      va text[] := regexp_match(from_type, '^(?:text|character varying)(?:\\((\\d+)\\))?$');
      vb text[] := regexp_match(to_type, '^(?:text|character varying)(?:\\((\\d+)\\))?$');
      na text[] := regexp_match(from_type, '^numeric(?:\\((\\d+),(\\d+)\\))?$');
      nb text[] := regexp_match(to_type, '^numeric(?:\\((\\d+),(\\d+)\\))?$');
    BEGIN
      IF from_type = to_type THEN RETURN false; END IF;
      IF a IS NOT NULL AND b IS NOT NULL THEN RETURN a < b; END IF;
      IF from_type = 'real' AND to_type = 'double precision' THEN RETURN true; END IF;
      IF va IS NOT NULL AND vb IS NOT NULL AND NOT (from_type ~ '^text\\(' OR to_type ~ '^text\\(') THEN
        RETURN vb[1] IS NULL OR (va[1] IS NOT NULL AND va[1]::int < vb[1]::int);
      END IF;
      IF na IS NOT NULL AND nb IS NOT NULL THEN
        IF nb[1] IS NULL THEN RETURN true; END IF;
        IF na[1] IS NULL THEN RETURN false; END IF;
        RETURN nb[2]::int >= na[2]::int AND nb[1]::int - nb[2]::int >= na[1]::int - na[2]::int;
      END IF;
      IF a IS NOT NULL AND a < 4 AND nb IS NOT NULL AND nb[1] IS NOT NULL THEN
        RETURN nb[2]::int = 0 AND nb[1]::int >= (ARRAY[5, 10, 19])[a];
      END IF;
      RETURN false;
    END $fn$;
    CREATE OR REPLACE FUNCTION ${s}.is_constant_default(expression text) RETURNS boolean LANGUAGE sql IMMUTABLE SET search_path = '' AS $fn$
      SELECT expression IS NULL
          OR btrim(expression) ~* $re$^(\\(?-?\\d+(\\.\\d+)?\\)?|true|false|NULL|'(?:[^']|'')*')(::[][a-z0-9_ ."()]+)*$$re$
    $fn$;`;
}

/**
 * The target's side: the log, the rules, and the trigger that applies each logged change as the apply
 * worker inserts its row, so before the changes that follow it in the stream. ENABLE ALWAYS: the apply
 * worker runs with session_replication_role = replica, where ordinary triggers stay silent. What it
 * cannot apply is skipped, recorded in ddl_outcome and logged as a warning; the drift section of status
 * then lists it with the statements to run. Each statement runs in its own subtransaction, so one that
 * fails does not stop the ones after it, nor the apply worker.
 */
export function applySql(schema: string): string {
  const s = quoteIdent(schema);
  return `
    ${logTableSql(schema)}
    CREATE TABLE IF NOT EXISTS ${s}.ddl_outcome (
      log_id bigint PRIMARY KEY,
      applied text[] NOT NULL,
      skipped text[] NOT NULL,
      at timestamptz NOT NULL DEFAULT now()
    );
    ${rulesSql(schema)}
    CREATE OR REPLACE FUNCTION ${s}.apply_ddl() RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $fn$
    DECLARE
      tbl text := format('%I.%I', NEW.table_schema, NEW.table_name);
      rel oid := to_regclass(format('%I.%I', NEW.table_schema, NEW.table_name));
      col jsonb;
      idx jsonb;
      cur record;
      name text;
      todo text[] := '{}';
      applied text[] := '{}';
      skipped text[] := '{}';
      stmt text;
    BEGIN
      IF NEW.kind = 'rename column' THEN
        skipped := skipped || format('a column of %s was renamed on the source (%s): rename it on the target by hand', tbl, NEW.statement);
      ELSIF rel IS NULL THEN
        skipped := skipped || format('%s is missing on the target (renamed or moved on the source?): not applied', tbl);
      ELSE
        FOR col IN SELECT value FROM jsonb_array_elements(NEW.columns) LOOP
          name := col->>'name';
          SELECT format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null, a.attidentity::text AS ident, a.attgenerated::text AS gen,
                 CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS def
            INTO cur
            FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
           WHERE a.attrelid = rel AND a.attname = name AND a.attnum > 0 AND NOT a.attisdropped;
          IF NOT FOUND THEN
            IF col->>'generated' IS NOT NULL THEN
              todo := todo || format('ALTER TABLE %s ADD COLUMN %I %s GENERATED ALWAYS AS (%s) STORED', tbl, name, col->>'type', col->>'generated');
            ELSIF col->>'identity' <> '' OR NOT ${s}.is_constant_default(col->>'default') THEN
              skipped := skipped || format('column %s was added to %s on the source with %s, which would give the target''s existing rows other values: add it by hand and copy the values', name, tbl, coalesce('default ' || (col->>'default'), 'an identity'));
            ELSE
              todo := todo || (format('ALTER TABLE %s ADD COLUMN %I %s', tbl, name, col->>'type') || coalesce(' DEFAULT ' || (col->>'default'), '')
                               || CASE WHEN (col->>'notNull')::boolean AND col->>'default' IS NOT NULL THEN ' NOT NULL' ELSE '' END);
              IF (col->>'notNull')::boolean AND col->>'default' IS NULL THEN
                skipped := skipped || format('column %s of %s is NOT NULL without a default on the source: added nullable on the target', name, tbl);
              END IF;
            END IF;
            CONTINUE;
          END IF;
          IF cur.type <> col->>'type' THEN
            IF ${s}.is_widening(cur.type, col->>'type') THEN
              todo := todo || format('ALTER TABLE %s ALTER COLUMN %I TYPE %s', tbl, name, col->>'type');
            ELSE
              skipped := skipped || format('column %s of %s became %s on the source (the target has %s): not a widening, not applied', name, tbl, col->>'type', cur.type);
            END IF;
          END IF;
          IF cur.ident = '' AND col->>'identity' = '' AND cur.gen = '' AND col->>'generated' IS NULL THEN
            IF cur.not_null AND NOT (col->>'notNull')::boolean THEN
              todo := todo || format('ALTER TABLE %s ALTER COLUMN %I DROP NOT NULL', tbl, name);
            ELSIF NOT cur.not_null AND (col->>'notNull')::boolean THEN
              skipped := skipped || format('column %s of %s became NOT NULL on the source: not applied', name, tbl);
            END IF;
            IF cur.def IS DISTINCT FROM col->>'default' THEN
              todo := todo || CASE WHEN col->>'default' IS NULL THEN format('ALTER TABLE %s ALTER COLUMN %I DROP DEFAULT', tbl, name)
                                   ELSE format('ALTER TABLE %s ALTER COLUMN %I SET DEFAULT %s', tbl, name, col->>'default') END;
            END IF;
          END IF;
        END LOOP;
        FOR cur IN SELECT a.attname FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
                      AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(NEW.columns) c WHERE c.value->>'name' = a.attname) LOOP
          skipped := skipped || format('column %s of %s was dropped on the source: not dropped on the target (drop it by hand after checking)', cur.attname, tbl);
        END LOOP;
        FOR idx IN SELECT value FROM jsonb_array_elements(NEW.indexes) LOOP
          IF to_regclass(format('%I.%I', NEW.table_schema, idx->>'name')) IS NULL THEN
            todo := todo || (idx->>'definition');
          END IF;
        END LOOP;
      END IF;
      FOREACH stmt IN ARRAY todo LOOP
        BEGIN
          EXECUTE stmt;
          applied := applied || stmt;
        EXCEPTION WHEN OTHERS THEN
          skipped := skipped || format('%s failed: %s', stmt, SQLERRM);
        END;
      END LOOP;
      IF cardinality(skipped) > 0 THEN
        RAISE WARNING 'database-replicator: schema changes from the source not applied: %', array_to_string(skipped, '; ');
      END IF;
      INSERT INTO ${s}.ddl_outcome (log_id, applied, skipped) VALUES (NEW.id, applied, skipped)
        ON CONFLICT (log_id) DO UPDATE SET applied = EXCLUDED.applied, skipped = EXCLUDED.skipped, at = now();
      RETURN NULL;
    END $fn$;
    REVOKE ALL ON FUNCTION ${s}.apply_ddl() FROM PUBLIC;
    DROP TRIGGER IF EXISTS apply_ddl ON ${log(schema)};
    CREATE TRIGGER apply_ddl AFTER INSERT ON ${log(schema)} FOR EACH ROW EXECUTE FUNCTION ${s}.apply_ddl();
    ALTER TABLE ${log(schema)} ENABLE ALWAYS TRIGGER apply_ddl;`;
}
