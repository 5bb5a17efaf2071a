import { readServerFacts } from '../catalog/server.ts';
import { detectDrift, explainWithDrift } from '../drift/detect.ts';
import { runningInit } from '../jobs/init-lock.ts';
import { requireJob, withClients, type JobContext } from './job.ts';
import { judge, readSlotStatus, readSubscriptionStatus, type DatabaseStatus } from './status.ts';

/** Reads the replication health of every database of the job, on both sides. */
export async function collectStatus(job: JobContext): Promise<DatabaseStatus[]> {
  const state = requireJob(job, 'status');
  const out: DatabaseStatus[] = [];
  for (const db of Object.values(state.databases)) {
    const status: DatabaseStatus = await withClients(
      [job.openSource(db.source), job.openTarget(db.target)],
      async (source, target) => {
        const major = (await readServerFacts(target!)).major;
        const slot = await readSlotStatus(source!, db.slot);
        const subscription = await readSubscriptionStatus(target!, db.subscription ?? db.slot, major);
        const judged = judge(slot, subscription, Boolean(db.subscription));
        // Before init is done the target's tables are still being made: nothing to compare yet.
        const drift = db.done
          ? await detectDrift(source!, target!, {
              database: db.source,
              subscription: db.subscription ?? db.slot,
              publication: db.publication,
            })
          : [];
        const reason = explainWithDrift(judged, slot.exists && slot.walStatus !== 'lost' && subscription.exists, drift);
        const initRunning = !db.done && Boolean(await runningInit(source!, job.jobId));
        return {
          database: db.source,
          target: db.target,
          slot,
          subscription,
          ...judged,
          reason,
          drift,
          names: { slot: db.slot, subscription: db.subscription ?? db.slot },
          initRunning,
        };
      },
    );
    if (!db.done) {
      // While init copies, its slot holds WAL by design; an init that stopped leaves it to grow.
      status.initUnfinished = true;
      if (status.verdict !== 'broken') {
        Object.assign(
          status,
          status.initRunning
            ? {
                verdict: 'initializing',
                reason: 'init is copying; its slot holds WAL until the copy streams',
                diskRisk: false,
              }
            : { verdict: 'initializing', reason: 'init has not finished and is not running; run it again to resume' },
        );
      }
    }
    out.push(status);
  }
  return out;
}
