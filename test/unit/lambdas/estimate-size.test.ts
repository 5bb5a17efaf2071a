import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { estimateSize, handler, type PlannedSource } from '../../../lambdas/estimate-size.ts';
import { assertNoSecrets } from '../../support/no-secrets.ts';
import type { ConnectionSpec } from '../../../src/connection/url.ts';
import type { DatabasePlan, FilterOptions, TablePlan } from '../../../src/plan/plan.ts';
import { BENCHMARK_BYTES_PER_SECOND_PER_WORKER } from '../../../src/snapshot/estimate.ts';
import { lambdaContext, SOURCE_ARN, TARGET_ARN, withLogs } from '../../support/lambda.ts';

const smMock = mockClient(SecretsManagerClient);
const secrets = new SecretsManagerClient({ region: 'eu-west-1' });
const PASSWORD = 'Estimate-Pa55-12';
const MB = 1024 * 1024;

function table(name: string, bytes: number, mode: TablePlan['mode'] = 'data'): TablePlan {
  return {
    schema: 'public',
    name,
    mode,
    columns: ['id'],
    where: null,
    bytes,
    estimatedRows: bytes / 100,
    primaryKey: ['id'],
    unlogged: false,
    publishedAs: { schema: 'public', name },
  };
}

function plan(source: string, tables: TablePlan[]): DatabasePlan {
  return { source, target: source, tables, publication: [] };
}

beforeEach(() => {
  smMock.reset();
  smMock
    .on(GetSecretValueCommand)
    .resolves({ SecretString: JSON.stringify({ username: 'repl', password: PASSWORD, host: '127.0.0.1', port: 1 }) });
});

describe('estimateSize', () => {
  it('sums the data tables per database and spreads them over the workers', async () => {
    const calls: { source: ConnectionSpec; filters: FilterOptions; options: object }[] = [];
    const fake = async (
      source: ConnectionSpec,
      _target: ConnectionSpec,
      filters: FilterOptions,
      options: { allowSelfSignedCerts: boolean; calibrate: boolean },
    ): Promise<PlannedSource> => {
      calls.push({ source, filters, options });
      return {
        plans: [
          plan('shop', [
            table('orders', 600 * MB),
            table('items', 200 * MB),
            table('a', 1 * MB),
            table('b', 2 * MB),
            table('c', 3 * MB),
            table('d', 4 * MB),
            table('log', 900 * MB, 'excluded'),
            table('stage', 50 * MB, 'schema-only'),
          ]),
          plan('crm', [table('people', 110 * MB)]),
        ],
        measuredRates: new Map([['crm', 10 * MB]]),
      };
    };
    const result = await estimateSize(
      {
        jobId: 'job-4',
        sourceSecretArn: SOURCE_ARN,
        targetSecretArn: TARGET_ARN,
        jobs: 4,
        filters: { excludeTables: ['shop.log'] },
      },
      { secrets, plan: fake },
    );
    expect(calls).toEqual([
      {
        source: expect.objectContaining({ password: PASSWORD }),
        filters: { excludeTables: ['shop.log'] },
        options: { allowSelfSignedCerts: false, calibrate: false },
      },
    ]);
    const shopBytes = (600 + 200 + 1 + 2 + 3 + 4) * MB;
    expect(result).toEqual({
      jobId: 'job-4',
      jobs: 4,
      totalBytes: shopBytes + 110 * MB,
      totalEstimatedSeconds:
        Math.round((Math.round((shopBytes / (BENCHMARK_BYTES_PER_SECOND_PER_WORKER * 4)) * 10) / 10 + 11) * 10) / 10,
      databases: [
        {
          source: 'shop',
          target: 'shop',
          bytes: shopBytes,
          estimatedSeconds: Math.round((shopBytes / (BENCHMARK_BYTES_PER_SECOND_PER_WORKER * 4)) * 10) / 10,
          bytesPerSecondPerWorker: BENCHMARK_BYTES_PER_SECOND_PER_WORKER,
          rate: 'benchmark',
          tables: { data: 6, schemaOnly: 1, excluded: 1 },
          largestTables: [
            { table: 'public.orders', bytes: 600 * MB, estimatedRows: 6 * MB },
            { table: 'public.items', bytes: 200 * MB, estimatedRows: 2 * MB },
            { table: 'public.d', bytes: 4 * MB, estimatedRows: 0.04 * MB },
            { table: 'public.c', bytes: 3 * MB, estimatedRows: 0.03 * MB },
            { table: 'public.b', bytes: 2 * MB, estimatedRows: 0.02 * MB },
          ],
        },
        // One table: one worker, at the measured 10 MB/s.
        {
          source: 'crm',
          target: 'crm',
          bytes: 110 * MB,
          estimatedSeconds: 11,
          bytesPerSecondPerWorker: 10 * MB,
          rate: 'measured',
          tables: { data: 1, schemaOnly: 0, excluded: 0 },
          largestTables: [{ table: 'public.people', bytes: 110 * MB, estimatedRows: 1.1 * MB }],
        },
      ],
    });
    assertNoSecrets(result, [PASSWORD]);
  });

  it('passes databases as the include filter and asks for calibration when told', async () => {
    let seen: { filters: FilterOptions; calibrate: boolean } | undefined;
    await estimateSize(
      {
        jobId: 'job-4',
        sourceSecretArn: SOURCE_ARN,
        targetSecretArn: TARGET_ARN,
        databases: ['shop'],
        calibrate: true,
      },
      {
        secrets,
        plan: async (_s, _t, filters, options) => (
          (seen = { filters, calibrate: options.calibrate }),
          { plans: [], measuredRates: new Map() }
        ),
      },
    );
    expect(seen).toEqual({ filters: { includeDatabases: ['shop'] }, calibrate: true });
  });
});

describe('estimate-size handler', () => {
  it('fails with ConnectionFailed and a remedy when the source is unreachable, with no password anywhere', async () => {
    const { error, logs, lines } = await withLogs(() =>
      handler(
        { jobId: 'job-5', sourceSecretArn: SOURCE_ARN, targetSecretArn: TARGET_ARN },
        lambdaContext('estimate-size'),
      ),
    );
    expect(error).toMatchObject({
      name: 'ConnectionFailed',
      message: expect.stringMatching(/127\.0\.0\.1:1.*(security group|listening)/),
    });
    expect(lines.at(-1)).toMatchObject({
      level: 'ERROR',
      errorName: 'ConnectionFailed',
      function_name: 'estimate-size',
    });
    assertNoSecrets(`${error!.message}\n${error!.stack}\n${logs}`, [PASSWORD]);
  });

  it('refuses jobs out of range as InvalidEvent', async () => {
    const { error } = await withLogs(() =>
      handler({ jobId: 'job-5', sourceSecretArn: SOURCE_ARN, targetSecretArn: TARGET_ARN, jobs: 0 }, lambdaContext()),
    );
    expect(error).toMatchObject({ name: 'InvalidEvent', message: expect.stringContaining('jobs:') });
    expect(smMock.calls()).toHaveLength(0);
  });
});
