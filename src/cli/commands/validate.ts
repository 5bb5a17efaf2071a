import { Command } from 'commander';
import { runValidation } from '../../checks/validate.ts';
import { FilterError } from '../../plan/filters.ts';
import { addFilterOptions, filterUsageError, resolveFilters, type FilterFlags } from '../filter-options.ts';
import { loggerFor, resolveEndpoints, type GlobalOptions } from '../global-options.ts';
import {
  addInteractiveOptions,
  choosePlanInteractively,
  hasFilterFlags,
  wantsWizard,
  type InteractiveFlags,
} from '../interactive.ts';
import { EXIT_FAILED, EXIT_OK, type CliIo } from '../io.ts';
import { WizardCancelled } from '../wizard/prompts.ts';
import { renderChecks, renderJson, summarizeChecks } from '../render.ts';

export function validateCommand(io: CliIo, setExitCode: (code: number) => void): Command {
  const command = new Command('validate')
    .summary('check that the source and target are ready for replication')
    .description(
      'Connects to the source and the target and checks everything replication needs: versions, wal_level\n' +
        '(rds.logical_replication on RDS), the replication privilege, free slots and WAL senders, SELECT on every\n' +
        "table, replica identities, extensions, the target user's privileges, and what logical replication does\n" +
        'not carry (large objects, unlogged tables, sequences, ...). Changes nothing.\n' +
        'With filters (the same flags or --config file as init), only what init would replicate is checked.\n' +
        'On a terminal without filters it first asks what to replicate (see --interactive).\n\n' +
        'Exit code 0 when every check passed or only warned, 1 when a check failed, 2 on a usage error.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  export DATABASE_REPLICATOR_SOURCE_URL="postgres://repl:s3cr%40t@mydb.abc123.eu-west-1.rds.amazonaws.com:5432/shop?sslmode=require"\n' +
        '  export DATABASE_REPLICATOR_TARGET_URL="postgres://admin@10.0.0.12:5432/shop"\n' +
        '  database-replicator validate --allow-self-signed-certs\n' +
        '  database-replicator validate --interactive --save-config replication.toml\n' +
        '  database-replicator validate --config replication.toml --json | jq \'.checks[] | select(.status != "pass")\'\n',
    );
  return addInteractiveOptions(addFilterOptions(command)).action(
    async (flags: FilterFlags & InteractiveFlags, cmd: Command) => {
      const options = cmd.optsWithGlobals<GlobalOptions>();
      const logger = loggerFor(options, io);
      const { source, target } = resolveEndpoints(options, cmd, logger);
      let filters = hasFilterFlags(flags) ? resolveFilters(flags, cmd).filters : undefined;
      if (wantsWizard(flags, options, io)) {
        try {
          filters = (
            await choosePlanInteractively({
              source,
              tls: { allowSelfSignedCerts: options.allowSelfSignedCerts },
              command: 'validate',
              io,
              saveConfig: flags.saveConfig,
            })
          ).filters;
        } catch (error) {
          if (!(error instanceof WizardCancelled)) throw error;
          io.stdout(`${error.message}\n`);
          setExitCode(EXIT_FAILED);
          return;
        }
      }
      if (!options.json) logger.info('Validating source and target ...');
      let report;
      try {
        report = await runValidation(
          { source, target, allowSelfSignedCerts: options.allowSelfSignedCerts, filters },
          { logger },
        );
      } catch (error) {
        if (error instanceof FilterError) throw filterUsageError(error, flags);
        throw error;
      }
      if (options.json) {
        io.stdout(renderJson({ command: 'validate', ok: report.ok, checks: report.checks }));
      } else {
        io.stdout(renderChecks(report.checks, io));
        io.stdout(summarizeChecks(report.checks));
      }
      setExitCode(report.ok ? EXIT_OK : EXIT_FAILED);
    },
  );
}
