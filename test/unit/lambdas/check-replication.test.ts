import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { checkReplication, handler, type ReplicationSides } from '../../../lambdas/check-replication.ts';
import { assertNoSecrets } from '../../support/no-secrets.ts';
import type { ConnectionSpec } from '../../../src/connection/url.ts';
import { IN_SYNC_BYTES, type SlotStatus, type SubscriptionStatus } from '../../../src/replication/status.ts';
import type { DriftFinding } from '../../../src/drift/types.ts';
import { lambdaContext, SOURCE_ARN, TARGET_ARN, withLogs } from '../../support/lambda.ts';

const smMock = mockClient(SecretsManagerClient);
const secrets = new SecretsManagerClient({ region: 'eu-west-1' });
const SOURCE_PASSWORD = 'Repl-Src-Pa55-13';
const TARGET_PASSWORD = 'Repl-Tgt-Pa55-14';

const slot = (o: Partial<SlotStatus> = {}): SlotStatus => ({
  exists: true,
  active: true,
  walStatus: 'reserved',
  safeWalSize: null,
  retainedBytes: 4096,
  lagBytes: 120,
  currentLsn: '0/3000000',
  confirmedFlushLsn: '0/2FFFF88',
  ...o,
});
const subscription = (o: Partial<SubscriptionStatus> = {}): SubscriptionStatus => ({
  exists: true,
  enabled: true,
  workerRunning: true,
  receivedLsn: '0/3000000',
  latestEndLsn: '0/3000000',
  lastMessageAt: null,
  lagSeconds: 0.4,
  tables: { 'public.a': 'ready', 'public.b': 'ready' },
  applyErrors: 0,
  syncErrors: 0,
  workerAgeSeconds: 600,
  ...o,
});

const event = {
  jobId: 'job-6',
  database: 'shop',
  sourceSecretArn: SOURCE_ARN,
  targetSecretArn: TARGET_ARN,
  subscription: 'dbr_job6_shop_abc123',
  slot: 'dbr_job6_shop_abc123',
};

beforeEach(() => {
  smMock.reset();
  smMock.on(GetSecretValueCommand, { SecretId: SOURCE_ARN }).resolves({
    SecretString: JSON.stringify({
      username: 'repl',
      password: SOURCE_PASSWORD,
      host: '127.0.0.1',
      port: 1,
      dbname: 'postgres',
    }),
  });
  smMock.on(GetSecretValueCommand, { SecretId: TARGET_ARN }).resolves({
    SecretString: JSON.stringify({ username: 'admin', password: TARGET_PASSWORD, host: '127.0.0.1', port: 1 }),
  });
});

describe('checkReplication', () => {
  it('reports in sync, reading the slot and subscription of the named databases', async () => {
    const seen: { source: ConnectionSpec; target: ConnectionSpec; names: object }[] = [];
    const result = await checkReplication(
      { ...event, targetDatabase: 'shop_copy' },
      {
        secrets,
        readSides: async (source, target, names): Promise<ReplicationSides> => (
          seen.push({ source, target, names }),
          { slot: slot(), subscription: subscription(), drift: [] }
        ),
      },
    );
    expect(seen[0]!.source).toMatchObject({ database: 'shop', password: SOURCE_PASSWORD });
    expect(seen[0]!.target).toMatchObject({ database: 'shop_copy', password: TARGET_PASSWORD });
    expect(seen[0]!.names).toEqual({ slot: event.slot, subscription: event.subscription });
    expect(result).toEqual({
      jobId: 'job-6',
      database: 'shop',
      targetDatabase: 'shop_copy',
      slot: event.slot,
      subscription: event.subscription,
      inSync: true,
      verdict: 'in sync',
      reason: '120 bytes behind',
      lagBytes: 120,
      lagSeconds: 0.4,
      retainedBytes: 4096,
      diskRisk: false,
      slotExists: true,
      slotActive: true,
      subscriptionExists: true,
      subscriptionEnabled: true,
      workerRunning: true,
      tablesNotReady: 0,
      applyErrors: 0,
      syncErrors: 0,
      drift: [],
      driftKey: '',
    });
    assertNoSecrets(result, [SOURCE_PASSWORD, TARGET_PASSWORD]);
  });

  it.each([
    [
      'catching up',
      { slot: slot({ lagBytes: IN_SYNC_BYTES + 1 }), subscription: subscription(), drift: [] },
      {},
      'catching up',
      0,
    ],
    [
      'tables still copying',
      {
        slot: slot(),
        subscription: subscription({ tables: { 'public.a': 'ready', 'public.b': 'copying' } }),
        drift: [],
      },
      {},
      'initializing',
      1,
    ],
    [
      'a missing subscription after sync',
      { slot: slot({ active: false }), subscription: subscription({ exists: false, tables: {} }), drift: [] },
      {},
      'broken',
      0,
    ],
    [
      'a missing subscription before sync',
      { slot: slot({ active: false }), subscription: subscription({ exists: false, tables: {} }), drift: [] },
      { subscribed: false },
      'initializing',
      0,
    ],
  ] as const)('is not in sync with %s', async (_what, sides, extra, verdict, notReady) => {
    const result = await checkReplication(
      { ...event, ...extra },
      { secrets, readSides: async () => ({ ...sides, drift: [] }) },
    );
    expect(result).toMatchObject({ inSync: false, verdict, tablesNotReady: notReady });
  });

  it('explains a failing apply worker by the schema drift, with the statement and a key that changes with the drift', async () => {
    const added: DriftFinding = {
      database: 'shop',
      table: 'public.orders',
      kind: 'column added',
      column: 'c',
      message: 'column c was added to public.orders on the source; the target lacks it',
      statements: [{ on: 'target', sql: 'ALTER TABLE "public"."orders" ADD COLUMN "c" integer DEFAULT 7' }],
      additive: true,
      blocksReplication: true,
    };
    const failing = subscription({ applyErrors: 4, workerAgeSeconds: 2 });
    const result = await checkReplication(event, {
      secrets,
      readSides: async () => ({ slot: slot(), subscription: failing, drift: [added] }),
    });
    expect(result).toMatchObject({
      verdict: 'broken',
      reason:
        'schema drift stops replication: column c was added to public.orders on the source; the target lacks it; run sync --apply-ddl to fix it',
    });
    expect(result.drift).toEqual([
      'column c was added to public.orders on the source; the target lacks it - sync --apply-ddl runs: ALTER TABLE "public"."orders" ADD COLUMN "c" integer DEFAULT 7;',
    ]);
    expect(result.driftKey).toMatch(/^[0-9a-f]{16}$/);
    const other = await checkReplication(event, {
      secrets,
      readSides: async () => ({
        slot: slot(),
        subscription: failing,
        drift: [{ ...added, column: 'd', message: 'column d was added' }],
      }),
    });
    expect(other.driftKey).not.toBe(result.driftKey);
  });
});

describe('check-replication handler', () => {
  it('fails with ConnectionFailed when a side is unreachable, with no password anywhere', async () => {
    const { error, logs } = await withLogs(() => handler(event, lambdaContext('check-replication')));
    expect(error).toMatchObject({ name: 'ConnectionFailed' });
    assertNoSecrets(`${error!.message}\n${error!.stack}\n${logs}`, [SOURCE_PASSWORD, TARGET_PASSWORD]);
  });

  it('refuses a slot name that is not one of ours', async () => {
    const { error } = await withLogs(() => handler({ ...event, slot: 'x; DROP' }, lambdaContext()));
    expect(error).toMatchObject({
      name: 'InvalidEvent',
      message: expect.stringContaining('slot: must be 1 to 63 lower-case letters'),
    });
  });
});
