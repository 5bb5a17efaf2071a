import { describe, expect, it } from 'vitest';
import { refreshOrder } from '../../../src/replication/matviews.ts';

describe('refreshOrder', () => {
  it('puts every materialized view after the ones it reads, whatever their names', () => {
    const order = refreshOrder([
      { schema: 'public', name: 'a_report', readsFrom: ['public.m_middle'] },
      { schema: 'public', name: 'm_middle', readsFrom: ['public.z_base', 'other.elsewhere'] },
      { schema: 'public', name: 'z_base', readsFrom: [] },
      { schema: 'public', name: 'b_alone', readsFrom: [] },
    ]);
    expect(order.map((m) => m.name)).toEqual(['z_base', 'm_middle', 'a_report', 'b_alone']);
  });
});
