import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/database-replicator.js', import.meta.url));

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real CLI in a child process, as a user would. URLs go through the environment unless a
 * test passes them as flags on purpose.
 */
export async function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  options: { timeoutMs?: number } = {},
): Promise<CliRun> {
  const result = await execa(process.execPath, [bin, ...args], {
    reject: false,
    stdin: 'ignore',
    // The password fallbacks of the test runner's own shell must not decide how a test connects.
    env: {
      DATABASE_REPLICATOR_SOURCE_URL: undefined,
      DATABASE_REPLICATOR_TARGET_URL: undefined,
      PGPASSWORD: undefined,
      PGPASSFILE: undefined,
      ...env,
    },
    extendEnv: true,
    timeout: options.timeoutMs ?? 120_000,
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

export function endpoints(source: string, target: string): Record<string, string> {
  return { DATABASE_REPLICATOR_SOURCE_URL: source, DATABASE_REPLICATOR_TARGET_URL: target };
}
