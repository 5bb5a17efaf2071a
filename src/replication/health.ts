import { readServerFacts } from '../catalog/server.ts';
import { requireJob, withClients, type JobContext } from './job.ts';
import { judge, readSlotStatus, readSubscriptionStatus, type DatabaseStatus } from './status.ts';

/** Reads the replication health of every database of the job, on both sides. */
export async function collectStatus(job: JobContext): Promise<DatabaseStatus[]> {
  const state = requireJob(job, 'status');
  const out: DatabaseStatus[] = [];
  for (const db of Object.values(state.databases)) {
    const status = await withClients([job.openSource(db.source), job.openTarget(db.target)], async (source, target) => {
      const major = (await readServerFacts(target!)).major;
      const slot = await readSlotStatus(source!, db.slot);
      const subscription = await readSubscriptionStatus(target!, db.subscription ?? db.slot, major);
      return { database: db.source, target: db.target, slot, subscription, ...judge(slot, subscription, Boolean(db.subscription)), names: { slot: db.slot, subscription: db.subscription ?? db.slot } };
    });
    if (!db.done && status.verdict !== 'broken') Object.assign(status, { verdict: 'initializing', reason: 'init has not finished; run it again to resume' });
    out.push(status);
  }
  return out;
}
