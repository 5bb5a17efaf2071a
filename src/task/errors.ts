// How a task failure is told: a name Step Functions can match (Catch / Retry) and one redacted line.
import { ConnectionError } from '../connection/errors.ts';
import { redact } from '../connection/redact.ts';

/** A failure with a name of our choosing (what Step Functions matches in ErrorEquals). */
export class TaskFailure extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export interface SafeError {
  name: string;
  /** One line, passwords masked, no driver detail (a pg error's `detail` can quote row data). */
  message: string;
}

export function safeError(error: unknown): SafeError {
  if (!(error instanceof Error)) return { name: 'Error', message: oneLine(String(error)) };
  const name = error instanceof ConnectionError ? 'ConnectionFailed' : !error.name || error.name === 'error' ? 'DatabaseError' : error.name;
  const message = error instanceof ConnectionError ? `${error.message} ${error.remedy}` : error.message;
  return { name, message: oneLine(message) };
}

function oneLine(text: string): string {
  return redact(text.replace(/\s+/g, ' ').trim()) || 'failed without a message';
}
