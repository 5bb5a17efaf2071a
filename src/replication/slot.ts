import type pg from 'pg';
import { quoteIdent } from '../catalog/ident.ts';
import { openClient, type OpenClientOptions } from '../connection/client.ts';
import type { ConnectionSpec } from '../connection/url.ts';

/** A new logical slot and the snapshot exported with it; `release` ends the exporting connection. */
export interface SlotWithSnapshot {
  slot: string;
  consistentPoint: string;
  snapshotName: string;
  release(): Promise<void>;
}

/**
 * Creates the slot on a replication connection with an exported snapshot. The snapshot is exactly
 * the slot's consistent point: data copied under it plus changes streamed from the slot neither miss
 * nor repeat a transaction. The snapshot lives only while this connection stays idle and open, so the
 * caller keeps it until every copy worker has imported it. (pg_create_logical_replication_slot()
 * followed by pg_export_snapshot() does not line up and loses changes.)
 */
export async function createSlotWithSnapshot(
  spec: ConnectionSpec,
  options: Omit<OpenClientOptions, 'replication'>,
  slot: string,
  major: number,
): Promise<SlotWithSnapshot> {
  const client = await openClient(spec, { ...options, replication: true });
  try {
    const command =
      major >= 15
        ? `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput (SNAPSHOT 'export')`
        : `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput EXPORT_SNAPSHOT`;
    const result = await client.query<{ consistent_point: string; snapshot_name: string }>(command);
    const row = result.rows[0]!;
    let released = false;
    return {
      slot,
      consistentPoint: row.consistent_point,
      snapshotName: row.snapshot_name,
      release: async () => {
        if (released) return;
        released = true;
        await client.end().catch(() => undefined);
      },
    };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

export async function slotExists(client: pg.Client, slot: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  return (rowCount ?? 0) > 0;
}

/** Drops the slot if it exists and no one is using it (idempotent). */
export async function dropSlot(client: pg.Client, slot: string): Promise<void> {
  await client.query(
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
    [slot],
  );
}
