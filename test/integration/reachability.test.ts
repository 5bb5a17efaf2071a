// The probe of the source from the target (src/replication/reachability.ts) against the harness
// clusters: the target server itself connects, as its subscription will, and nothing is left behind.
// With a TLS source, the subscription's connection is the target's own: our CA file never goes there.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConnectionUrl, withDatabase } from '../../src/connection/url.ts';
import { probeSourceFromTarget, SourceUnreachableFromTarget } from '../../src/replication/reachability.ts';
import { subscriptionConninfo } from '../../src/replication/subscription.ts';
import { clusterUrl, startCluster, type ClusterInfo } from '../../scripts/support/cluster.ts';
import { createTestDatabase, withClient } from '../support/db.ts';

const { source, target } = inject('clusters');
const strict = { allowSelfSignedCerts: false };

async function probe(conninfo: string, database: string): Promise<void> {
  await withClient(target, 'postgres', (client) => probeSourceFromTarget(client, conninfo, database));
}

async function subscriptionsOnTarget(): Promise<string[]> {
  return withClient(target, 'postgres', async (c) =>
    (
      await c.query<{ subname: string }>("SELECT subname FROM pg_subscription WHERE subname LIKE 'dbr\\_probe\\_%'")
    ).rows.map((r) => r.subname),
  );
}

describe('probing the source from the target', () => {
  let db: string;
  beforeAll(async () => {
    db = (await createTestDatabase(source, 'probe')).name;
  });

  it('passes when the target reaches the source, and leaves no subscription, slot or publication behind', async () => {
    await probe(subscriptionConninfo(parseConnectionUrl(clusterUrl(source, db)), strict), db);
    expect(await subscriptionsOnTarget()).toEqual([]);
    const slots = await withClient(
      source,
      'postgres',
      async (c) =>
        (await c.query("SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'dbr\\_probe\\_%'")).rows,
    );
    expect(slots).toEqual([]);
  });

  it('fails with one sentence and a remedy when the password is wrong or nothing listens, before anything is made', async () => {
    const wrongPassword = subscriptionConninfo(
      parseConnectionUrl(clusterUrl(source, db, source.user, 'not-the-password')),
      strict,
    );
    const error = await probe(wrongPassword, db).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceUnreachableFromTarget);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^The target could not connect to the source for database ${db} \\(.*password authentication failed.*\\); the target server itself must reach the source: on RDS allow`,
      ),
    );
    expect((error as Error).message).not.toContain('not-the-password');

    const closed = subscriptionConninfo(
      withDatabase({ ...parseConnectionUrl(clusterUrl(source, db)), port: 1 }, db),
      strict,
    );
    await expect(probe(closed, db)).rejects.toThrow(
      /The target could not connect to the source for database .*(refused|failed)/,
    );
    expect(await subscriptionsOnTarget()).toEqual([]);
  });

  it('passes a refusal that is not about the connection on as it is', async () => {
    await withClient(target, 'postgres', async (c) => {
      await c.query('CREATE ROLE probe_nobody LOGIN');
      try {
        await c.query('SET ROLE probe_nobody');
        const error = await probeSourceFromTarget(
          c,
          subscriptionConninfo(parseConnectionUrl(clusterUrl(source, db)), strict),
          db,
        ).catch((e: unknown) => e);
        expect(error).not.toBeInstanceOf(SourceUnreachableFromTarget);
        expect((error as Error).message).toMatch(/permission denied|must be superuser/);
      } finally {
        await c.query('RESET ROLE');
        await c.query('DROP ROLE probe_nobody');
      }
    });
  });
});

describe('the subscription of a TLS source checked with our CA file', () => {
  let tls: ClusterInfo & { stop: () => Promise<void> };
  beforeAll(async () => {
    tls = await startCluster({ name: 'probe-tls', tls: { hostName: 'db.internal.example' } });
  });
  afterAll(async () => {
    await tls?.stop();
  });

  it('connects from the target with sslmode=require, since our CA file is a path on this side only', async () => {
    // verify-ca with a CA file here: our connections check the certificate; the target has no such file.
    const spec = parseConnectionUrl(
      `${clusterUrl(tls)}?sslmode=verify-ca&sslrootcert=${encodeURIComponent(tls.serverCertFile!)}`,
    );
    const conninfo = subscriptionConninfo(spec, strict);
    expect(conninfo).toContain("sslmode='require'");
    expect(conninfo).not.toContain(tls.serverCertFile!);
    // require: encrypted (it fails on a server without TLS), the self-signed certificate not checked by the target.
    await probe(conninfo, 'postgres');
  });

  it('checks with a CA path on the target when one is given, and says so when the target has no such file', async () => {
    const spec = parseConnectionUrl(
      `${clusterUrl(tls)}?sslmode=verify-ca&sslrootcert=${encodeURIComponent(tls.serverCertFile!)}`,
    );
    // The harness's target runs on this machine, so our CA file is also a path the target server can read.
    await probe(subscriptionConninfo(spec, strict, { targetSslRootCert: tls.serverCertFile! }), 'postgres');
    const missing = subscriptionConninfo(spec, strict, { targetSslRootCert: '/nonexistent/rds-ca.pem' });
    await expect(probe(missing, 'postgres')).rejects.toThrow(
      /The target could not connect to the source for database postgres \(.*root certificate file "\/nonexistent\/rds-ca\.pem" does not exist/,
    );
    expect(await subscriptionsOnTarget()).toEqual([]);
  });
});
