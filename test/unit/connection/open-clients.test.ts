import type pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { openClients } from '../../../src/connection/client.ts';

function fakeClient(): pg.Client & { end: ReturnType<typeof vi.fn> } {
  return { end: vi.fn(async () => undefined) } as unknown as pg.Client & { end: ReturnType<typeof vi.fn> };
}

describe('openClients', () => {
  it('returns every client, in order, when all connect', async () => {
    const [a, b] = [fakeClient(), fakeClient()];
    expect(await openClients([Promise.resolve(a), Promise.resolve(b)])).toEqual([a, b]);
    expect(a.end).not.toHaveBeenCalled();
  });

  it('ends the clients that connected when another fails, and rethrows that failure', async () => {
    const [a, b] = [fakeClient(), fakeClient()];
    const refused = new Error('Could not connect to the target');
    // The failure comes first and the others connect after it: they are still waited for, then ended.
    const late = new Promise<pg.Client>((resolve) => setTimeout(() => resolve(b), 20));
    await expect(openClients([Promise.resolve(a), Promise.reject(refused), late])).rejects.toBe(refused);
    expect(a.end).toHaveBeenCalledOnce();
    expect(b.end).toHaveBeenCalledOnce();
  });

  it('still rethrows the first failure when ending a client fails too', async () => {
    const a = fakeClient();
    a.end.mockRejectedValue(new Error('socket gone'));
    const refused = new Error('refused');
    await expect(
      openClients([Promise.resolve(a), Promise.reject(refused), Promise.reject(new Error('second'))]),
    ).rejects.toBe(refused);
  });
});
