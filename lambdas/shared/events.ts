import { z } from 'zod';
import { endpointSchema, secretArnSchema } from '../../src/inputs/schemas.ts';

// Pieces of the events the functions take. Events carry identifiers and secret ARNs only.

export const jobIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,80}$/, 'must be 1 to 80 letters, digits, _ or -');


/** The replication plan's filters, the same strings the CLI flags take. */
export const filtersSchema = z
  .object({
    includeDatabases: z.array(z.string().min(1)).optional(),
    excludeDatabases: z.array(z.string().min(1)).optional(),
    includeTables: z.array(z.string().min(1)).optional(),
    excludeTables: z.array(z.string().min(1)).optional(),
    schemaOnlyTables: z.array(z.string().min(1)).optional(),
    timeFilters: z.array(z.string().min(1)).optional(),
    tableFilters: z.array(z.string().min(1)).optional(),
  })
  .strict();

export const databasesSchema = z.array(z.string().min(1).max(63)).min(1);

/** Source, target, and what to replicate: the common part of check-grants and estimate-size. */
export const endpointsEventSchema = z.object({
  jobId: jobIdSchema,
  sourceSecretArn: secretArnSchema,
  targetSecretArn: secretArnSchema,
  /** Where to connect when a secret names no host (see endpointSchema). */
  sourceEndpoint: endpointSchema.optional(),
  targetEndpoint: endpointSchema.optional(),
  databases: databasesSchema.optional(),
  filters: filtersSchema.optional(),
  /** Encrypt but accept any server certificate (the CLI's --allow-self-signed-certs). */
  allowSelfSignedCerts: z.boolean().optional(),
});

export type Filters = z.infer<typeof filtersSchema>;

/** `databases` is shorthand for `filters.includeDatabases`; undefined when neither narrows anything. */
export function effectiveFilters(databases: string[] | undefined, filters: Filters | undefined): Filters | undefined {
  if (!databases) return filters;
  return { ...filters, includeDatabases: databases };
}
