// The job store in one DynamoDB table (the StatusTable of the CDK stack, infra/lib/status-table.ts).
//
//   pk = JOB#<jobId>   sk = JOB                              the job record
//                      sk = STEP#<startedAt>#<step>#<db>      one item per step (names URI-encoded)
//                      sk = VERIFY#<startedAt>#<runId>        one item per verify run
//
// DynamoDB's TTL deletes an item once its `expiresAt` (epoch seconds) has passed. The job item gets
// one only when the job is over for good: cancelled, or cleaned up (`startRetention`); until then its
// slot and subscription may be running, and the record is what names them, so it never expires (a
// SUCCEEDED job replicates for as long as it is not cleaned up, and is never written again). Step and
// verify-run items are history: each expires the retention after it was written. The state rule is
// a ConditionExpression, so a late Lambda retry cannot resurrect a finished job however the writes interleave.
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { z } from 'zod';
import { InvalidJobRecordError, JobExistsError } from './errors.ts';
import {
  ALLOWED_FROM,
  byNewest,
  newJobRecord,
  progressRecord,
  refusal,
  stepRecord,
  stepSortKey,
  transitionFields,
  validate,
  validJobId,
  validLimit,
  verifySortKey,
  reopenRefusal,
} from './rules.ts';
import type { Clock, JobStore } from './store.ts';
import {
  jobPatchSchema,
  jobRecordSchema,
  jobStateSchema,
  newJobSchema,
  stepRecordSchema,
  TERMINAL_STATES,
  transitionExtraSchema,
  verifyRunRecordSchema,
  type DatabaseProgressInput,
  type JobPatch,
  type JobRecord,
  type JobState,
  type ListOptions,
  type NewJob,
  type StepRecord,
  type TransitionExtra,
  type VerifyRunRecord,
} from './types.ts';

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

const JOB_SK = 'JOB';
const STEP_PREFIX = 'STEP#';
const VERIFY_PREFIX = 'VERIFY#';
/** Item attributes that are keys or housekeeping, not part of the record. */
const ITEM_ONLY = ['pk', 'sk', 'expiresAt'];

export interface DynamoDbJobStoreOptions {
  /** Created by the caller (the Lambda handler, the Fargate task or the CLI); never created here. */
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Days after the clean-up (the job item) or its write (steps, verify runs) that an item expires (DynamoDB deletes it up to a few days later). Default 90. */
  retentionDays?: number;
  now?: Clock;
}

const pkOf = (jobId: string) => `JOB#${jobId}`;

const isConditionFailure = (error: unknown) =>
  (error as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException';

function fromItem<S extends z.ZodType>(schema: S, item: Record<string, unknown>): z.output<S> {
  const record = Object.fromEntries(Object.entries(item).filter(([key]) => !ITEM_ONLY.includes(key)));
  const result = schema.safeParse(record);
  if (!result.success) {
    throw new InvalidJobRecordError(
      `The status table item ${String(item.pk)} / ${String(item.sk)} does not hold a valid record; fix or delete that item.`,
    );
  }
  return result.data;
}

/** `SET #a = :a, ...` for top-level record fields (schema names only, so they are safe placeholders). */
function setClauses(fields: Record<string, unknown>, ifNotExists: readonly string[] = []) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const clauses = Object.entries(fields).map(([field, value]) => {
    names[`#${field}`] = field;
    values[`:${field}`] = value;
    return ifNotExists.includes(field) ? `#${field} = if_not_exists(#${field}, :${field})` : `#${field} = :${field}`;
  });
  return { clauses, names, values };
}

/** The job exists and has not finished. */
/** Keeps the job item: a write to an unfinished job clears an expiry an earlier version of the store set. */
const KEEP = 'REMOVE #expiresAt';

const NOT_FINISHED = {
  expression: `attribute_exists(pk) AND NOT #state IN (${TERMINAL_STATES.map((_, i) => `:finished${i}`).join(', ')})`,
  values: Object.fromEntries(TERMINAL_STATES.map((state, i) => [`:finished${i}`, state])),
};

export class DynamoDbJobStore implements JobStore {
  readonly tableName: string;
  readonly retentionDays: number;
  readonly #client: DynamoDBDocumentClient;
  readonly #now: Clock;

