import { Option, type Command } from 'commander';
import { ConnectionUrlError, parseConnectionUrl, type ConnectionSpec } from '../connection/url.ts';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../log/logger.ts';
import { UsageError, type CliIo } from './io.ts';

export const SOURCE_ENV = 'DATABASE_REPLICATOR_SOURCE_URL';
export const TARGET_ENV = 'DATABASE_REPLICATOR_TARGET_URL';

export interface GlobalOptions {
  source?: string;
  target?: string;
  allowSelfSignedCerts: boolean;
  json: boolean;
  logLevel: LogLevel;
  yes: boolean;
  local: boolean;
}

export function addGlobalOptions(program: Command): Command {
  return program
    .addOption(
      new Option(
        '--source <url>',
        `source database URL, postgres://user:password@host:5432/db (or set ${SOURCE_ENV}, which keeps the password out of the process list)`,
      ).env(SOURCE_ENV),
    )
    .addOption(new Option('--target <url>', `target database URL (or set ${TARGET_ENV})`).env(TARGET_ENV))
    .option(
      '--allow-self-signed-certs',
      'accept any server certificate (e.g. RDS with sslmode=require and no CA bundle); the connection is encrypted but not authenticated',
      false,
    )
    .option('--json', 'print machine-readable JSON on stdout instead of tables', false)
    .addOption(new Option('--log-level <level>', 'how much to log on stderr').choices(LOG_LEVELS).default('info'))
    .option('-y, --yes', 'answer yes to confirmations (needed when stdin is not a terminal)', false)
    .option(
      '--local',
      'run the work in this process against the given databases (the default when no AWS deployment is configured)',
      false,
    );
}

export interface Endpoints {
  source: ConnectionSpec;
  target: ConnectionSpec;
}

function parseEndpoint(role: 'source' | 'target', url: string | undefined, envName: string): ConnectionSpec {
  if (!url) throw new UsageError(`The ${role} database is missing: pass --${role} <url> or set ${envName}.`);
  try {
    return parseConnectionUrl(url);
  } catch (error) {
    if (error instanceof ConnectionUrlError)
      throw new UsageError(`The --${role} URL is not valid: ${lowerFirst(error.message)}`);
    throw error;
  }
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/**
 * Parses --source and --target, and warns when a password came in on the command line, where other
 * users of the machine can read it in the process list.
 */
export function resolveEndpoints(options: GlobalOptions, command: Command, logger: Logger): Endpoints {
  const source = parseEndpoint('source', options.source, SOURCE_ENV);
  const target = parseEndpoint('target', options.target, TARGET_ENV);
  for (const [role, spec, envName] of [
    ['source', source, SOURCE_ENV],
    ['target', target, TARGET_ENV],
  ] as const) {
    if (spec.password !== undefined && command.getOptionValueSourceWithGlobals(role) === 'cli') {
      logger.warn(
        `the ${role} password was given on the command line, where other local users can see it; prefer ${envName} or ~/.pgpass.`,
      );
    }
  }
  return { source, target };
}

export function loggerFor(options: GlobalOptions, io: CliIo): Logger {
  return createLogger(options.logLevel, (line) => io.stderr(line + '\n'));
}
