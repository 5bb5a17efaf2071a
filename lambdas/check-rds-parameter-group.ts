import type { RDSClient } from '@aws-sdk/client-rds';
import { z } from 'zod';
import { checkRdsParameterGroup, type RdsSourceCheck } from '../src/checks/rds.ts';
import { createRdsClient } from './shared/clients.ts';
import { lambdaHandler, parseEvent } from './shared/errors.ts';
import { jobIdSchema } from './shared/events.ts';
import { createLambdaLogger, type LambdaLog } from './shared/logger.ts';

// Checks the source's RDS configuration through the RDS API before anything connects to it.
// Errors (by name): LogicalReplicationOff, RebootPending, ReadReplicaSource, SourceNotFound,
// MissingPermission, InvalidEvent.

const logger = createLambdaLogger('check-rds-parameter-group');
const rds = createRdsClient();

export const checkRdsParameterGroupEvent = z.object({
  jobId: jobIdSchema,
  source: z
    .object({
      instanceIdentifier: z
        .string()
        .regex(/^[A-Za-z][A-Za-z0-9-]{0,62}$/, 'must be a DB instance or cluster identifier')
        .optional(),
      // A host name (optionally :port), never a URL: a URL could carry a password.
      endpoint: z
        .string()
        .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be a host name, optionally with :port')
        .optional(),
    })
    .strict()
    .refine(
      (s) => s.instanceIdentifier !== undefined || s.endpoint !== undefined,
      'give instanceIdentifier or endpoint',
    ),
});

export type CheckRdsParameterGroupEvent = z.infer<typeof checkRdsParameterGroupEvent>;
export type CheckRdsParameterGroupResult = RdsSourceCheck & { jobId: string };

export async function checkRdsSource(
  event: CheckRdsParameterGroupEvent,
  deps: { rds: RDSClient; logger?: LambdaLog },
): Promise<CheckRdsParameterGroupResult> {
  const lookup =
    event.source.instanceIdentifier !== undefined
      ? { identifier: event.source.instanceIdentifier }
      : { endpoint: event.source.endpoint! };
  deps.logger?.info('checking the source in the RDS API', { jobId: event.jobId, ...lookup });
  const result = await checkRdsParameterGroup(deps.rds, lookup);
  for (const warning of result.warnings) deps.logger?.warn(warning, { jobId: event.jobId });
  deps.logger?.info('rds.logical_replication is on', {
    jobId: event.jobId,
    instance: result.instanceIdentifier,
    parameterGroup: result.parameterGroup,
  });
  return { jobId: event.jobId, ...result };
}

export const handler = lambdaHandler(logger, (event) =>
  checkRdsSource(parseEvent(checkRdsParameterGroupEvent, event), { rds, logger }),
);
