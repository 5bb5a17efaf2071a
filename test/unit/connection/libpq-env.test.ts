import { describe, expect, it } from 'vitest';
import { libpqConninfo, libpqEnvironment } from '../../../src/connection/libpq-env.ts';
import { parseConnectionUrl } from '../../../src/connection/url.ts';

const strict = { allowSelfSignedCerts: false };
const lenient = { allowSelfSignedCerts: true };

describe('libpqEnvironment', () => {
  it('carries every connection setting, the password included, for child tools', () => {
    const spec = parseConnectionUrl(
      'postgres://app:p%40ss@db.example.com:6543/shop?sslmode=verify-full&sslrootcert=/ca.pem&sslcert=/c.pem&sslkey=/k.pem&connect_timeout=12&application_name=copy',
    );
    expect(libpqEnvironment(spec, strict)).toEqual({
      PGHOST: 'db.example.com',
      PGPORT: '6543',
      PGUSER: 'app',
      PGPASSWORD: 'p@ss',
      PGDATABASE: 'shop',
      PGSSLMODE: 'verify-full',
      PGSSLROOTCERT: '/ca.pem',
      PGSSLCERT: '/c.pem',
      PGSSLKEY: '/k.pem',
      PGCONNECT_TIMEOUT: '12',
      PGAPPNAME: 'copy',
    });
  });

  it('fills the defaults and leaves out what the URL does not set', () => {
    expect(libpqEnvironment(parseConnectionUrl('postgres://u@h'), strict, {})).toEqual({
      PGHOST: 'h',
      PGPORT: '5432',
      PGUSER: 'u',
      PGDATABASE: 'postgres',
      PGSSLMODE: 'prefer',
      PGAPPNAME: 'database-replicator',
    });
  });

  it('sets no PGPASSWORD when the URL has none, so libpq can use ~/.pgpass', () => {
    expect(libpqEnvironment(parseConnectionUrl('postgres://u@h/db'), strict, {})).not.toHaveProperty('PGPASSWORD');
    expect(libpqEnvironment(parseConnectionUrl('postgres://u:@h/db'), strict, {})).not.toHaveProperty('PGPASSWORD');
  });

  it("passes the caller's PGPASSWORD and PGPASSFILE through when the URL has no password, and no other PG* variable", () => {
    const parent = {
      PGPASSWORD: 'inherited',
      PGPASSFILE: '/srv/replicator.pgpass',
      PGSSLROOTCERT: '/home/u/root.crt',
      PGOPTIONS: '-c x=1',
    };
    const env = libpqEnvironment(parseConnectionUrl('postgres://u@h/db'), strict, parent);
    expect(env).toMatchObject({ PGPASSWORD: 'inherited', PGPASSFILE: '/srv/replicator.pgpass', PGHOST: 'h' });
    expect(env).not.toHaveProperty('PGSSLROOTCERT');
    expect(env).not.toHaveProperty('PGOPTIONS');
  });

  it("keeps the URL's password over an inherited one, and no PGPASSFILE then", () => {
    const env = libpqEnvironment(parseConnectionUrl('postgres://u:from-url@h/db'), strict, {
      PGPASSWORD: 'inherited',
      PGPASSFILE: '/srv/replicator.pgpass',
    });
    expect(env.PGPASSWORD).toBe('from-url');
    expect(env).not.toHaveProperty('PGPASSFILE');
  });

  it('passes a Unix-socket folder and an IPv6 address as PGHOST as they are', () => {
    expect(
      libpqEnvironment(parseConnectionUrl('postgres://u@%2Fvar%2Frun%2Fpostgresql:5433/db'), strict),
    ).toMatchObject({ PGHOST: '/var/run/postgresql', PGPORT: '5433' });
    expect(libpqEnvironment(parseConnectionUrl('postgres://u@[::1]/db'), strict).PGHOST).toBe('::1');
  });

  it('passes connect_timeout=0 through', () => {
    expect(libpqEnvironment(parseConnectionUrl('postgres://u@h/db?connect_timeout=0'), strict).PGCONNECT_TIMEOUT).toBe(
      '0',
    );
  });

  it.each(['verify-ca', 'verify-full'])(
    'maps --allow-self-signed-certs on %s to sslmode=require without a root certificate',
    (mode) => {
      const env = libpqEnvironment(
        parseConnectionUrl(`postgres://u@h/db?sslmode=${mode}&sslrootcert=/ca.pem&sslcert=/c.pem`),
        lenient,
      );
      expect(env.PGSSLMODE).toBe('require');
      expect(env).not.toHaveProperty('PGSSLROOTCERT');
      expect(env.PGSSLCERT).toBe('/c.pem');
    },
  );

  it('drops the root certificate under the flag in the other modes too, since libpq would verify with it', () => {
    for (const mode of ['allow', 'prefer', 'require']) {
      const env = libpqEnvironment(
        parseConnectionUrl(`postgres://u@h/db?sslmode=${mode}&sslrootcert=/ca.pem`),
        lenient,
      );
      expect(env.PGSSLMODE).toBe(mode);
      expect(env).not.toHaveProperty('PGSSLROOTCERT');
    }
    expect(libpqEnvironment(parseConnectionUrl('postgres://u@h/db?sslmode=disable'), lenient).PGSSLMODE).toBe(
      'disable',
    );
  });

  it('keeps the mode and root certificate without the flag', () => {
    const env = libpqEnvironment(parseConnectionUrl('postgres://u@h/db?sslmode=require&sslrootcert=/ca.pem'), strict);
    expect(env).toMatchObject({ PGSSLMODE: 'require', PGSSLROOTCERT: '/ca.pem' });
  });
});

describe('libpqConninfo', () => {
  it('carries keepalives and the database, never the password', () => {
    const conninfo = libpqConninfo(parseConnectionUrl('postgres://u:Conninfo-Secret@h/shop'));
    expect(conninfo).toBe(
      "dbname='shop' keepalives='1' keepalives_idle='30' keepalives_interval='10' keepalives_count='6'",
    );
    expect(conninfo).not.toContain('Conninfo-Secret');
    expect(conninfo).not.toContain('password');
  });

  it('never carries the user, host or password, whatever they hold', () => {
    const conninfo = libpqConninfo(parseConnectionUrl('postgres://odd%27user:it%27s%20a%5Csecret@db.example.com/shop'));
    expect(conninfo).not.toMatch(/secret|password|user|host/);
  });

  it("quotes values the way libpq reads them (backslash before ' and \\)", () => {
    expect(libpqConninfo(parseConnectionUrl("postgres://u@h/it's%5Cdb"))).toContain("dbname='it\\'s\\\\db'");
    expect(libpqConninfo(parseConnectionUrl('postgres://u@h/my%20db%3Dx'))).toContain("dbname='my db=x'");
  });

  it('names the default database when the URL has none', () => {
    expect(libpqConninfo(parseConnectionUrl('postgres://u@h'))).toMatch(/^dbname='postgres' /);
  });

  it('leaves keepalives out on a Unix socket, where they mean nothing', () => {
    expect(libpqConninfo(parseConnectionUrl('postgres://u@%2Ftmp/shop'))).toBe("dbname='shop'");
  });
});
