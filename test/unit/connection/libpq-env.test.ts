import { describe, expect, it } from 'vitest';
import { libpqConninfo, libpqEnvironment } from '../../../src/connection/libpq-env.ts';
import { parseConnectionUrl } from '../../../src/connection/url.ts';

const strict = { allowSelfSignedCerts: false };

describe('libpqEnvironment', () => {
  it('carries every connection setting, the password included, for child tools', () => {
    const spec = parseConnectionUrl("postgres://app:p%40ss@db.example.com:6543/shop?sslmode=verify-full&sslrootcert=/ca.pem&sslcert=/c.pem&sslkey=/k.pem&connect_timeout=12&application_name=copy");
    expect(libpqEnvironment(spec, strict)).toEqual({
      PGHOST: 'db.example.com', PGPORT: '6543', PGUSER: 'app', PGPASSWORD: 'p@ss', PGDATABASE: 'shop', PGSSLMODE: 'verify-full',
      PGSSLROOTCERT: '/ca.pem', PGSSLCERT: '/c.pem', PGSSLKEY: '/k.pem', PGCONNECT_TIMEOUT: '12', PGAPPNAME: 'copy',
    });
  });

  it('sets no PGPASSWORD when the URL has none, so libpq can use ~/.pgpass', () => {
    expect(libpqEnvironment(parseConnectionUrl('postgres://u@h/db'), strict)).not.toHaveProperty('PGPASSWORD');
  });

  it('maps --allow-self-signed-certs to sslmode=require without a root certificate', () => {
    const env = libpqEnvironment(parseConnectionUrl('postgres://u@h/db?sslmode=verify-full&sslrootcert=/ca.pem'), { allowSelfSignedCerts: true });
    expect(env.PGSSLMODE).toBe('require');
    expect(env).not.toHaveProperty('PGSSLROOTCERT');
  });
});

describe('libpqConninfo', () => {
  it('carries keepalives and the database, never the password', () => {
    const conninfo = libpqConninfo(parseConnectionUrl('postgres://u:Conninfo-Secret@h/shop'));
    expect(conninfo).toBe("dbname='shop' keepalives='1' keepalives_idle='30' keepalives_interval='10' keepalives_count='6'");
    expect(conninfo).not.toContain('Conninfo-Secret');
    expect(conninfo).not.toContain('password');
  });

  it("quotes values the way libpq reads them (backslash before ' and \\)", () => {
    expect(libpqConninfo(parseConnectionUrl("postgres://u@h/it's%5Cdb"))).toContain("dbname='it\\'s\\\\db'");
  });
});
