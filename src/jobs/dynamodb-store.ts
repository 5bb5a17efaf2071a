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
import { packCheckpoint, unpackCheckpoint, type InitCheckpoint } from './checkpoint.ts';
import {
  checkpointAttribute,
  DEFAULT_RETENTION_DAYS,
  fromItem,
  isConditionFailure,
  JOB_SK,
  KEEP,
  NOT_FINISHED,
  pkOf,
  setClauses,
  setWhileUnfinished,
  STEP_PREFIX,
  VERIFY_PREFIX,
  type UpdateInput,
} from './dynamodb-items.ts';
import { InvalidJobRecordError, JobExistsError } from './errors.ts';
import {
  ALLOWED_FROM,
  byNewest,
  checked,
  refusal,
  stepSortKey,
  transitionFields,
  validJobId,
  validLimit,
  verifySortKey,
  reopenRefusal,
} from './rules.ts';
import type { Clock, JobStore } from './store.ts';
import {
  jobRecordSchema,
  stepRecordSchema,
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

export { DEFAULT_RETENTION_DAYS, JOB_TABLE_SCHEMA } from './dynamodb-items.ts';

export interface DynamoDbJobStoreOptions {
  /** Created by the caller (the Lambda handler, the Fargate task or the CLI); never created here. */
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Days after the clean-up (the job item) or its write (steps, verify runs) that an item expires (DynamoDB deletes it up to a few days later). Default 90. */
  retentionDays?: number;
  now?: Clock;
}

type Key = Record<string, unknown>;

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
    const record = checked.newJob(job, now.toISOString());
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
    const jobs = await this.#pages(jobRecordSchema, (start) =>
      this.#client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: 'sk = :job',
          ExpressionAttributeValues: { ':job': JOB_SK },
          ExclusiveStartKey: start,
        }),
      ),
    );
    return jobs.sort(byNewest).slice(0, limit);
  }

  async updateJob(jobId: string, patch: JobPatch): Promise<JobRecord> {
    const fields = checked.patch(jobId, patch);
    const now = this.#now();
    const set = setClauses({ ...fields, updatedAt: now.toISOString() });
    return this.#update(jobId, undefined, {
      UpdateExpression: `SET ${set.clauses.join(', ')} ${KEEP}`,
      ConditionExpression: NOT_FINISHED.expression,
      ExpressionAttributeNames: { ...set.names, '#state': 'state', '#expiresAt': 'expiresAt' },
      ExpressionAttributeValues: { ...set.values, ...NOT_FINISHED.values },
    });
  }

  async transition(jobId: string, to: JobState, extra: TransitionExtra = {}): Promise<JobRecord> {
    const input = checked.transition(jobId, to, extra);
    const { state } = input;
    const now = this.#now();
    const fields = transitionFields(undefined, state, input.extra, now.toISOString());
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
    const fields = checked.reopen(jobId, executionArn, phase);
    const now = this.#now();
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
    const entry = checked.progress(jobId, database, progress, this.#now().toISOString());
    // One path inside the map: a concurrent writer for another database is never overwritten.
    return this.#update(jobId, undefined, setWhileUnfinished(['databases', database], entry, entry.updatedAt));
  }

  async getCheckpoint(jobId: string, database?: string): Promise<InitCheckpoint | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: pkOf(validJobId(jobId)), sk: JOB_SK },
        ProjectionExpression: '#checkpoint',
        ExpressionAttributeNames: { '#checkpoint': checkpointAttribute(database) },
        ConsistentRead: true,
      }),
    );
    const text: unknown = Item?.[checkpointAttribute(database)];
    return typeof text === 'string' ? unpackCheckpoint(jobId, text) : undefined;
  }

  async saveCheckpoint(jobId: string, checkpoint: InitCheckpoint, database?: string): Promise<void> {
    validJobId(jobId);
    const text = packCheckpoint(jobId, checkpoint);
    const update = setWhileUnfinished([checkpointAttribute(database)], text, this.#now().toISOString());
    await this.#conditional(jobId, undefined, update, 'NONE');
  }

  async removeCheckpoint(jobId: string, database?: string): Promise<void> {
    validJobId(jobId);
    await this.#client
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: pkOf(jobId), sk: JOB_SK },
          UpdateExpression: 'REMOVE #checkpoint',
          ExpressionAttributeNames: { '#checkpoint': checkpointAttribute(database) },
          // No job item: nothing to remove (and none is made).
          ConditionExpression: 'attribute_exists(pk)',
        }),
      )
      .catch((error: unknown) => {
        if (!isConditionFailure(error)) throw error;
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
    const record = checked.step(step);
    await this.#put(record.jobId, stepSortKey(record), record);
    return record;
  }

  async listSteps(jobId: string): Promise<StepRecord[]> {
    return this.#query(jobId, STEP_PREFIX, stepRecordSchema, true);
  }

  async putVerifyRun(run: VerifyRunRecord): Promise<VerifyRunRecord> {
    const record = checked.verifyRun(run);
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

  /** Runs a conditional update of the job item and returns the record as stored. */
  async #update(jobId: string, to: JobState | undefined, input: UpdateInput): Promise<JobRecord> {
    return fromItem(jobRecordSchema, (await this.#conditional(jobId, to, input, 'ALL_NEW')) ?? {});
  }

  /** Runs a conditional update of the job item; a refused condition becomes the matching typed error. */
  async #conditional(
    jobId: string,
    to: JobState | undefined,
    input: UpdateInput,
    returnValues: 'ALL_NEW' | 'NONE',
  ): Promise<Record<string, unknown> | undefined> {
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: pkOf(jobId), sk: JOB_SK },
          ReturnValues: returnValues,
          ...input,
        }),
      );
      return Attributes;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // Which rule refused it: read the item as it is now (a finished job never changes again).
      throw refusal(jobId, await this.getJob(jobId), to) ?? error;
    }
  }

  /** Items of one job whose sk starts with `prefix`, in key order (or reversed), at most `limit`. */
  #query<S extends z.ZodType>(
    jobId: string,
    prefix: string,
    schema: S,
    forward: boolean,
    limit?: number,
  ): Promise<z.output<S>[]> {
    const pk = pkOf(validJobId(jobId));
    const query = (start: Key | undefined, read: number) =>
      this.#client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': pk, ':prefix': prefix },
          ScanIndexForward: forward,
          ConsistentRead: true,
          Limit: limit === undefined ? undefined : limit - read,
          ExclusiveStartKey: start,
        }),
      );
    return this.#pages(schema, query, limit);
  }

  /** The records of every page of a scan or query, read as `schema`; stops once `limit` are read. */
  async #pages<S extends z.ZodType>(
    schema: S,
    page: (start: Key | undefined, read: number) => Promise<{ Items?: Key[]; LastEvaluatedKey?: Key }>,
    limit?: number,
  ): Promise<z.output<S>[]> {
    const records: z.output<S>[] = [];
    let start: Key | undefined;
    do {
      const result = await page(start, records.length);
      for (const item of result.Items ?? []) records.push(fromItem(schema, item));
      start = result.LastEvaluatedKey;
    } while (start && (limit === undefined || records.length < limit));
    return records;
  }
}
