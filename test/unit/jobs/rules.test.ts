import { describe, expect, it } from 'vitest';
import { canTransition, JOB_STATES, type JobRecord } from '../../../src/jobs/index.ts';
import {
  dropUndefined,
  refusal,
  stepRecord,
  stepSortKey,
  transitionFields,
  verifySortKey,
} from '../../../src/jobs/rules.ts';

describe('canTransition', () => {
  // Rows: from; columns: to, in JOB_STATES order (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED).
  const table: Record<string, boolean[]> = {
    PENDING: [true, true, true, true, true],
    RUNNING: [false, true, true, true, true],
    SUCCEEDED: [false, false, false, false, false],
    FAILED: [false, false, false, false, false],
    CANCELLED: [false, false, false, false, false],
  };
  it.each(JOB_STATES.flatMap((from) => JOB_STATES.map((to, i) => [from, to, table[from]![i]!] as const)))(
    '%s -> %s: %s',
    (from, to, allowed) => {
      expect(canTransition(from, to)).toBe(allowed);
    },
  );
});

describe('refusal', () => {
  const job = (state: JobRecord['state']) => ({ state }) as JobRecord;
  it('names the rule that refused a write', () => {
    expect(refusal('j', undefined)?.name).toBe('JobNotFoundError');
    expect(refusal('j', job('FAILED'))?.name).toBe('JobAlreadyFinishedError');
    expect(refusal('j', job('RUNNING'), 'PENDING')?.name).toBe('InvalidTransitionError');
    expect(refusal('j', job('RUNNING'), 'SUCCEEDED')).toBeUndefined();
    expect(refusal('j', job('RUNNING'))).toBeUndefined();
  });
});

describe('transitionFields', () => {
  it('stamps startedAt only on the first RUNNING and endedAt only on finishing', () => {
    expect(transitionFields(undefined, 'RUNNING', {}, 'T1')).toEqual({ updatedAt: 'T1', startedAt: 'T1' });
    expect(transitionFields({ startedAt: 'T0' }, 'RUNNING', { phase: 'p' }, 'T1')).toEqual({
      updatedAt: 'T1',
      phase: 'p',
    });
    expect(transitionFields({ startedAt: 'T0' }, 'CANCELLED', { cause: 'user' }, 'T2')).toEqual({
      updatedAt: 'T2',
      endedAt: 'T2',
      cause: 'user',
    });
  });
});

describe('sort keys', () => {
  it('order by time whatever the precision the writer used', () => {
    const keys = ['2025-01-01T00:00:01Z', '2025-01-01T00:00:00.500Z', '2025-01-01T00:00:00Z'].map((startedAt) =>
      stepSortKey({ startedAt, step: 's' }),
    );
    expect([...keys].sort()).toEqual([keys[2], keys[1], keys[0]]);
  });
  it('keep names with # or spaces apart', () => {
    const t = '2025-01-01T00:00:00.000Z';
    expect(stepSortKey({ startedAt: t, step: 'a#b', database: 'c' })).not.toBe(
      stepSortKey({ startedAt: t, step: 'a', database: 'b#c' }),
    );
    expect(verifySortKey({ startedAt: t, runId: 'run 1' })).toBe(`VERIFY#${t}#run%201`);
  });
});

describe('stepRecord', () => {
  it('computes seconds when the writer left them out, and keeps given ones', () => {
    const base = {
      jobId: 'j',
      step: 's',
      state: 'SUCCEEDED' as const,
      startedAt: '2025-01-01T00:00:00.000Z',
      endedAt: '2025-01-01T00:01:30.000Z',
    };
    expect(stepRecord(base).seconds).toBe(90);
    expect(stepRecord({ ...base, seconds: 12 }).seconds).toBe(12);
    expect(stepRecord({ ...base, endedAt: undefined })).not.toHaveProperty('seconds');
  });
});

describe('dropUndefined', () => {
  it('removes undefined members at every depth', () => {
    expect(dropUndefined({ a: undefined, b: { c: undefined, d: 1 }, e: [{ f: undefined }] })).toEqual({
      b: { d: 1 },
      e: [{}],
    });
    expect(Object.keys(dropUndefined({ a: undefined, b: 0 }))).toEqual(['b']);
  });
});
