import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClient } from '../../src/connection/client.ts';
import { ConnectionError } from '../../src/connection/errors.ts';
import { parseConnectionUrl } from '../../src/connection/url.ts';
import { CopyInRelay, CopyOutRelay } from '../../src/snapshot/copy-relay.ts';
import { clusterUrl, startCluster, type ClusterInfo } from '../../scripts/support/cluster.ts';

/**
 * A cluster serving TLS with a self-signed certificate made out to another host name than the one we
 * connect to: the cases RDS users meet (sslmode=require without a CA bundle, verify-ca, verify-full).
 */
describe('TLS against a server with a self-signed certificate', () => {
  let cluster: ClusterInfo & { stop: () => Promise<void> };
  beforeAll(async () => {
    cluster = await startCluster({ name: 'tls', tls: { hostName: 'db.internal.example' } });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  async function connect(query: string, allowSelfSignedCerts = false): Promise<boolean> {
    const spec = parseConnectionUrl(`${clusterUrl(cluster)}?${query}`);
    const client = await openClient(spec, { role: 'source', allowSelfSignedCerts });
    try {
      const { rows } = await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      return rows[0]!.ssl;
    } finally {
      await client.end();
    }
  }

  async function failure(query: string, allowSelfSignedCerts = false): Promise<ConnectionError> {
    const error = await connect(query, allowSelfSignedCerts).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    return error as ConnectionError;
  }

  it('encrypts without checking the certificate for sslmode=require and prefer, as libpq does', async () => {
    expect(await connect('sslmode=require')).toBe(true);
    expect(await connect('sslmode=prefer')).toBe(true);
    expect(await connect('sslmode=disable')).toBe(false);
  });

  it('refuses verify-ca without a trusted root, suggesting --allow-self-signed-certs or sslrootcert', async () => {
    const error = await failure('sslmode=verify-ca');
    expect(error.reason).toBe('certificate-untrusted');
    expect(error.remedy).toContain('--allow-self-signed-certs');
    expect(error.remedy).toContain('sslrootcert');
  });

  it('accepts the self-signed certificate with --allow-self-signed-certs', async () => {
    expect(await connect('sslmode=verify-full', true)).toBe(true);
  });

  it('verify-ca checks the chain against sslrootcert but not the host name', async () => {
    expect(await connect(`sslmode=verify-ca&sslrootcert=${encodeURIComponent(cluster.serverCertFile!)}`)).toBe(true);
  });

  it('verify-full also checks the host name', async () => {
    const error = await failure(`sslmode=verify-full&sslrootcert=${encodeURIComponent(cluster.serverCertFile!)}`);
    expect(error.reason).toBe('certificate-host-mismatch');
  });

  it('names a missing sslrootcert file', async () => {
    await expect(connect('sslmode=verify-ca&sslrootcert=/nonexistent/root.crt')).rejects.toThrow(
      /\/nonexistent\/root\.crt/,
    );
  });

  it('relays a binary COPY between two TLS sessions byte for byte', async () => {
    const spec = parseConnectionUrl(`${clusterUrl(cluster)}?sslmode=require`);
    const from = await openClient(spec, { role: 'source', allowSelfSignedCerts: false });
    const to = await openClient(spec, { role: 'target', allowSelfSignedCerts: false });
    try {
      await from.query(
        `CREATE TABLE relay_src AS SELECT i AS id, md5(i::text) || repeat('x', i % 500) AS body, jsonb_build_object('i', i) AS doc FROM generate_series(1, 20000) i`,
      );
      await to.query('CREATE TABLE relay_dst (LIKE relay_src)');
      await pipeline(
        from.query(new CopyOutRelay('COPY relay_src TO STDOUT WITH (FORMAT binary)')),
        to.query(new CopyInRelay('COPY relay_dst FROM STDIN WITH (FORMAT binary)')),
      );
      const digest = (t: string) =>
        `SELECT count(*)::int AS n, md5(string_agg(x::text, '|' ORDER BY id)) AS h FROM ${t} x`;
      const expected = (await from.query(digest('relay_src'))).rows[0];
      expect(expected.n).toBe(20000);
      expect((await to.query(digest('relay_dst'))).rows[0]).toEqual(expected);
    } finally {
      await from.end();
      await to.end();
    }
  });
});
