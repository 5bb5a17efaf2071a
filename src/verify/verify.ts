import type pg from 'pg';
import { openClients } from '../connection/client.ts';
import { readServerFacts } from '../catalog/server.ts';
import type { Logger } from '../log/logger.ts';
import type { DatabasePlan, FilterOptions, TablePlan } from '../plan/plan.ts';
import type { JobContext } from '../replication/job.ts';
import { readSequenceValues } from '../catalog/sequences.ts';
import { planJob } from '../plan/job-plan.ts';
import { chooseRowHashMethod, useCanonicalSession } from './canonical.ts';
import { compareSchemas, readSchema } from './schema.ts';
import { detectDrift } from '../drift/detect.ts';
import type { DriftFinding } from '../drift/types.ts';
import { compareMatview, readMatviews, type MatviewResult } from './matviews.ts';
import { liveRecheck, settleKeyed, settleKeyless, type Working } from './live-recheck.ts';
import { chunkRanges, sameSummary, summarizeBoth, type RowDiff, type Sides, type TableToVerify } from './table.ts';

export interface VerifyRequest {
  job: JobContext;
  filters: FilterOptions;
  jobs: number;
  maxDiffs: number;
  rowsPerChunk: number;
  /** How long a live re-check waits for the target to apply the source's LSN. */
  recheckTimeoutMs: number;
  logger: Logger;
}

/**
 * 'unconfirmed': a table without a primary key that changed during every live re-check, or a keyed table
 * whose only suspect rows kept changing on the source while they were re-checked (hot rows).
 */
export type TableStatus = 'ok' | 'different' | 'schema only' | 'unconfirmed';

export interface TableResult {
  database: string;
  table: string;
  status: TableStatus;
  rows: number;
  seconds: number;
  chunks: number;
  diffs: RowDiff[];
  /** Rows still changing on the source during the last live re-check: neither equal nor different. */
  unconfirmedRows?: RowDiff[];
  note?: string;
}

export interface DatabaseVerifyResult {
  database: string;
  target: string;
  tables: TableResult[];
  /** Compared apart from the tables: they are not replicated, and init and cutover fill them. */
  materializedViews: MatviewResult[];
  schemaDiffs: string[];
  /** Schema drift of the replicated tables with the statements that fix it (src/drift); needs init's job. */
  drift: DriftFinding[];
  sequencesBehind: string[];
  rechecked: boolean;
  /** A re-check waited --recheck-timeout for the target to catch up, in vain: replication is not keeping up. */
  replicationStalled: boolean;
}

export interface VerifyReport {
  ok: boolean;
  databases: DatabaseVerifyResult[];
}

async function openPairs(job: JobContext, plan: DatabasePlan, count: number): Promise<Sides[]> {
  const pairs: Sides[] = [];
  try {
    for (let i = 0; i < count; i++) {
      // Both or neither: a source session opened beside an unreachable target would keep the process alive.
      const [source, target] = (await openClients([job.openSource(plan.source), job.openTarget(plan.target)])) as [
        pg.Client,
        pg.Client,
      ];
      pairs.push({ source, target });
      await Promise.all([useCanonicalSession(source), useCanonicalSession(target)]);
    }
    return pairs;
  } catch (error) {
    await closePairs(pairs);
    throw error;
  }
}

async function closePairs(pairs: Sides[]): Promise<void> {
  await Promise.all(
    pairs.flatMap((p) => [p.source.end().catch(() => undefined), p.target.end().catch(() => undefined)]),
  );
}

/** Runs `work` over `items` on the session pairs, one item per pair at a time. */
async function onPairs<T, R>(pairs: Sides[], items: T[], work: (sides: Sides, item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    pairs.map(async (sides) => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(sides, items[index]!);
      }
    }),
  );
  return results;
}

