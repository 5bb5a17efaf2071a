import { describe, expect, it } from 'vitest';
import { childEnvironment } from '../../../src/pgtools/run.ts';

describe('childEnvironment', () => {
  it("keeps the caller's PG* settings and drops inherited ones", () => {
    const env = childEnvironment(
      { PGHOST: 'db', PGPASSWORD: 'x' },
      { PATH: '/bin', PGSSLROOTCERT: '/home/u/.postgresql/root.crt', PGSERVICE: 'prod', HOME: '/home/u' },
    );
    expect(env).toEqual({ PATH: '/bin', HOME: '/home/u', PGHOST: 'db', PGPASSWORD: 'x' });
  });
});
