import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CheckResult, CheckStatus } from '../src/checks/types.ts';
import { runValidation, type ValidationRequest, type ValidationReport } from '../src/checks/validate.ts';
import { redact } from '../src/connection/redact.ts';
import type { z } from 'zod';
import { createSecretsClient } from './shared/clients.ts';
import { resolveEndpoints } from './shared/endpoints.ts';
import { NamedError } from '../src/errors/safe-error.ts';
import { lambdaHandler, parseEvent } from './shared/errors.ts';
import { effectiveFilters, endpointsEventSchema } from './shared/events.ts';
import { createLambdaLogger, type LambdaLog } from './shared/logger.ts';

// Runs validate's connection-based checks (reachability, versions, wal_level, REPLICATION, free
// slots, SELECT grants, replica identities, extensions, target privileges, caveats) against the
// source and target named by their secrets. Errors (by name): ValidationFailed, MissingPermission,
// SecretNotFound, SecretMalformed, FilterError, InvalidEvent.

const logger = createLambdaLogger('check-grants');
const secrets = createSecretsClient();

/**
 * pg_dump runs in the replicator task, not in this function: its check belongs to the task's own
 * start-up, so it is left out here rather than failing for a binary this function never needs.
 */
const NOT_CHECKED_HERE = new Set(['local-pg-dump']);

export const checkGrantsEvent = endpointsEventSchema;
export type CheckGrantsEvent = z.infer<typeof checkGrantsEvent>;

export interface CheckSummary {
  id: string;
  status: CheckStatus;
  message: string;
  remedy?: string;
}

export interface CheckGrantsResult {
  jobId: string;
  ok: boolean;
  checks: CheckSummary[];
}

/** One or more checks failed; the message lists each with its remedy. `checks` holds the whole report. */
export class ValidationFailed extends NamedError {
  readonly checks: CheckSummary[];
  constructor(checks: CheckSummary[]) {
    const failed = checks.filter((c) => c.status === 'fail');
    const lines = failed.map((c) => `${c.id}: ${c.message}${c.remedy ? ` Fix: ${c.remedy}` : ''}`);
    const text = `${failed.length} check(s) failed: ${lines.join(' | ')}`;
    // Step Functions keeps up to 32 KB of an error's cause.
    super('ValidationFailed', text.length > 8000 ? `${text.slice(0, 7997)}...` : text);
    this.checks = checks;
  }
}

function summarize(check: CheckResult): CheckSummary {
  const summary: CheckSummary = { id: check.id, status: check.status, message: redact(check.detail) };
  if (check.remedy) summary.remedy = redact(check.remedy);
  return summary;
}

export interface CheckGrantsDependencies {
  secrets: SecretsManagerClient;
  logger?: LambdaLog;
  /** validate's engine; tests may replace it. */
  validate?: (request: ValidationRequest) => Promise<ValidationReport>;
}

/** RDS names the master user secrets it manages (and rotates, every 7 days by default) rds!db-... or rds!cluster-... */
const RDS_MANAGED_SECRET = /:secret:rds!/;

/**
 * The subscription keeps the source password it was created with (pg_subscription on the target):
 * a source secret that rotates stops the replication at the next rotation.
 */
export function rotatingSourceSecret(sourceSecretArn: string): CheckSummary | undefined {
  if (!RDS_MANAGED_SECRET.test(sourceSecretArn)) return undefined;
  return {
    id: 'rotating-source-secret',
    status: 'warn',
    message:
      'The source secret is managed by RDS, which rotates its password (every 7 days by default); the subscription keeps the password it was created with, so replication stops at the next rotation.',
    remedy:
      'Replicate as a dedicated replication user whose secret does not rotate (README: "First run, step by step"), or after each rotation run ALTER SUBSCRIPTION <subscription> CONNECTION with the new password on the target.',
  };
}

export async function checkGrants(event: CheckGrantsEvent, deps: CheckGrantsDependencies): Promise<CheckGrantsResult> {
  const { source, target } = await resolveEndpoints(deps.secrets, event);
  const validate =
    deps.validate ??
    ((request: ValidationRequest) =>
      runValidation(request, { findPgDump: () => ({ error: 'not checked in Lambda' }) }));
  const request: ValidationRequest = { source, target, allowSelfSignedCerts: event.allowSelfSignedCerts ?? false };
  const filters = effectiveFilters(event.databases, event.filters);
  if (filters) request.filters = filters;
  deps.logger?.info('validating source and target', { jobId: event.jobId });
  const report = await validate(request);
  const rotating = rotatingSourceSecret(event.sourceSecretArn);
  const checks = [
    ...report.checks.filter((c) => !NOT_CHECKED_HERE.has(c.id)).map(summarize),
    ...(rotating ? [rotating] : []),
  ];
  const ok = checks.every((c) => c.status !== 'fail');
  for (const c of checks.filter((c) => c.status !== 'pass'))
    deps.logger?.warn(`${c.status}: ${c.id}: ${c.message}`, { jobId: event.jobId, check: c.id });
  if (!ok) throw new ValidationFailed(checks);
  deps.logger?.info('validation passed', {
    jobId: event.jobId,
    checks: checks.length,
    warnings: checks.filter((c) => c.status === 'warn').length,
  });
  return { jobId: event.jobId, ok, checks };
}

export const handler = lambdaHandler(logger, (event) =>
  checkGrants(parseEvent(checkGrantsEvent, event), { secrets, logger }),
);
