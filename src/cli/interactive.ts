import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { openClient } from '../connection/client.ts';
import type { TlsPolicy } from '../connection/tls.ts';
import { withDatabase, type ConnectionSpec } from '../connection/url.ts';
import { selectDatabases, type FilterOptions } from '../plan/plan.ts';
import type { FilterFlags } from './filter-options.ts';
import type { GlobalOptions } from './global-options.ts';
import { UsageError, type CliIo } from './io.ts';
import { readOfferedDatabases } from './wizard/catalog.ts';
import { terminalPrompts, type WizardPrompts } from './wizard/prompts.ts';
import { runPlanWizard, type PlanWizardResult } from './wizard/wizard.ts';

export interface InteractiveFlags {
  interactive?: boolean;
  saveConfig?: string;
}

export function addInteractiveOptions(command: Command): Command {
  return command
    .option(
      '-i, --interactive',
      'choose databases, tables, schema-only tables and time filters step by step (the default on a terminal when no filter is given)',
    )
    .option('--save-config <file>', 'write the plan chosen interactively to a TOML file, for --config next time');
}

export function hasFilterFlags(flags: FilterFlags): boolean {
  return (
    Boolean(flags.config) ||
    [
      flags.includeDatabases,
      flags.excludeDatabases,
      flags.includeTables,
      flags.excludeTables,
      flags.schemaOnlyTables,
      flags.timeFilter,
      flags.tableFilter,
    ].some((l) => l.length > 0)
  );
}

/**
 * Whether the wizard runs: when asked for, or by default on a terminal when no filter is given; never
 * without a terminal, with --yes or with --json (a script is driving).
 */
export function wantsWizard(
  flags: FilterFlags & InteractiveFlags,
  globals: GlobalOptions,
  io: CliIo,
  stdinIsTty = Boolean(process.stdin.isTTY),
): boolean {
  const terminal = stdinIsTty && io.isTty;
  if (flags.interactive) {
    if (globals.yes)
      throw new UsageError('--interactive asks questions and --yes answers them all; give one of the two.');
    if (!terminal)
      throw new UsageError(
        '--interactive needs a terminal on stdin and stdout; without one, give filters as flags or with --config.',
      );
    if (hasFilterFlags(flags))
      throw new UsageError(
        '--interactive chooses the filters itself; drop the filter flags and --config, or drop --interactive.',
      );
    return true;
  }
  const byDefault = terminal && !globals.yes && !globals.json && !hasFilterFlags(flags);
  if (flags.saveConfig && !byDefault)
    throw new UsageError(
      '--save-config writes the plan chosen interactively, which needs a terminal and no filter flags, --config, --yes or --json.',
    );
  return byDefault;
}

/** Runs the wizard against the source's catalog and returns the filters chosen; --save-config writes them. */
export async function choosePlanInteractively(options: {
  source: ConnectionSpec;
  tls: TlsPolicy;
  command: string;
  io: CliIo;
  saveConfig?: string;
  prompts?: WizardPrompts;
}): Promise<PlanWizardResult & { filters: FilterOptions }> {
  const { source, tls, io } = options;
  const admin = await openClient(source, { role: 'source', ...tls });
  let result: PlanWizardResult;
  try {
    const databases = await readOfferedDatabases(admin, (db) =>
      openClient(withDatabase(source, db), { role: 'source', ...tls }),
    );
    if (databases.length === 0) throw new UsageError('The source has no user database to replicate.');
    const available = databases.map((d) => d.name);
    const defaults = selectDatabases(available, source.databaseGiven ? source.database : null, {});
    result = await runPlanWizard({
      databases,
      defaultDatabases: defaults,
      prompts: options.prompts ?? terminalPrompts(),
      print: io.stdout,
      command: options.command,
    });
  } finally {
    await admin.end().catch(() => undefined);
  }
  if (options.saveConfig) {
    writeFileSync(options.saveConfig, result.toml, { mode: 0o644 });
    io.stderr(
      `Plan written to ${options.saveConfig}; next time: database-replicator ${options.command} --config ${options.saveConfig}\n`,
    );
  }
  return result;
}
