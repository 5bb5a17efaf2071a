// The validate checks that bear on a command, run before it creates anything on either side: a
// FAIL stops it with validate's own sentence and remedy, and nothing has been changed.
import type { CheckResult } from './types.ts';
import { runValidation, type ValidationDependencies, type ValidationRequest } from './validate.ts';

/**
 * - `init`: every check validate can fail (a new copy creates a publication, a slot, roles, databases).
 * - `resume`: the same, less free slot capacity: the job's slot exists already.
 * - `sync`: what creating the subscription needs: reachability, not the same database, wal_level,
 *   the target's privileges, and the source user's REPLICATION when the subscription connects as it.
 */
export type PreconditionScope = 'init' | 'resume' | 'sync';

const SYNC_CHECKS = new Set([
  'source-reachable',
  'target-reachable',
  'distinct-databases',
  'server-versions',
  'source-wal-level',
  'source-replication-privilege',
  'target-privileges',
]);

export function bearsOn(
  scope: PreconditionScope,
  check: CheckResult,
  options: { subscriptionUserDiffers?: boolean } = {},
): boolean {
  if (scope === 'init') return true;
  if (scope === 'resume') return check.id !== 'source-replication-capacity';
  if (check.id === 'source-replication-privilege' && options.subscriptionUserDiffers) return false;
  return SYNC_CHECKS.has(check.id);
}

export class PreconditionFailed extends Error {
  override name = 'PreconditionFailed';
  readonly checks: CheckResult[];
  constructor(command: string, failed: CheckResult[]) {
    // An unreachable server is said as every command says it; nothing else could be checked then.
    const unreachable = failed.filter((c) => c.id.endsWith('-reachable'));
    const lines = (unreachable.length ? unreachable : failed).map(
      (c) =>
        `${unreachable.length ? '' : `${c.title}: `}${c.detail.replace(/\.?$/, '.')}${c.remedy ? ` ${c.remedy}` : ''}`,
    );
    super(
      unreachable.length
        ? lines.join(' ')
        : `${command} did not start, and nothing was created: ${lines.join(' Also: ')}`,
    );
    this.checks = failed;
  }
}

/** Runs validate and throws PreconditionFailed on any FAIL that bears on `scope`; warnings pass. */
export async function assertPreconditions(
  command: string,
  scope: PreconditionScope,
  request: ValidationRequest,
  options: { subscriptionUserDiffers?: boolean; dependencies?: Partial<ValidationDependencies> } = {},
): Promise<void> {
  const report = await runValidation(request, options.dependencies);
  const failed = report.checks.filter((c) => c.status === 'fail' && bearsOn(scope, c, options));
  if (failed.length) throw new PreconditionFailed(command, failed);
}
