import type { DatabaseFacts, RelationName } from '../catalog/database.ts';
import type { ServerFacts } from '../catalog/server.ts';

export type CheckStatus = 'pass' | 'warn' | 'fail';

/** One line of the validate report. */
export interface CheckResult {
  /** Stable identifier for scripts (`--json`), e.g. `source-wal-level`. */
  id: string;
  /** What was checked, as a reader would say it. */
  title: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warning or a failure. */
  remedy?: string;
}

/** The facts every check reads; gathered once so each check is a pure function of them. */
export interface ValidationFacts {
  source: ServerFacts;
  target: ServerFacts;
  sourceEndpoint: EndpointIdentity;
  targetEndpoint: EndpointIdentity;
  /** The source databases the replication covers, each read from inside. */
  databases: DatabaseFacts[];
  /** The pg_dump this machine would run, or why there is none. */
  localPgDump: { major: number; version: string; path: string } | { error: string };
}

export interface EndpointIdentity {
  host: string;
  port: number;
  database: string;
  user: string;
}

export type Check = (facts: ValidationFacts) => CheckResult;

export function pass(id: string, title: string, detail: string): CheckResult {
  return { id, title, status: 'pass', detail };
}
export function warn(id: string, title: string, detail: string, remedy: string): CheckResult {
  return { id, title, status: 'warn', detail, remedy };
}
export function fail(id: string, title: string, detail: string, remedy: string): CheckResult {
  return { id, title, status: 'fail', detail, remedy };
}

/** `db: schema.table` names, the first few, then how many more: details stay one readable line. */
export function listRelations(items: { database: string; relation: RelationName }[], max = 5): string {
  const names = items.slice(0, max).map(({ database, relation }) => `${database}: ${relation.schema}.${relation.name}`);
  const more = items.length > max ? ` and ${items.length - max} more` : '';
  return names.join(', ') + more;
}

export function relationsIn(
  databases: DatabaseFacts[],
  pick: (db: DatabaseFacts) => RelationName[],
): { database: string; relation: RelationName }[] {
  return databases.flatMap((db) => pick(db).map((relation) => ({ database: db.name, relation })));
}
