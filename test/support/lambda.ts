import type { Context } from 'aws-lambda';
import { vi } from 'vitest';

export const SOURCE_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:replicator/source-AbCdEf';
export const TARGET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:replicator/target-GhIjKl';

/** What the Lambda runtime passes; Powertools copies the request id and function name into every log line. */
export function lambdaContext(name = 'fn'): Context {
  return {
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${name}`,
    memoryLimitInMB: '256',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: '2026/01/01/[$LATEST]abc',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * Captures what the Powertools logger writes: JSON lines on stdout (info, warn, debug) and stderr
 * (error), as in Lambda. Call `stop()` before asserting.
 */
export function captureLogs(): { text: () => string; lines: () => Record<string, unknown>[]; stop: () => void } {
  const chunks: string[] = [];
  const record = (chunk: unknown) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(record);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(record);
  return {
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    stop: () => {
      out.mockRestore();
      err.mockRestore();
    },
  };
}

/** Runs `fn` with the logs captured; returns its outcome and the log text (even when it throws). */
export async function withLogs<T>(
  fn: () => Promise<T>,
): Promise<{ result?: T; error?: Error; logs: string; lines: Record<string, unknown>[] }> {
  const capture = captureLogs();
  try {
    const result = await fn();
    capture.stop();
    return { result, logs: capture.text(), lines: capture.lines() };
  } catch (error) {
    capture.stop();
    return { error: error as Error, logs: capture.text(), lines: capture.lines() };
  }
}
