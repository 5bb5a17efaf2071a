import type pg from 'pg';
import { openClient, openClients } from '../connection/client.ts';
import type { TlsPolicy } from '../connection/tls.ts';
import type { ConnectionSpec } from '../connection/url.ts';
import { quoteLiteral } from '../catalog/ident.ts';
import { copyTask, type CopyResult, type CopyTask } from './copy.ts';

/** One table's copy failed; the message names the table, the cause is the driver's error. */
export class CopyFailed extends Error {
  override name = 'CopyFailed';
}

export interface SnapshotCopyOptions {
  source: ConnectionSpec;
  target: ConnectionSpec;
  tls: TlsPolicy;
  /** The exported snapshot to import; null copies the current data (a resume's unlogged tables). */
  snapshotName: string | null;
  jobs: number;
  tasks: CopyTask[];
  binary: boolean;
  /** Called once every worker has imported the snapshot: the exporting connection may close then. */
  onSnapshotImported: () => Promise<void>;
  onTaskDone: (task: CopyTask, result: CopyResult) => void;
  /** Bytes and rows of a task as they stream (rows: CopyData messages, exact once the task is done). */
  onBytes?: (n: number, task: CopyTask, rows: number) => void;
  onTaskStart?: (task: CopyTask) => void;
  /** Reads that must see the same snapshot (sequence values, large objects), run on the first worker. */
  inSnapshot?: (source: pg.Client, target: pg.Client) => Promise<void>;
}

/** Opens a source session inside the exported snapshot: every worker sees the slot's consistent point. */
async function openSnapshotSession(
  spec: ConnectionSpec,
  tls: TlsPolicy,
  snapshotName: string | null,
): Promise<pg.Client> {
  const client = await openClient(spec, { role: 'source', ...tls });
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    if (snapshotName) await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshotName)}`);
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

async function openTargetSession(spec: ConnectionSpec, tls: TlsPolicy): Promise<pg.Client> {
  const client = await openClient(spec, { role: 'target', ...tls });
  try {
    // The copy commits whole tables at a time; waiting for each WAL flush buys nothing.
    await client.query('SET synchronous_commit = off');
    // Skip user triggers while loading (rows arrive as they are on the source); needs superuser or rds_superuser.
    await client.query("SET session_replication_role = 'replica'").catch(() => undefined);
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

/**
 * Runs the copy tasks on `jobs` parallel workers, each holding one source session in the snapshot
 * and one target session. The first failure stops the others and is rethrown.
 */
export async function copyInSnapshot(options: SnapshotCopyOptions): Promise<void> {
  const workers = Math.max(1, Math.min(options.jobs, Math.max(1, options.tasks.length)));
  const sources: pg.Client[] = [];
  const targets: pg.Client[] = [];
  try {
    sources.push(
      ...(await openClients(
        Array.from({ length: workers }, () => openSnapshotSession(options.source, options.tls, options.snapshotName)),
      )),
    );
    await options.onSnapshotImported();
    targets.push(...(await openClients(sources.map(() => openTargetSession(options.target, options.tls)))));

    if (options.inSnapshot) await options.inSnapshot(sources[0]!, targets[0]!);

    let next = 0;
    let stop = false;
    const run = async (index: number) => {
      while (!stop && next < options.tasks.length) {
        const task = options.tasks[next++]!;
        try {
          options.onTaskStart?.(task);
          const onBytes = options.onBytes;
          const result = await copyTask(
            sources[index]!,
            targets[index]!,
            task,
            options.binary,
            onBytes && ((n, rows) => onBytes(n, task, rows)),
          );
          options.onTaskDone(task, result);
        } catch (error) {
          stop = true;
          throw new CopyFailed(`Copying ${task.table.schema}.${task.table.name} failed: ${(error as Error).message}`, {
            cause: error,
          });
        }
      }
    };
    const results = await Promise.allSettled(sources.map((_, i) => run(i)));
    const firstFailure = results.find((r) => r.status === 'rejected');
    if (firstFailure) throw (firstFailure as PromiseRejectedResult).reason;
    await Promise.all(sources.map((s) => s.query('COMMIT')));
  } finally {
    await Promise.all([...sources, ...targets].map((c) => c.end().catch(() => undefined)));
  }
}
