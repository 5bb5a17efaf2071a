import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Timed {
  seconds: number;
  /** Peak resident memory in MB, when measured. */
  peakMb?: number;
}

/** Runs a command to completion and times it; with /usr/bin/time, also its peak RSS. Throws on failure with stderr. */
export async function timeCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  measureMemory = false,
): Promise<Timed> {
  const useTime = measureMemory && existsSync('/usr/bin/time');
  const file = useTime ? '/usr/bin/time' : command;
  const argv = useTime ? ['-f', 'PEAK_KB=%M', command, ...args] : args;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0)
        return reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr.slice(-2000)}`));
      const peak = /PEAK_KB=(\d+)/.exec(stderr);
      resolve({ seconds, ...(peak ? { peakMb: Number(peak[1]) / 1024 } : {}) });
    });
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function commandExists(command: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
}

export function machineDescription(): string {
  const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown CPU';
  const cores = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? 0;
  const memKb = Number(readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s*(\d+)/)?.[1] ?? 0);
  return `${cores} cores (${cpu}), ${(memKb / 1048576).toFixed(0)} GiB RAM`;
}
