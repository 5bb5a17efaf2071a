/** Where a statement of a fix runs: the target (most), or the source (its publication). */
export type Side = 'source' | 'target';

export interface DriftStatement {
  on: Side;
  sql: string;
}

export type DriftKind =
  | 'column added'
  | 'column dropped'
  | 'column renamed'
  | 'type widened'
  | 'type changed'
  | 'nullability'
  | 'default'
  | 'primary key'
  | 'index missing'
  | 'table added'
  | 'table missing';

/** One difference between the source and the target definitions of a replicated table, with its fix. */
export interface DriftFinding {
  database: string;
  /** schema.table as on the source. */
  table: string;
  kind: DriftKind;
  column?: string;
  /** One sentence: what changed where, e.g. "column y was added to public.x on the source; the target lacks it". */
  message: string;
  /** The statements that fix it, in order. */
  statements: DriftStatement[];
  /** Additive and unambiguous: `sync --apply-ddl` runs the statements. Otherwise they are only listed. */
  additive: boolean;
  /** The apply worker fails on the next change of the table (or already does) until this is fixed. */
  blocksReplication: boolean;
}

/** One line per finding: the sentence and the statements, for logs, job records and notifications. */
export function describeFinding(f: DriftFinding): string {
  const sql = f.statements.map((s) => `${s.on === 'source' ? '[on the source] ' : ''}${s.sql};`).join(' ');
  return `${f.message}${sql ? ` - ${f.additive ? 'sync --apply-ddl runs' : 'run by hand after checking'}: ${sql}` : ''}`;
}
