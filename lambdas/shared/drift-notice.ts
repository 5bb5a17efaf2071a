import { z } from 'zod';
import { isTerminal, JobAlreadyFinishedError, JobNotFoundError, type JobStore } from '../../src/jobs/index.ts';
import { jobIdSchema } from './events.ts';

// The replicate workflow's record of schema drift (record-job action `drift`): the database entry of the
// job keeps the lines the last replication check found, and the workflow publishes the returned message
// to the alarm topic when there is drift to tell. It runs only when the drift changed, so one drift is
// told once however long the wait loop polls.

export const driftEventSchema = z.object({
  action: z.literal('drift'),
  jobId: jobIdSchema,
  database: z.string().min(1).max(63),
  /** Lines of check-replication's `drift`: each difference with the statements that fix it. */
  drift: z.array(z.string().max(1000)).max(20),
  reason: z.string().max(4000).optional(),
});
export type DriftEvent = z.infer<typeof driftEventSchema>;

export interface DriftNotice {
  /** Publish `message` to the alarm topic: there is drift, and it is new. */
  notify: boolean;
  subject: string;
  message: string;
}

export async function recordDrift(event: DriftEvent, store: JobStore): Promise<DriftNotice> {
  const subject = `database-replicator: schema drift in job ${event.jobId}`.slice(0, 99);
  const message = [
    `Schema drift in job ${event.jobId}, database ${event.database}: the source's tables changed since init, and logical replication does not carry DDL.`,
    ...(event.reason ? [`Replication: ${event.reason}`] : []),
    ...event.drift.map((line) => `- ${line}`),
    'Apply the additive changes with: database-replicator sync --apply-ddl (or start the replicate workflow again with "applyDdl": true in its plan); run the others by hand after checking them.',
  ].join('\n');
  const job = await store.getJob(event.jobId);
  const entry = job?.databases[event.database];
  const unchanged = JSON.stringify(entry?.drift ?? []) === JSON.stringify(event.drift);
  if (job && entry && !isTerminal(job.state) && !unchanged) {
    const { updatedAt: _updatedAt, ...progress } = entry;
    try {
      await store.updateDatabaseProgress(event.jobId, event.database, { ...progress, drift: event.drift });
    } catch (error) {
      // The job finished or vanished between the read and the write: the notice still goes out.
      if (!(error instanceof JobAlreadyFinishedError || error instanceof JobNotFoundError)) throw error;
    }
  }
  return { notify: event.drift.length > 0, subject, message };
}
