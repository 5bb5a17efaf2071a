import { Command } from 'commander';
import { runValidation } from '../../checks/validate.ts';
import { loggerFor, resolveEndpoints, type GlobalOptions } from '../global-options.ts';
import { EXIT_FAILED, EXIT_OK, type CliIo } from '../io.ts';
import { renderChecks, renderJson, summarizeChecks } from '../render.ts';

export function validateCommand(io: CliIo, setExitCode: (code: number) => void): Command {
  return new Command('validate')
    .summary('check that the source and target are ready for replication')
    .description(
      'Connects to the source and the target and checks everything replication needs: versions, wal_level\n' +
        '(rds.logical_replication on RDS), the replication privilege, free slots and WAL senders, SELECT on every\n' +
        'table, replica identities, extensions, the target user\'s privileges, and what logical replication does\n' +
        'not carry (large objects, unlogged tables, sequences, ...). Changes nothing.\n\n' +
        'Exit code 0 when every check passed or only warned, 1 when a check failed, 2 on a usage error.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  export DATABASE_REPLICATOR_SOURCE_URL="postgres://repl:s3cr%40t@mydb.abc123.eu-west-1.rds.amazonaws.com:5432/shop?sslmode=require"\n' +
        '  export DATABASE_REPLICATOR_TARGET_URL="postgres://admin@10.0.0.12:5432/shop"\n' +
        '  database-replicator validate --allow-self-signed-certs\n' +
        '  database-replicator validate --json | jq \'.checks[] | select(.status != "pass")\'\n',
    )
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const logger = loggerFor(options, io);
      const { source, target } = resolveEndpoints(options, command, logger);
      if (!options.json) logger.info('Validating source and target ...');
      const report = await runValidation({ source, target, allowSelfSignedCerts: options.allowSelfSignedCerts }, { logger });
      if (options.json) {
        io.stdout(renderJson({ command: 'validate', ok: report.ok, checks: report.checks }));
      } else {
        io.stdout(renderChecks(report.checks, io));
        io.stdout(summarizeChecks(report.checks));
      }
      setExitCode(report.ok ? EXIT_OK : EXIT_FAILED);
    });
}
