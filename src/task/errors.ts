// The task's own failures, each a class whose name Step Functions matches (Catch / Retry) and the
// console shows as the error type. Everything else is told through errors/safe-error.ts.
import { NamedError } from '../errors/safe-error.ts';

/** verify, subscribe, cutover or cleanup ran before the snapshot task recorded this database. */
export class SnapshotMissing extends NamedError {
  constructor(message: string) {
    super('SnapshotMissing', message);
  }
}

/** verify ran to the end and found differences: a verdict, not a crash. */
export class VerifyDifferences extends NamedError {
  constructor(message: string) {
    super('VerifyDifferences', message);
  }
}

/** cleanup could not drop everything it created. */
export class CleanupIncomplete extends NamedError {
  constructor(message: string) {
    super('CleanupIncomplete', message);
  }
}

/** ECS stopped the task (SIGTERM) before the subcommand finished. */
export class TaskStopped extends NamedError {
  constructor(message: string) {
    super('TaskStopped', message);
  }
}

/** The job already finished, and the subcommand would change its replication. */
export class JobFinished extends NamedError {
  constructor(message: string) {
    super('JobFinished', message);
  }
}

/** The task was started in a way that cannot work (a task token without a Step Functions client). */
export class TaskMisconfigured extends NamedError {
  constructor(message: string) {
    super('TaskMisconfigured', message);
  }
}