function tableToVerify(
  table: TablePlan,
  sourceColumns: Map<string, string> | undefined,
  targetColumns: Map<string, string> | undefined,
): TableToVerify {
  const common = [...(sourceColumns?.keys() ?? [])].filter((c) => targetColumns?.has(c));
  return {
    schema: table.schema,
    name: table.name,
    columns: common,
    primaryKey: table.primaryKey.map((name) => ({ name, type: sourceColumns?.get(name) ?? 'text' })),
    where: table.where,
    hashMethod: 'text',
  };
}

/** Whether a drift finding covers one of compareSchemas' sentences (same table and column, table, or index). */
function explains(f: DriftFinding, diff: string): boolean {
  if (
    f.column !== undefined &&
    (diff.includes(`${f.table}.${f.column} `) || (f.kind === 'column renamed' && diff.startsWith(`column ${f.table}.`)))
  )
    return true;
  if (f.kind === 'column dropped' && diff.includes(`${f.table}.${f.column} exists only`)) return true;
  if (f.kind === 'table missing' && diff === `table ${f.table} is missing on the target`) return true;
  if (f.kind === 'index missing')
    return diff.startsWith(
      `index ${f.table.split('.')[0]}.${/^CREATE (?:UNIQUE )?INDEX (\S+)/.exec(f.statements.at(-1)!.sql)?.[1] ?? ''}`,
    );
  return f.kind === 'primary key' && diff.startsWith(`constraint ${f.table}.`) && diff.includes('PRIMARY KEY');
}

