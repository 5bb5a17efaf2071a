import { spawn, type ChildProcess } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';

/** Keys as a terminal sends them. */
export const KEY = { enter: '\r', space: ' ', down: '\u001b[B', up: '\u001b[A', escape: '\u001b' } as const;

/**
 * A command run on a pseudo-terminal (util-linux `script`), so it sees a real TTY on stdin and stdout:
 * raw mode, key presses, cursor movement. `waitFor` reads the screen text with the escape codes removed.
 */
export class TerminalSession {
  readonly child: ChildProcess;
  readonly exited: Promise<number>;
  private raw = '';
  private mark = 0;

  constructor(argv: string[], env: NodeJS.ProcessEnv, size = { columns: 160, rows: 50 }) {
    const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    this.child = spawn(
      'script',
      ['-qfec', `stty cols ${size.columns} rows ${size.rows}; exec ${quoted}`, '/dev/null'],
      { env: { ...env, TERM: 'xterm-256color' }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child.stdout!.on('data', (d: Buffer) => (this.raw += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.raw += d.toString()));
    this.exited = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('exit', (code) => resolve(code ?? -1));
    });
  }

  /** All output so far as written, escape codes included. */
  get output(): string {
    return this.raw;
  }

  /** All output so far, escape codes removed. */
  get text(): string {
    return stripVTControlCharacters(this.raw);
  }

  /** Waits until `pattern` appears in the output written since the previous wait matched. */
  async waitFor(pattern: string | RegExp, timeoutMs = 30_000): Promise<string> {
    const started = Date.now();
    for (;;) {
      const fresh = stripVTControlCharacters(this.raw.slice(this.mark));
      const found = typeof pattern === 'string' ? fresh.indexOf(pattern) : fresh.search(pattern);
      if (found >= 0) {
        this.mark = this.raw.length;
        return fresh;
      }
      if (this.child.exitCode !== null)
        throw new Error(
          `the program exited (${this.child.exitCode}) before showing ${pattern}; it showed:\n${this.text.slice(-3000)}`,
        );
      if (Date.now() - started > timeoutMs)
        throw new Error(
          `${pattern} did not appear within ${timeoutMs} ms; the screen showed:\n${this.text.slice(-3000)}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends keys; a lone Esc needs a pause after it, or the terminal reads it as the start of a sequence. */
  async press(...keys: string[]): Promise<void> {
    for (const key of keys) {
      this.child.stdin!.write(key);
      await new Promise((r) => setTimeout(r, key === KEY.escape ? 700 : 60));
    }
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
