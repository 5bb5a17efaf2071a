import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/cli/io.ts';
import { wholeNumber } from '../../../src/cli/parsers.ts';

describe('wholeNumber', () => {
  it('accepts whole numbers in range', () => {
    expect(wholeNumber('--jobs', 1, 64)('8')).toBe(8);
    expect(wholeNumber('--timeout', 0)('0')).toBe(0);
  });
  it('refuses fractions, signs, words and out-of-range values with one sentence', () => {
    expect(() => wholeNumber('--jobs', 1, 64)('65')).toThrow(
      new UsageError('--jobs takes a whole number from 1 to 64, not "65".'),
    );
    for (const bad of ['1.5', '-1', 'two', ''])
      expect(() => wholeNumber('--timeout', 0)(bad)).toThrow(/--timeout takes a whole number of 0 or more/);
  });
});
