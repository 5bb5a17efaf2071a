import { describe, expect, it } from 'vitest';
import { redact, registerSecret } from '../../../src/connection/redact.ts';

describe('redact', () => {
  it('masks the password of any postgres URL in the text', () => {
    expect(redact('failed: postgres://app:hunter2@db:5432/shop and postgresql://b:x%40y@h/db')).toBe('failed: postgres://app:***@db:5432/shop and postgresql://b:***@h/db');
    expect(redact('postgres://app@db/shop')).toBe('postgres://app@db/shop');
  });

  it('masks password= in conninfo strings, quoted or not, and PGPASSWORD=', () => {
    expect(redact("host=h password=hunter2 dbname=x")).toBe('host=h password=*** dbname=x');
    expect(redact("host=h password='it''s secret' dbname=x")).toBe('host=h password=*** dbname=x');
    expect(redact("host=h password='it\\'s secret' dbname=x")).toBe('host=h password=*** dbname=x');
    expect(redact('env PGPASSWORD=hunter2 pg_dump')).toBe('env PGPASSWORD=*** pg_dump');
  });

  it('masks registered secrets wherever they appear, also percent-encoded', () => {
    registerSecret('S3cret@Value');
    expect(redact('server said S3cret@Value and S3cret%40Value')).toBe('server said *** and ***');
  });

  it('ignores very short secrets, which would mangle unrelated text', () => {
    registerSecret('ab');
    expect(redact('table abc')).toBe('table abc');
  });
});
