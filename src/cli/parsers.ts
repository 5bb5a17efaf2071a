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

/** A number above 0 and at most `max` (fractions allowed), for limits such as --max-retained-wal-gb. */
export function positiveNumber(option: string, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(n > 0) || n > max)
      throw new UsageError(`${option} takes a number above 0 and at most ${max}, not "${text}".`);
    return n;
  };
}
