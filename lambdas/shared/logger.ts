import { Logger } from '@aws-lambda-powertools/logger';
import { redact } from '../../src/connection/redact.ts';

/** Keys whose value is a secret whatever it looks like. */
const SECRET_KEYS = /^(password|secretstring|secret_string|token|pgpassword)$/i;

/**
 * Every string of a log line goes through `redact` (registered passwords, URL and conninfo
 * passwords), and values under secret-looking keys are masked outright. Powertools formats an Error
 * into an object first, so its message and stack are masked the same way.
 */
export function redactingReplacer(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (SECRET_KEYS.test(key)) return '***';
  return redact(value);
}

/**
 * The Powertools logger of one function: JSON lines on stdout (CloudWatch), level from
 * POWERTOOLS_LOG_LEVEL (default INFO). Create it once at module load.
 */
export function createLambdaLogger(serviceName: string): Logger {
  return new Logger({
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? `database-replicator-${serviceName}`,
    jsonReplacerFn: redactingReplacer,
  });
}

/** What the engine-facing logic functions need from a logger; tests pass a recorder. */
export type LambdaLog = Pick<Logger, 'info' | 'warn' | 'debug' | 'error'>;
