import { UsageError } from './io.ts';

/** A commander argument parser for a whole number in [min, max], refusing anything else with one sentence. */
export function wholeNumber(option: string, min: number, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `of ${min} or more` : `from ${min} to ${max}`;
      throw new UsageError(`${option} takes a whole number ${range}, not "${text}".`);
    }
    return n;
  };
}