/** Compares every planned table of every database, chunk by chunk, and narrows differences down to keys. */
export async function runVerify(req: VerifyRequest): Promise<VerifyReport> {
  const { job } = req;
  const state = job.state;
  const filters = state?.filters ?? req.filters;
  const admin = await job.openSource(job.source.database);
  let plans: DatabasePlan[];
  try {
    const facts = await readServerFacts(admin);
    ({ databases: plans } = await planJob(
      admin,
      job.openSource,
      { source: job.source, target: job.target },
      filters,
      facts.major,
      state?.timeFilters,
    ));
  } finally {
    await admin.end().catch(() => undefined);
  }
  const report: VerifyReport = { ok: true, databases: [] };
  for (const plan of plans) {
    const dbState = state?.databases[plan.source];
    const pairs = await openPairs(job, plan, Math.max(1, req.jobs));
    try {
      const first = pairs[0]!;
      const [sourceSchema, targetSchema] = await Promise.all([readSchema(first.source), readSchema(first.target)]);
      const planned = new Set(plan.tables.filter((t) => t.mode !== 'excluded').map((t) => `${t.schema}.${t.name}`));
      const drift = dbState?.done
        ? await detectDrift(first.source, first.target, {
            database: plan.source,
            subscription: dbState.subscription ?? dbState.slot,
            publication: dbState.publication,
            tables: plan.publication,
          })
        : [];
      // What drift names with its fix is not repeated among the plain schema differences.
      const schemaDiffs = compareSchemas(sourceSchema, targetSchema, planned).filter(
        (d) => !drift.some((f) => explains(f, d)),
      );
      const streaming =
        Boolean(dbState?.subscription) &&
        ((
          await first.target.query('SELECT 1 FROM pg_subscription WHERE subname = $1 AND subenabled', [
            dbState!.subscription,
          ])
        ).rowCount ?? 0) > 0;

      const tables = plan.tables.filter((t) => t.mode !== 'excluded');
      const results: Working[] = tables.map((table) => {
        const key = `${table.schema}.${table.name}`;
        const verify = tableToVerify(table, sourceSchema.columns.get(key), targetSchema.columns.get(key));
        const base: Working = {
          database: plan.source,
          table: key,
          status: 'ok',
          rows: 0,
          seconds: 0,
          chunks: 0,
          diffs: [],
          mismatched: [],
          verify,
          started: performance.now(),
        };
        if (table.mode === 'schema-only') return { ...base, status: 'schema only', note: 'existence and columns only' };
        if (!targetSchema.columns.has(key)) return { ...base, status: 'different', note: 'missing on the target' };
        return base;
      });
      // Every chunk of every table is one work item, so big tables spread over all --jobs session pairs.
      const toCompare = results.filter((r) => r.status === 'ok');
      const [sourceMajor, targetMajor] = await Promise.all([
        readServerFacts(first.source),
        readServerFacts(first.target),
      ]).then((f) => f.map((x) => x.major));
      for (const r of toCompare) {
        r.verify.hashMethod = await chooseRowHashMethod(
          first.source,
          r.verify.schema,
          r.verify.name,
          r.verify.columns,
          sourceMajor === targetMajor && sourceMajor! >= 14,
        );
      }
      const rangesPerTable = await onPairs(pairs, toCompare, (sides, r) =>
        chunkRanges(
          sides,
          r.verify,
          req.rowsPerChunk,
          tables.find((t) => `${t.schema}.${t.name}` === r.table)!.estimatedRows,
        ),
      );
      const items = toCompare.flatMap((r, i) => rangesPerTable[i]!.map((range) => ({ r, range })));
      for (const [i, r] of toCompare.entries()) r.chunks = rangesPerTable[i]!.length;
      await onPairs(pairs, items, async (sides, { r, range }) => {
        const [s, t] = await summarizeBoth(sides, r.verify, r.verify.primaryKey.length ? range : null);
        r.rows += s.rows;
        if (!sameSummary(s, t)) {
          r.mismatched.push(range);
          r.status = 'different';
        }
        r.seconds = (performance.now() - r.started) / 1000;
      });

      // A live replica trails the source. Chunks without a key are re-summarized after the target catches
      // up; keyed chunks are narrowed to suspect rows, which are re-checked row by row.
      const live = liveRecheck(first.source, streaming, dbState?.slot, req);
      const rechecked = streaming && results.some((r) => r.mismatched.length > 0);
      for (const r of results.filter((x) => x.mismatched.length)) {
        if (r.verify.primaryKey.length) await settleKeyed(first, r, live);
        else await settleKeyless(first, r, live);
      }
      const stalled = live.stalled();

      const [sourceMatviews, targetMatviews] = await Promise.all([
        readMatviews(first.source),
        readMatviews(first.target),
      ]);
      const matviewOptions = {
        database: plan.source,
        sameMajorAtLeast14: sourceMajor === targetMajor && sourceMajor! >= 14,
        streaming,
      };
      const materializedViews = await onPairs(pairs, [...sourceMatviews.entries()], (sides, [name, m]) =>
        compareMatview(sides, m, targetMatviews.get(name), matviewOptions),
      );

      const sequencesBehind: string[] = [];
      const [sourceSeq, targetSeq] = await Promise.all([
        readSequenceValues(first.source),
        readSequenceValues(first.target),
      ]);
      for (const s of sourceSeq) {
        const t = targetSeq.find((x) => x.schema === s.schema && x.name === s.name);
        if (!t || BigInt(t.lastValue) < BigInt(s.lastValue))
          sequencesBehind.push(`${s.schema}.${s.name} (source ${s.lastValue}, target ${t?.lastValue ?? 'missing'})`);
      }
      const tablesOut: TableResult[] = results.map(({ mismatched: _m, verify: _v, started: _s, ...r }) => r);
      if (
        schemaDiffs.length ||
        drift.length ||
        stalled ||
        tablesOut.some((t) => t.status === 'different') ||
        materializedViews.some((m) => m.status === 'different')
      )
        report.ok = false;
      report.databases.push({
        database: plan.source,
        target: plan.target,
        tables: tablesOut,
        materializedViews,
        schemaDiffs,
        drift,
        sequencesBehind,
        rechecked,
        replicationStalled: stalled,
      });
    } finally {
      await closePairs(pairs);
    }
  }
  return report;
}
