import { Command, CommanderError } from 'commander';
import { ConnectionError } from '../connection/errors.ts';
import { redact } from '../connection/redact.ts';
import { cleanupCommand } from './commands/cleanup.ts';
import { cutoverCommand } from './commands/cutover.ts';
import { initCommand } from './commands/init.ts';
import { remoteCommand } from './commands/remote.ts';
import { statusCommand } from './commands/status.ts';
import { syncCommand } from './commands/sync.ts';
import { validateCommand } from './commands/validate.ts';
import { verifyCommand } from './commands/verify.ts';
import { addGlobalOptions } from './global-options.ts';
import { addRemoteOptions, MODES_HELP } from './remote-options.ts';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, type CliIo } from './io.ts';
import { VERSION } from './version.ts';

export function buildProgram(io: CliIo, setExitCode: (code: number) => void): Command {
  const program = new Command('database-replicator')
    .description(
      'Zero-downtime replication of PostgreSQL databases (AWS RDS first) into any PostgreSQL:\n' +
        'validate, then a consistent snapshot copy handed off to native logical replication.',
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(redact(s)) })
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();
  addGlobalOptions(program);
  addRemoteOptions(program);
  program.addHelpText(
    'after',
    '\nExamples:\n' +
      '  export DATABASE_REPLICATOR_SOURCE_URL="postgres://repl:s3cr%40t@source.example.com:5432/shop?sslmode=require"\n' +
      '  export DATABASE_REPLICATOR_TARGET_URL="postgres://admin@target.example.com:5432/shop"\n' +
      '  database-replicator validate\n' +
      '  database-replicator validate --json\n' +
      '  database-replicator remote configure --stack-name DatabaseReplicator   (then: init --yes runs on AWS)\n' +
      MODES_HELP +
      '\nExit codes: 0 success, 1 a check or operation failed, 2 usage error.\n' +
      'In remote mode, 130 when Ctrl-C stopped following an execution that keeps running.\n',
  );
  const commands = [
    validateCommand,
    initCommand,
    syncCommand,
    statusCommand,
    verifyCommand,
    cutoverCommand,
    cleanupCommand,
    remoteCommand,
  ].map((make) => make(io, setExitCode));
  for (const command of commands.flatMap((c) => [c, ...c.commands])) {
    command
      .exitOverride()
      .configureHelp({ showGlobalOptions: true })
      .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(redact(s)) })
      .showHelpAfterError('(run with --help for usage)');
  }
  for (const command of commands.flatMap((c) => [c, ...c.commands]))
    command.description(asParagraphs(command.description()));
  for (const command of commands) {
    // Every command with a remote mode explains the modes under its own --help too.
    if (['init', 'sync', 'status', 'verify', 'cutover', 'cleanup'].includes(command.name()))
      command.addHelpText('after', MODES_HELP.slice(1));
    program.addCommand(command);
  }
  return program;
}

/**
 * Descriptions are written with line breaks for the source's sake; commander wraps each line again at
 * the terminal's width (80 on a pipe), which broke every long line in two. Lines of a paragraph are
 * joined so that commander alone wraps them; blank lines and indented lines (lists, examples) stay.
 */
export function asParagraphs(text: string): string {
  return text.replace(/([^\n])\n(?=[^\n\s])/g, '$1 ');
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code; never calls process.exit. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let exitCode = EXIT_OK;
  const program = buildProgram(io, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" to commander; everything else it raises is a usage error.
      return ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code) ||
        error.exitCode === 0
        ? EXIT_OK
        : EXIT_USAGE;
    }
    if (error instanceof UsageError) {
      io.stderr(`error: ${redact(error.message)}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof ConnectionError) {
      io.stderr(`error: ${redact(error.message)} ${redact(error.remedy)}\n`);
      return EXIT_FAILED;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`error: ${redact(message)}\n`);
    return EXIT_FAILED;
  }
}
