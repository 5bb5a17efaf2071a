import { emitKeypressEvents } from 'node:readline';

/** Thrown by a prompt when the user pressed Esc: the wizard goes back one step. */
export class GoBack extends Error {
  override name = 'GoBack';
}

/** Thrown when the user left the wizard (Ctrl-C): nothing is done. */
export class WizardCancelled extends Error {
  override name = 'WizardCancelled';
}

export interface Choice<T> {
  name: string;
  value: T;
  checked?: boolean;
  description?: string;
}

/** The three kinds of question the wizard asks; injected so the flow can be tested without a terminal. */
export interface WizardPrompts {
  checkbox<T>(config: { message: string; choices: Choice<T>[]; required?: boolean }): Promise<T[]>;
  select<T>(config: { message: string; choices: Choice<T>[]; default?: T }): Promise<T>;
  input(config: { message: string; default?: string; validate?: (value: string) => true | string }): Promise<string>;
}

/**
 * Inquirer's prompts on the process's terminal, with Esc as "back": each prompt gets an AbortSignal
 * that a lone Esc key fires (Inquirer itself has no back key).
 */
export function terminalPrompts(stdin: NodeJS.ReadStream = process.stdin): WizardPrompts {
  emitKeypressEvents(stdin);
  const ask = async <R>(run: (signal: AbortSignal) => Promise<R>): Promise<R> => {
    const controller = new AbortController();
    const onKey = (_: unknown, key: { name?: string } | undefined) => {
      if (key?.name === 'escape') controller.abort();
    };
    stdin.on('keypress', onKey);
    try {
      return await run(controller.signal);
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'AbortPromptError') throw new GoBack('back');
      if (name === 'ExitPromptError')
        throw new WizardCancelled('The interactive plan was cancelled; nothing was done.');
      throw error;
    } finally {
      stdin.off('keypress', onKey);
    }
  };
  const pageSize = Math.max(7, Math.min(20, (process.stdout.rows ?? 24) - 8));
  // Loaded on first use: commands that never ask do not pay for the prompt library at start-up.
  const inquirer = () => import('@inquirer/prompts');
  return {
    checkbox: async (config) => {
      const { checkbox } = await inquirer();
      return ask((signal) => checkbox({ ...config, pageSize, loop: false }, { signal }));
    },
    select: async (config) => {
      const { select } = await inquirer();
      return ask((signal) => select({ ...config, pageSize, loop: false }, { signal }));
    },
    input: async (config) => {
      const { input } = await inquirer();
      return ask((signal) => input(config, { signal }));
    },
  };
}
