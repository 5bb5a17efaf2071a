import { qualifiedName, quoteIdent } from '../catalog/ident.ts';
import { assertNotSameDatabase } from '../catalog/identity.ts';
import type { Logger } from '../log/logger.ts';
import { readSequenceValues } from '../catalog/sequences.ts';
import { committedWalEnd } from '../catalog/wal.ts';
import { requireJob, withClients, type JobContext } from './job.ts';
import { refreshMatviews } from './matviews.ts';
import { readSlotStatus } from './status.ts';

export interface CutoverRequest {
  job: JobContext;
  maxLagBytes: number;
  timeoutMs: number;
  readOnlySource: boolean;
  sequenceMargin: number;
  logger: Logger;
}

export interface CutoverResult {
  database: string;
  appliedLsn: string;
  sequences: number;
  materializedViews: string[];
  sourceReadOnly: boolean;
  seconds: number;
}

export class CutoverError extends Error {
  override name = 'CutoverError';
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new CutoverError(
        `Timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what()}; check status, then run cutover again (a longer --timeout helps a busy source).`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * DESIGN.md step 8: wait for the lag to drop, optionally stop writes on the source, wait until the
 * target has applied everything the source wrote, then carry what replication does not: sequences
 * and materialized views.
 */
export async function runCutover(req: CutoverRequest): Promise<CutoverResult[]> {
  const state = requireJob(req.job, 'cutover');
  const results: CutoverResult[] = [];
  for (const db of Object.values(state.databases)) {
    if (!db.subscription) throw new CutoverError(`Database ${db.source} is not streaming yet; run sync first.`);
    const started = performance.now();
    await withClients([req.job.openSource(db.source), req.job.openTarget(db.target)], async (source, target) => {
      await assertNotSameDatabase(source!, target!, 'cutover');
      let slot = await readSlotStatus(source!, db.slot);
      if (!slot.exists)
        throw new CutoverError(
          `The slot ${db.slot} is missing on the source; the target cannot be trusted to be complete: run cleanup and init again.`,
        );
      req.logger.info(`${db.source}: waiting until the lag is under ${req.maxLagBytes} bytes (now ${slot.lagBytes})`);
      await waitFor(
        async () => (slot = await readSlotStatus(source!, db.slot)).lagBytes <= req.maxLagBytes,
        req.timeoutMs,
        () => `the lag of ${db.source} to drop under ${req.maxLagBytes} bytes (it is ${slot.lagBytes})`,
      );

      if (req.readOnlySource) {
        // Proved again right before the source is made read-only: the one step here that acts on the source.
        await assertNotSameDatabase(source!, target!, 'making the source read-only (--read-only-source)');
        // New sessions start read-only; existing client sessions are ended so none keeps writing.
        await source!.query(`ALTER DATABASE ${quoteIdent(db.source)} SET default_transaction_read_only = on`);
        await source!.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
        );
        req.logger.info(`${db.source}: the source database is now read-only for new sessions`);
      }
      const lsn = await committedWalEnd(source!);
      await waitFor(
        async () => {
          const r = await source!.query<{ done: boolean }>(
            'SELECT confirmed_flush_lsn >= $2::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = $1',
            [db.slot, lsn],
          );
          return r.rows[0]?.done === true;
        },
        req.timeoutMs,
        () => `the target to apply ${db.source} up to ${lsn}`,
      );

      // Sequences last, after the writes: the target's next value must be past every value used on the source.
      const values = await readSequenceValues(source!);
      for (const v of values) {
        const next = BigInt(v.lastValue) + BigInt(req.sequenceMargin);
        await target!.query(`SELECT setval($1::regclass, $2::bigint, $3)`, [
          qualifiedName(v.schema, v.name),
          next.toString(),
          v.isCalled || req.sequenceMargin > 0,
        ]);
      }
      const matviews = await refreshMatviews(source!, target!);
      results.push({
        database: db.source,
        appliedLsn: lsn,
        sequences: values.length,
        materializedViews: matviews,
        sourceReadOnly: req.readOnlySource,
        seconds: (performance.now() - started) / 1000,
      });
    });
  }
  return results;
}
