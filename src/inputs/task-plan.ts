// The plan of a workflow job (the CLI's filters and options): what the replicate workflow's execution
// input carries, what remote mode builds and what the Fargate task reads from PLAN. One schema for all three.
import { z } from 'zod';
import type { FilterOptions } from '../plan/plan.ts';

/** PLAN travels as an ECS container override, whose overrides are limited to 8 KiB in all. */
export const MAX_PLAN_CHARS = 4096;

const names = z.array(z.string().min(1));
const whole = (min: number) => z.number().int().min(min);

/** The CLI's filters (FilterOptions): the same strings as the flags. */
export const filterKeys = {
  includeDatabases: names.optional(),
  excludeDatabases: names.optional(),
  includeTables: names.optional(),
  excludeTables: names.optional(),
  schemaOnlyTables: names.optional(),
  timeFilters: names.optional(),
  tableFilters: names.optional(),
};
export const FILTER_KEYS = Object.keys(filterKeys) as (keyof FilterOptions)[];

/** The filters alone, as a Lambda event carries them. */
export const filtersSchema = z.strictObject(filterKeys);

/**
 * PLAN: the filters, under `filters` (as the workflow's execution input has them) or at the top level,
 * plus the options of each subcommand.
 */
export const planSchema = z.strictObject({
  filters: z.strictObject(filterKeys).optional(),
  ...filterKeys,
  /** Parallel copy workers and verify session pairs (JOBS overrides it). */
  jobs: whole(1).max(64).optional(),
  /** Tables bigger than this are copied as several page ranges at once (default 1 GiB). */
  splitTablesLargerThanBytes: whole(0).optional(),
  /** Drop and recreate a target database that already holds the planned tables (default false). */
  dropExisting: z.boolean().optional(),
  /** Copy roles with pg_dumpall --globals-only (default false: parallel tasks would race on them). */
  copyRoles: z.boolean().optional(),
  /** Encrypt but accept any server certificate. */
  allowSelfSignedCerts: z.boolean().optional(),
  /**
   * A CA file on the target server (a path there) for the subscription to check the source's
   * certificate with; without it the subscription encrypts but checks none (sslmode=require).
   */
  subscriptionSslRootCert: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[^'\\\s]+$/, 'must be a file path without quotes, backslashes or spaces')
    .optional(),
  /** The size estimate's option (estimate-size Lambda); the task ignores it. */
  calibrate: z.boolean().optional(),
  /**
   * subscribe first applies the source's additive schema changes to the target (sync --apply-ddl): start
   * the replicate workflow again with it when the replication check reported schema drift.
   */
  applyDdl: z.boolean().optional(),
  /**
   * The snapshot task sets up init --track-ddl: schema changes on the source are recorded by an event
   * trigger (the source user must be a superuser or rds_superuser) and applied on the target in stream order.
   */
  trackDdl: z.boolean().optional(),
  cutover: z
    .strictObject({
      maxLagBytes: whole(0).optional(),
      timeoutSeconds: whole(1).optional(),
      readOnlySource: z.boolean().optional(),
      sequenceMargin: whole(0).optional(),
    })
    .optional(),
  verify: z
    .strictObject({
      maxDiffs: whole(1).optional(),
      rowsPerChunk: whole(1).optional(),
      recheckTimeoutSeconds: whole(1).optional(),
    })
    .optional(),
});
export type TaskPlan = z.infer<typeof planSchema>;
