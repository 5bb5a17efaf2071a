import type { Context } from 'aws-lambda';
import middy from '@middy/core';
import type { MiddlewareObj } from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Logger } from '@aws-lambda-powertools/logger';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { z } from 'zod';
import { redact } from '../../src/connection/redact.ts';
import { NamedError, toSafeError } from '../../src/errors/safe-error.ts';
import { publishMetrics, tracer } from './observability.ts';

/** The event does not have the shape the function expects; the message names the field. */
export class InvalidEvent extends NamedError {
  constructor(message: string) {
    super('InvalidEvent', message);
  }
}

/**
 * Validates an event. The message names each wrong field and what it must be, never its value: an
 * event may carry something secret by mistake (a URL with a password instead of a secret ARN).
 */
export function parseEvent<S extends z.ZodType>(schema: S, event: unknown): z.output<S> {
  const parsed = schema.safeParse(event);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.slice(0, 5).map((issue) => {
    const path = issue.path.length ? issue.path.join('.') : 'the event';
    const input = issue.path.reduce<unknown>(
      (value, key) => (value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined),
      event,
    );
    if (issue.code === 'invalid_type' && input === undefined) return `${path} is missing`;
    if (issue.code === 'unrecognized_keys') return `${path} has unknown keys ${issue.keys.join(', ')}`;
    // A custom message (refine) is ours and names no value; zod's own messages for other codes name none either.
    return `${path}: ${redact(issue.message)}`;
  });
  return invalid(problems);
}

function invalid(problems: string[]): never {
  throw new InvalidEvent(
    `The event is not valid: ${problems.join('; ')}; pass the fields the function's event schema lists.`,
  );
}

/** Middy middleware: logs the failure and replaces the error by its safe form before the runtime reports it. */
export function safeErrors(logger: Logger): MiddlewareObj {
  return {
    onError: (request) => {
      const safe = toSafeError(request.error);
      logger.error(`${safe.name}: ${safe.message}`, { errorName: safe.name });
      request.error = safe;
    },
  };
}

/**
 * Wraps one function's logic as a Lambda handler: an X-Ray segment per invocation, Powertools context
 * (request id, cold start) on every log line, keys appended during an invocation reset after it,
 * metrics written at the end, errors made safe and named. Middy runs onError hooks last-registered
 * first, so the tracer and the metrics see the error already made safe.
 */
export function lambdaHandler<R>(logger: Logger, fn: (event: unknown, context: Context) => Promise<R>) {
  return middy<unknown, R, Error, Context>()
    .use(captureLambdaHandler(tracer))
    .use(publishMetrics())
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(safeErrors(logger))
    .handler(fn);
}
