import { createInterface } from 'node:readline/promises';
import { UsageError, type CliIo } from './io.ts';

/**
 * Asks a yes/no question on the terminal (default no). Without a terminal there is nobody to ask, so
 * the command refuses and says how to proceed without asking.
 */
export async function confirm(io: CliIo, command: string, question: string): Promise<boolean> {
  if (!io.isTty || !process.stdin.isTTY)
    throw new UsageError(
      `${command} asks for confirmation but there is no terminal to ask on; pass --yes to proceed without asking.`,
    );
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}
