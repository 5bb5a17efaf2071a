import { describe, expect, it } from 'vitest';
import { redact, registerSecret } from '../../../src/connection/redact.ts';

describe('redact', () => {
  it('leaves text without secrets alone', () => {
    expect(redact('')).toBe('');
    expect(redact('COPY public.orders: 12 rows, user=app host=db')).toBe(
      'COPY public.orders: 12 rows, user=app host=db',
    );
    expect(redact('postgres://app@db/shop and postgres://db:5432/shop')).toBe(
      'postgres://app@db/shop and postgres://db:5432/shop',
    );
  });

  it('masks the password of any postgres URL in the text', () => {
    expect(redact('failed: postgres://app:hunter2@db:5432/shop and postgresql://b:x%40y@h/db')).toBe(
      'failed: postgres://app:***@db:5432/shop and postgresql://b:***@h/db',
    );
    expect(redact('POSTGRESQL://app:hunter2@db/shop')).toBe('POSTGRESQL://app:***@db/shop');
  });

  it('masks a password with an unencoded @ or / whole', () => {
    expect(redact('bad url postgres://u:p@ss@host/db here')).toBe('bad url postgres://u:***@host/db here');
    expect(redact("'postgres://u:pa/ss@host/db'")).toBe("'postgres://u:***@host/db'");
  });

  it('masks each URL of a JSON line separately', () => {
    expect(redact('{"a":"postgres://u:p1-x@h1/db","b":"postgresql://v:p2-y@h2/db"}')).toBe(
      '{"a":"postgres://u:***@h1/db","b":"postgresql://v:***@h2/db"}',
    );
  });

  it('masks password= in conninfo strings, quoted or not', () => {
    expect(redact('host=h password=hunter2 dbname=x')).toBe('host=h password=*** dbname=x');
    expect(redact("host=h password = 'it''s secret' dbname=x")).toBe('host=h password = *** dbname=x');
    expect(redact("host=h password='it\\'s secret' dbname=x")).toBe('host=h password=*** dbname=x');
    expect(redact('host=h password="two words" dbname=x')).toBe('host=h password=*** dbname=x');
    expect(redact("CONNECTION 'host=h PASSWORD=hunter2'")).toBe("CONNECTION 'host=h PASSWORD=***'");
  });

  it('masks PGPASSWORD=, quoted or not', () => {
    expect(redact('env PGPASSWORD=hunter2 pg_dump')).toBe('env PGPASSWORD=*** pg_dump');
    expect(redact("env PGPASSWORD='two words' pg_dump")).toBe('env PGPASSWORD=*** pg_dump');
  });

  it('masks the password of a JSON secret document', () => {
    expect(redact('{"username":"app","password":"hunter\\"2","host":"db"}')).toBe(
      '{"username":"app","password":"***","host":"db"}',
    );
  });

  it('masks registered secrets wherever they appear, also percent-encoded in either hex case and JSON-escaped', () => {
    registerSecret('S3cret@Value/"q"');
    expect(
      redact(
        'said S3cret@Value/"q" and S3cret%40Value%2F%22q%22 and S3cret%40Value%2f%22q%22 and {"x":"S3cret@Value/\\"q\\""}',
      ),
    ).toBe('said *** and *** and *** and {"x":"***"}');
  });

  it('masks a longer secret whole when it contains a shorter one', () => {
    registerSecret('Outer-Inner-Secret');
    registerSecret('Inner-Secret');
    expect(redact('x Outer-Inner-Secret y Inner-Secret')).toBe('x *** y ***');
  });

  it('treats secrets as text, not patterns', () => {
    registerSecret('a.b*c+d');
    expect(redact('aXbbc+d a.b*c+d')).toBe('aXbbc+d ***');
  });

  it('ignores missing and very short secrets, which would mangle unrelated text', () => {
    registerSecret(undefined);
    registerSecret('');
    registerSecret('abc');
    expect(redact('table abc')).toBe('table abc');
  });
});
