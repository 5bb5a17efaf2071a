import { libpqConninfo, libpqEnvironment } from '../connection/libpq-env.ts';
import type { TlsPolicy } from '../connection/tls.ts';
import type { ConnectionSpec } from '../connection/url.ts';
import { pipePgTools, runPgTool } from '../pgtools/run.ts';
import { OWN_SCHEMA_DUMP_PATTERN } from '../jobs/naming.ts';

export interface SchemaCopyOptions {
  source: ConnectionSpec;
  target: ConnectionSpec;
  tls: TlsPolicy;
  snapshotName: string | null;
  sourceMajor: number;
  /** Without roles on the target, owners and grants cannot be restored as they are. */
  keepOwnership: boolean;
}

function dumpArgs(options: SchemaCopyOptions, section: 'pre-data' | 'post-data'): string[] {
  return [
    `--dbname=${libpqConninfo(options.source)}`,
    '--format=custom',
    `--section=${section}`,
    ...(options.snapshotName ? [`--snapshot=${options.snapshotName}`] : []),
    // Our own publication, and any subscription, belong to the source only.
    '--no-publications',
    '--no-subscriptions',
    // The schema of init --track-ddl: each side gets its own objects from src/ddl-capture.
    `--exclude-schema=${OWN_SCHEMA_DUMP_PATTERN}`,
    ...(options.keepOwnership ? [] : ['--no-owner', '--no-privileges']),
  ];
}

function restoreArgs(options: SchemaCopyOptions, extra: string[]): string[] {
  return [
    `--dbname=${libpqConninfo(options.target)}`,
    ...(options.keepOwnership ? [] : ['--no-owner', '--no-privileges']),
    ...extra,
  ];
}

/**
 * Types, functions, tables, views and sequences (no indexes or constraints), as of the snapshot,
 * streamed from pg_dump into pg_restore in one transaction: a failure leaves no half schema.
 * All schemas are dumped: filters limit data, never what kept tables depend on.
 */
export async function copyPreDataSchema(options: SchemaCopyOptions): Promise<void> {
  await pipePgTools(
    { tool: 'pg_dump', args: dumpArgs(options, 'pre-data'), env: libpqEnvironment(options.source, options.tls) },
    {
      tool: 'pg_restore',
      args: restoreArgs(options, ['--single-transaction', '--exit-on-error']),
      env: libpqEnvironment(options.target, options.tls),
    },
    options.sourceMajor,
  );
}

/** Dumps indexes, constraints and triggers to a small archive, restored after the data with pg_restore -j. */
export async function dumpPostDataSchema(options: SchemaCopyOptions, file: string): Promise<void> {
  await runPgTool(
    {
      tool: 'pg_dump',
      args: [...dumpArgs(options, 'post-data'), `--file=${file}`],
      env: libpqEnvironment(options.source, options.tls),
    },
    options.sourceMajor,
  );
}

/** The table of contents of a post-data archive (`pg_restore --list`). */
export async function listArchive(options: SchemaCopyOptions, file: string): Promise<string> {
  const { stdout } = await runPgTool({ tool: 'pg_restore', args: ['--list', file], env: {} }, options.sourceMajor);
  return stdout;
}

/**
 * Restores only the archive entries named in `listFile` (`pg_restore --use-list`). `settings` are
 * session settings for the target (PGOPTIONS), e.g. no parallel workers for a build beside the copy.
 */
export async function restoreArchiveEntries(
  options: SchemaCopyOptions,
  file: string,
  listFile: string,
  jobs: number,
  settings: Record<string, string> = {},
): Promise<void> {
  const env = libpqEnvironment(options.target, options.tls);
  const pgOptions = Object.entries(settings)
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(' ');
  if (pgOptions) env.PGOPTIONS = pgOptions;
  await runPgTool(
    {
      tool: 'pg_restore',
      args: [...restoreArgs(options, [`--jobs=${jobs}`, '--exit-on-error', `--use-list=${listFile}`]), file],
      env,
    },
    options.sourceMajor,
  );
}
