import { redact } from '../../src/connection/redact.ts';

// Step Functions errors ({ Error, Cause }) as one readable sentence for the Fail state and the job record.

/** Step Functions keeps up to 32 KB of a cause. */
export const MAX_CAUSE = 30_000;

export function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** What a stopped ECS task's description (the cause of a failed runTask.sync) says, in one sentence. */
function describeStoppedTask(task: Record<string, unknown>): string {
  const containers = Array.isArray(task.Containers) ? (task.Containers as Record<string, unknown>[]) : [];
  const exits = containers
    .filter((c) => c.ExitCode !== undefined || c.Reason !== undefined)
    .map(
      (c) =>
        `container ${String(c.Name ?? '?')} ${c.ExitCode !== undefined ? `exited with code ${String(c.ExitCode)}` : 'did not run'}${c.Reason ? ` (${String(c.Reason)})` : ''}`,
    );
  const id = typeof task.TaskArn === 'string' ? task.TaskArn.split('/').pop() : undefined;
  return `The replicator task${id ? ` ${id}` : ''} stopped: ${String(task.StoppedReason ?? task.StopCode ?? 'no reason given')}${exits.length ? `; ${exits.join('; ')}` : ''}. Its log stream in CloudWatch Logs says why.`;
}

/**
 * One readable sentence from a Step Functions error: the message of a Lambda error (its cause is the
 * JSON the runtime reports), the stop reason of an ECS task, or the cause as given; text before the
 * JSON ("Database shop: ") is kept. Masked by `redact`, never longer than Step Functions keeps.
 */
export function describeFailure(error: { Error?: string | undefined; Cause?: string | undefined }): {
  error: string;
  cause: string;
} {
  const name = error.Error || 'Error';
  const raw = error.Cause ?? '';
  const start = raw.indexOf('{');
  let message = raw;
  if (start >= 0) {
    try {
      const parsed = JSON.parse(raw.slice(start)) as Record<string, unknown>;
      const prefix = raw.slice(0, start);
      if (typeof parsed.errorMessage === 'string') message = prefix + parsed.errorMessage;
      else if ('StoppedReason' in parsed || 'Containers' in parsed || 'TaskArn' in parsed)
        message = prefix + describeStoppedTask(parsed);
      else if (typeof parsed.Message === 'string') message = prefix + parsed.Message;
    } catch {
      // Not JSON after all: keep the cause as it is.
    }
  }
  message = redact(message).trim();
  return {
    error: name,
    cause: cut(message || `${name}, without a cause; see the execution history for the failed state.`, MAX_CAUSE),
  };
}
