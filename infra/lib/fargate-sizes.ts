/**
 * The CPU and memory combinations Fargate accepts (Linux): for each CPU value (CPU units, 1024 = one
 * vCPU), the memory values in MiB. Checking them at synth saves a failed deployment.
 */
const range = (from: number, to: number, step: number): number[] =>
  Array.from({ length: (to - from) / step + 1 }, (_, i) => from + i * step);

export const FARGATE_SIZES: Readonly<Record<number, readonly number[]>> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096, 1024),
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
  8192: range(16384, 61440, 4096),
  16384: range(32768, 122880, 8192),
};

export const DEFAULT_TASK_CPU = 1024;
export const DEFAULT_TASK_MEMORY = 2048;

/** Undefined when Fargate runs a task of this size, otherwise one sentence naming the allowed values. */
export function fargateSizeProblem(cpu: number, memoryMiB: number): string | undefined {
  const memories = FARGATE_SIZES[cpu];
  if (!memories)
    return `taskCpu ${cpu} is not a Fargate CPU value: use one of ${Object.keys(FARGATE_SIZES).join(', ')}.`;
  if (!memories.includes(memoryMiB)) {
    const allowed =
      memories.length <= 4
        ? memories.join(', ')
        : `${memories[0]} to ${memories.at(-1)} in steps of ${memories[1]! - memories[0]!}`;
    return `taskMemory ${memoryMiB} does not go with taskCpu ${cpu}: Fargate allows ${allowed} MiB for it.`;
  }
  return undefined;
}
