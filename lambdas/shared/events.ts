import { z } from 'zod';
import { endpointSchema, secretArnSchema } from '../../src/inputs/schemas.ts';
import { filtersSchema } from '../../src/inputs/task-plan.ts';

// Pieces of the events the functions take. Events carry identifiers and secret ARNs only.

export const jobIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,80}$/, 'must be 1 to 80 letters, digits, _ or -');

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
  /** With one database: the target database it is copied into, when not of the same name. */
  targetDatabase: z.string().min(1).max(63).optional(),
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
