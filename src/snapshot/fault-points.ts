/**
 * Named points between init's steps where a test can stop the process as a crash would
 * (DATABASE_REPLICATOR_FAULT_POINT=<name>): every rerun from such a point must finish the job
 * correctly. Unset, this does nothing.
 */
export function faultPoint(name: string): void {
  if (process.env.DATABASE_REPLICATOR_FAULT_POINT === name) process.kill(process.pid, 'SIGKILL');
}
