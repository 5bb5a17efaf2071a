// How a failure is told to Step Functions, by a Lambda function and by the Fargate task alike: a name
// it can match (Catch / Retry ErrorEquals; the console shows it as the error type) and one redacted
// sentence. No cause chain and no driver fields: a pg error's `detail` can quote row data.
import { ConnectionError } from '../connection/errors.ts';
import { redact } from '../connection/redact.ts';

/** An error whose `name` is what Step Functions matches; the Node.js runtime reports `name` as the error type. */
export class NamedError extends Error {
  constructor(name: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = name;
  }
}

export interface SafeError {
  name: string;
  /** One line, passwords masked, no driver detail. */
  message: string;
}

/** pg's server errors carry name 'error'; a name Step Functions can match is more useful. */
function errorName(error: Error): string {
  if (error instanceof ConnectionError) return 'ConnectionFailed';
  if (!error.name || error.name === 'error') return 'DatabaseError';
  return error.name;
}

function oneLine(text: string): string {
  return redact(text.replace(/\s+/g, ' ').trim()) || 'failed without a message';
}

/** The failure reduced to a name and one redacted line. */
export function safeError(error: unknown): SafeError {
  if (!(error instanceof Error)) return { name: 'Error', message: oneLine(String(error)) };
  const message = error instanceof ConnectionError ? `${error.message} ${error.remedy}` : error.message;
  return { name: errorName(error), message: oneLine(message) };
}

/** The failure as an error to rethrow: the safe name and message, and the stack frames masked like the message. */
export function toSafeError(error: unknown): NamedError {
  const { name, message } = safeError(error);
  const safe = new NamedError(name, message);
  if (error instanceof Error && error.stack)
    safe.stack = redact(
      `${name}: ${message}\n${error.stack
        .split('\n')
        .filter((line) => /^\s+at /.test(line))
        .join('\n')}`,
    );
  return safe;
}