  constructor(options: DynamoDbJobStoreOptions) {
    const retentionDays = options.retentionDays ?? DEFAULT_RETENTION_DAYS;
    if (!(retentionDays > 0) || !Number.isFinite(retentionDays)) {
      throw new InvalidJobRecordError(
        `The retention of ${String(retentionDays)} days is invalid; pass a positive number of days, or leave it out for ${DEFAULT_RETENTION_DAYS}.`,
      );
    }
    this.#client = options.client;
    this.tableName = options.tableName;
    this.retentionDays = retentionDays;
    this.#now = options.now ?? (() => new Date());
  }

  /** Epoch seconds at which an item written now expires. */
  expiresAt(now: Date = this.#now()): number {
    return Math.floor(now.getTime() / 1000) + Math.round(this.retentionDays * 86_400);
  }

  async createJob(job: NewJob): Promise<JobRecord> {
    const now = this.#now();
    const record = newJobRecord(validate(newJobSchema, job, 'job'), now.toISOString());
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: pkOf(record.jobId), sk: JOB_SK, ...record },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw new JobExistsError(record.jobId);
      throw error;
    }
    return record;
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: pkOf(validJobId(jobId)), sk: JOB_SK },
        ConsistentRead: true,
      }),
    );
    return Item ? fromItem(jobRecordSchema, Item) : undefined;
  }

  async listJobs(options?: ListOptions): Promise<JobRecord[]> {
    const limit = validLimit(options);
    const jobs: JobRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: 'sk = :job',
          ExpressionAttributeValues: { ':job': JOB_SK },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) jobs.push(fromItem(jobRecordSchema, item));
      start = page.LastEvaluatedKey;
    } while (start);
    return jobs.sort(byNewest).slice(0, limit);
  }

  async updateJob(jobId: string, patch: JobPatch): Promise<JobRecord> {
    validJobId(jobId);
    const now = this.#now();
    const fields = validate(jobPatchSchema, patch, 'job update');
    const set = setClauses({ ...fields, updatedAt: now.toISOString() });
    return this.#update(jobId, undefined, {
      UpdateExpression: `SET ${set.clauses.join(', ')} ${KEEP}`,
      ConditionExpression: NOT_FINISHED.expression,
      ExpressionAttributeNames: { ...set.names, '#state': 'state', '#expiresAt': 'expiresAt' },
      ExpressionAttributeValues: { ...set.values, ...NOT_FINISHED.values },
    });
  }

  async transition(jobId: string, to: JobState, extra: TransitionExtra = {}): Promise<JobRecord> {
    validJobId(jobId);
    const now = this.#now();
    const state = validate(jobStateSchema, to, 'job state');
    const fields = transitionFields(
      undefined,
      state,
      validate(transitionExtraSchema, extra, 'job transition'),
      now.toISOString(),
    );
    // transitionFields cannot see the stored startedAt here: keep the first one.
    // A cancelled job replicates no more: its retention starts. Any other state keeps the item.
    const cancelled = state === 'CANCELLED';
    const set = setClauses({ ...fields, state, ...(cancelled ? { expiresAt: this.expiresAt(now) } : {}) }, [
      'startedAt',
    ]);
    const from = ALLOWED_FROM[state];
    return this.#update(jobId, state, {
      UpdateExpression: `SET ${set.clauses.join(', ')}${cancelled ? '' : ` ${KEEP}`}`,
      ConditionExpression: `attribute_exists(pk) AND #state IN (${from.map((_, i) => `:from${i}`).join(', ')})`,
      ExpressionAttributeNames: { ...set.names, '#expiresAt': 'expiresAt' },
      ExpressionAttributeValues: { ...set.values, ...Object.fromEntries(from.map((s, i) => [`:from${i}`, s])) },
    });
  }

  async reopen(jobId: string, executionArn: string, phase: string): Promise<JobRecord> {
    validJobId(jobId);
    const now = this.#now();
    const fields = validate(transitionExtraSchema, { executionArn, phase }, 'job reopen');
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: pkOf(jobId), sk: JOB_SK },
          ReturnValues: 'ALL_NEW',
          UpdateExpression:
            'SET #state = :running, #phase = :phase, #executionArn = :arn, #updatedAt = :now REMOVE #error, #cause, #endedAt, #expiresAt',
          ConditionExpression:
            'attribute_exists(pk) AND #state = :failed AND (attribute_not_exists(#executionArn) OR #executionArn <> :arn)',
          ExpressionAttributeNames: {
            '#state': 'state',
            '#phase': 'phase',
            '#executionArn': 'executionArn',
            '#updatedAt': 'updatedAt',
            '#expiresAt': 'expiresAt',
            '#error': 'error',
            '#cause': 'cause',
            '#endedAt': 'endedAt',
          },
          ExpressionAttributeValues: {
            ':running': 'RUNNING',
            ':failed': 'FAILED',
            ':phase': fields.phase,
            ':arn': fields.executionArn,
            ':now': now.toISOString(),
          },
        }),
      );
      return fromItem(jobRecordSchema, Attributes ?? {});
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      throw reopenRefusal(jobId, await this.getJob(jobId));
    }
  }

  async updateDatabaseProgress(jobId: string, database: string, progress: DatabaseProgressInput): Promise<JobRecord> {
    validJobId(jobId);
    const now = this.#now();
    const entry = progressRecord(database, progress, now.toISOString());
    // One path inside the map: a concurrent writer for another database is never overwritten.
    return this.#update(jobId, undefined, {
      UpdateExpression: `SET #databases.#database = :progress, #updatedAt = :updatedAt ${KEEP}`,
      ConditionExpression: NOT_FINISHED.expression,
      ExpressionAttributeNames: {
        '#databases': 'databases',
        '#database': database,
        '#updatedAt': 'updatedAt',
        '#expiresAt': 'expiresAt',
        '#state': 'state',
      },
      ExpressionAttributeValues: { ':progress': entry, ':updatedAt': entry.updatedAt, ...NOT_FINISHED.values },
    });
  }

  async startRetention(jobId: string): Promise<void> {
    validJobId(jobId);
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: pkOf(jobId), sk: JOB_SK },
          UpdateExpression: 'SET #expiresAt = :expiresAt',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#expiresAt': 'expiresAt' },
          ExpressionAttributeValues: { ':expiresAt': this.expiresAt() },
        }),
      );
    } catch (error) {
      // No job item (a clean-up of a job never recorded): nothing to expire.
      if (!isConditionFailure(error)) throw error;
    }
  }

  async putStep(step: StepRecord): Promise<StepRecord> {
    const record = stepRecord(validate(stepRecordSchema, step, 'step'));
    await this.#put(record.jobId, stepSortKey(record), record);
    return record;
  }

  async listSteps(jobId: string): Promise<StepRecord[]> {
    return this.#query(jobId, STEP_PREFIX, stepRecordSchema, true);
  }

  async putVerifyRun(run: VerifyRunRecord): Promise<VerifyRunRecord> {
    const record = validate(verifyRunRecordSchema, run, 'verify run');
    await this.#put(record.jobId, verifySortKey(record), record);
    return record;
  }

  async listVerifyRuns(jobId: string, options?: ListOptions): Promise<VerifyRunRecord[]> {
    return this.#query(jobId, VERIFY_PREFIX, verifyRunRecordSchema, false, validLimit(options));
  }

  async #put(jobId: string, sk: string, record: object): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: pkOf(jobId), sk, ...record, expiresAt: this.expiresAt() },
      }),
    );
  }

  /** Runs a conditional update of the job item; a refused condition becomes the matching typed error. */
  async #update(
    jobId: string,
    to: JobState | undefined,
    input: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, unknown>;
    },
  ): Promise<JobRecord> {
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: pkOf(jobId), sk: JOB_SK },
          ReturnValues: 'ALL_NEW',
          ...input,
        }),
      );
      return fromItem(jobRecordSchema, Attributes ?? {});
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // Which rule refused it: read the item as it is now (a finished job never changes again).
      throw refusal(jobId, await this.getJob(jobId), to) ?? error;
    }
  }

  /** Items of one job whose sk starts with `prefix`, in key order (or reversed), at most `limit`. */
  async #query<S extends z.ZodType>(
    jobId: string,
    prefix: string,
    schema: S,
    forward: boolean,
    limit?: number,
  ): Promise<z.output<S>[]> {
    const records: z.output<S>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': pkOf(validJobId(jobId)), ':prefix': prefix },
          ScanIndexForward: forward,
          ConsistentRead: true,
          Limit: limit === undefined ? undefined : limit - records.length,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) records.push(fromItem(schema, item));
      start = page.LastEvaluatedKey;
    } while (start && (limit === undefined || records.length < limit));
    return records;
  }
}
