// The items of the DynamoDB job store (dynamodb-store.ts): keys, conditions and update clauses.
import type { z } from 'zod';
import { InvalidJobRecordError } from './errors.ts';
import { TERMINAL_STATES } from './types.ts';

/**
 * The table this store expects; the CDK StatusTable must match. No index is needed: listJobs scans
 * with a filter on sk = 'JOB', which reads every item. With many jobs (or long step histories) add a
 * GSI (e.g. gsi1: partition 'JOB', sort createdAt) and query it instead.
 */
export const JOB_TABLE_SCHEMA = {
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  timeToLiveAttribute: 'expiresAt',
  globalSecondaryIndexes: [],
} as const;

export const DEFAULT_RETENTION_DAYS = 90;

export const JOB_SK = 'JOB';
export const STEP_PREFIX = 'STEP#';
export const VERIFY_PREFIX = 'VERIFY#';
/** Item attributes that are keys or housekeeping, not part of the record. */
const ITEM_ONLY = ['pk', 'sk', 'expiresAt'];

const CHECKPOINT = 'checkpoint';

/** The job item's attribute holding init's checkpoint (packed, see checkpoint.ts): of the whole job, or of one database. */
export function checkpointAttribute(database?: string): string {
  return database === undefined ? CHECKPOINT : `${CHECKPOINT}#${database}`;
}

export const pkOf = (jobId: string) => `JOB#${jobId}`;

export const isConditionFailure = (error: unknown) =>
  (error as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException';

export function fromItem<S extends z.ZodType>(schema: S, item: Record<string, unknown>): z.output<S> {
  const record = Object.fromEntries(
    Object.entries(item).filter(([key]) => !ITEM_ONLY.includes(key) && !key.startsWith(CHECKPOINT)),
  );
  const result = schema.safeParse(record);
  if (!result.success) {
    throw new InvalidJobRecordError(
      `The status table item ${String(item.pk)} / ${String(item.sk)} does not hold a valid record; fix or delete that item.`,
    );
  }
  return result.data;
}

/** `SET #a = :a, ...` for top-level record fields (schema names only, so they are safe placeholders). */
export function setClauses(fields: Record<string, unknown>, ifNotExists: readonly string[] = []) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const clauses = Object.entries(fields).map(([field, value]) => {
    names[`#${field}`] = field;
    values[`:${field}`] = value;
    return ifNotExists.includes(field) ? `#${field} = if_not_exists(#${field}, :${field})` : `#${field} = :${field}`;
  });
  return { clauses, names, values };
}

/** Keeps the job item: a write to an unfinished job clears an expiry an earlier version of the store set. */
export const KEEP = 'REMOVE #expiresAt';

/** The job exists and has not finished. */
export const NOT_FINISHED = {
  expression: `attribute_exists(pk) AND NOT #state IN (${TERMINAL_STATES.map((_, i) => `:finished${i}`).join(', ')})`,
  values: Object.fromEntries(TERMINAL_STATES.map((state, i) => [`:finished${i}`, state])),
};

export interface UpdateInput {
  UpdateExpression: string;
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Record<string, unknown>;
}

/**
 * Sets one attribute of an unfinished job's item (`path`: its name, or a map's name and key: only that
 * key changes, so concurrent writers of other keys are never overwritten) and stamps updatedAt.
 */
export function setWhileUnfinished(path: readonly string[], value: unknown, updatedAt: string): UpdateInput {
  const names = Object.fromEntries(path.map((name, i) => [`#p${i}`, name]));
  return {
    UpdateExpression: `SET ${Object.keys(names).join('.')} = :value, #updatedAt = :updatedAt ${KEEP}`,
    ConditionExpression: NOT_FINISHED.expression,
    ExpressionAttributeNames: { ...names, '#updatedAt': 'updatedAt', '#expiresAt': 'expiresAt', '#state': 'state' },
    ExpressionAttributeValues: { ':value': value, ':updatedAt': updatedAt, ...NOT_FINISHED.values },
  };
}
