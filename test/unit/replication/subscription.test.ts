// The conninfo the target server uses to reach the source: our CA file never goes there.
import { describe, expect, it } from 'vitest';
import { parseConnectionUrl } from '../../../src/connection/url.ts';
import { subscriptionChecksLess, subscriptionConninfo } from '../../../src/replication/subscription.ts';
import { targetTls } from '../../../src/replication/sync.ts';

const url = (query: string) =>
  parseConnectionUrl(`postgresql://repl:pw@shop-db.abc.eu-west-1.rds.amazonaws.com:5432/shop?${query}`);
const strict = { allowSelfSignedCerts: false };

describe('subscriptionConninfo', () => {
  it('drops our sslrootcert and asks the target for require when verify-full names a file on this side', () => {
    const spec = url('sslmode=verify-full&sslrootcert=/home/me/global-bundle.pem');
    const conninfo = subscriptionConninfo(spec, strict);
    expect(conninfo).toBe(
      "host='shop-db.abc.eu-west-1.rds.amazonaws.com' port='5432' dbname='shop' user='repl' password='pw' sslmode='require'",
    );
    expect(conninfo).not.toContain('sslrootcert');
    expect(subscriptionChecksLess(spec, strict)).toBe(true);
    expect(subscriptionConninfo(url('sslmode=verify-ca'), strict)).toContain("sslmode='require'");
  });

  it('keeps verify-full with a CA path on the target server when one is configured', () => {
    const spec = url('sslmode=verify-full&sslrootcert=/home/me/global-bundle.pem');
    const target = { targetSslRootCert: '/rdsdbdata/ca/rds-ca.pem' };
    expect(subscriptionConninfo(spec, strict, target)).toContain(
      "sslmode='verify-full' sslrootcert='/rdsdbdata/ca/rds-ca.pem'",
    );
    expect(subscriptionChecksLess(spec, strict, target)).toBe(false);
    // --allow-self-signed-certs checks nothing anywhere.
    expect(subscriptionConninfo(spec, { allowSelfSignedCerts: true }, target)).toMatch(/sslmode='require'$/);
    expect(subscriptionConninfo(url('sslmode=disable'), strict, target)).not.toContain('sslrootcert');
  });

  it('leaves require and prefer as they are', () => {
    expect(subscriptionConninfo(url('sslmode=require&sslrootcert=/here/ca.pem'), strict)).toMatch(/sslmode='require'$/);
    expect(subscriptionConninfo(url('sslmode=prefer'), strict)).toMatch(/sslmode='prefer'$/);
  });

  it("takes the target's CA path from the URL given for the target's use, unless one is given outright", () => {
    const forTarget = url('sslmode=verify-full&sslrootcert=/target/ca.pem');
    expect(targetTls({ subscriptionSource: forTarget })).toEqual({ targetSslRootCert: '/target/ca.pem' });
    expect(targetTls({ subscriptionSource: forTarget, targetSslRootCert: '/other.pem' })).toEqual({
      targetSslRootCert: '/other.pem',
    });
    expect(targetTls({})).toEqual({ targetSslRootCert: undefined });
  });
});
