import type * as Execa from 'execa';
import { join } from 'node:path';
import { redact } from '../connection/redact.ts';
import { findPostgresBinDir } from './binaries.ts';

export class PgToolError extends Error {
  override name = 'PgToolError';
}

/** A libpq program with its arguments and its environment (which carries the password, never argv). */
export interface PgToolCall {
  tool: 'pg_dump' | 'pg_restore' | 'pg_dumpall';
  args: string[];
  env: Record<string, string>;
}

const resolved = new Map<string, string>();

// execa and the hundred modules under it load with the first program run: most commands run none, and
// every command pays for what it loads at start-up (status --watch beside an init, the tests' CLI runs).
let execaModule: Promise<typeof Execa> | undefined;
const loadExeca = () => (execaModule ??= import('execa'));

/**
 * The child's environment: the caller's PG* settings only. Inherited ones (a PGSSLROOTCERT, PGSERVICE or
 * PGOPTIONS in the user's shell) would silently change what the tool connects to and how it checks TLS.
 * The password fallbacks a URL without a password needs (PGPASSWORD, PGPASSFILE) come in `env`, from
 * libpqEnvironment, which alone knows whether the URL had one.
 */
export function childEnvironment(
  env: Record<string, string>,
  parent: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const base = Object.fromEntries(
    Object.entries(parent).filter(([k, v]) => !k.startsWith('PG') && v !== undefined),
  ) as Record<string, string>;
  return { ...base, ...env };
}

/** The newest installed program of that name that is at least `minMajor`. */
export function pgToolPath(tool: PgToolCall['tool'], minMajor = 0): string {
  const cacheKey = `${tool}@${minMajor}`;
  let path = resolved.get(cacheKey);
  if (!path) {
    path = join(findPostgresBinDir([tool], { minMajor }).dir, tool);
    resolved.set(cacheKey, path);
  }
  return path;
}

function describeFailure(call: PgToolCall, error: unknown, execa: typeof Execa): PgToolError {
  const stderr = error instanceof execa.ExecaError ? String(error.stderr ?? '') : '';
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /error|fatal|could not/i.test(l))
    .slice(0, 8);
  const detail = lines.length
    ? lines.join(' | ')
    : error instanceof Error
      ? error.message.split('\n')[0]
      : String(error);
  return new PgToolError(redact(`${call.tool} failed: ${detail}`), { cause: error });
}

export async function runPgTool(call: PgToolCall, minMajor = 0): Promise<{ stdout: string; stderr: string }> {
  const lib = await loadExeca();
  try {
    const result = await lib.execa(pgToolPath(call.tool, minMajor), call.args, {
      env: childEnvironment(call.env),
      extendEnv: false,
      stdin: 'ignore',
      maxBuffer: 256 * 1024 * 1024,
    });
    return { stdout: String(result.stdout), stderr: String(result.stderr) };
  } catch (error) {
    throw describeFailure(call, error, lib);
  }
}

/** Streams one program's stdout into another's stdin (pg_dump | pg_restore), with no file between them. */
export async function pipePgTools(
  producer: PgToolCall,
  consumer: PgToolCall,
  minMajor = 0,
): Promise<{ stderr: string }> {
  const lib = await loadExeca();
  const from = lib.execa(pgToolPath(producer.tool, minMajor), producer.args, {
    env: childEnvironment(producer.env),
    extendEnv: false,
    stdin: 'ignore',
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
  });
  try {
    const result = await from.pipe(pgToolPath(consumer.tool, minMajor), consumer.args, {
      env: childEnvironment(consumer.env),
      extendEnv: false,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { stderr: String(result.stderr) };
  } catch (error) {
    const failed = error instanceof lib.ExecaError && error.command.includes(consumer.tool) ? consumer : producer;
    throw describeFailure(failed, error, lib);
  }
}
