import { describe, expect, it } from 'vitest';
import { renderChecks, summarizeChecks, wrapText } from '../../../src/cli/render.ts';
import type { CheckResult } from '../../../src/checks/types.ts';

describe('wrapText', () => {
  it('wraps at spaces and splits only over-long words, losing no character', () => {
    const text = 'GRANT SELECT ON "public"."a_really_long_table_name_that_goes_on" TO "repl";';
    const wrapped = wrapText(text, 20);
    expect(wrapped.split('\n').every((l) => l.length <= 20)).toBe(true);
    expect(wrapped.replace(/\s/g, '')).toBe(text.replace(/\s/g, ''));
    expect(wrapText('a b c', 3)).toBe('a b\nc');
  });
});

describe('renderChecks', () => {
  const checks: CheckResult[] = [
    {
      id: 'a',
      title: 'Source wal_level',
      status: 'fail',
      detail: 'wal_level is replica; logical replication needs wal_level = logical.',
      remedy: "Run ALTER SYSTEM SET wal_level = 'logical' on the source as a superuser, then restart PostgreSQL.",
    },
    { id: 'b', title: 'Sequences', status: 'warn', detail: '2 sequence(s)', remedy: 'cutover copies them' },
    { id: 'c', title: 'Large objects', status: 'pass', detail: 'None.' },
  ];
  it('shows every word of details and remedies within the width, without colour off a terminal', () => {
    const out = renderChecks(checks, {
      stdout: () => undefined,
      stderr: () => undefined,
      env: {},
      isTty: false,
      columns: 100,
    });
    expect(out.split('\n').every((l) => l.length <= 100)).toBe(true);
    expect(out).not.toContain('\u001b[');
    expect(out).not.toContain('…');
    for (const word of ["'logical'", 'restart', 'PostgreSQL.', 'FAIL', 'WARN', 'pass']) expect(out).toContain(word);
  });
  it('summarizes counts', () => {
    expect(summarizeChecks(checks)).toBe('Validation failed: 1 passed, 1 warning(s), 1 failed.\n');
  });
});
