// The replicate workflow's execution input and the job every later state reads its payload from
// (lambdas/shared/workflow-job.ts): what "Record job started" returns.
import { describe, expect, it } from 'vitest';
import { checkGrantsEvent } from '../../../lambdas/check-grants.ts';
import { checkRdsParameterGroupEvent } from '../../../lambdas/check-rds-parameter-group.ts';
import { checkReplicationEvent } from '../../../lambdas/check-replication.ts';
import { estimateSizeEvent } from '../../../lambdas/estimate-size.ts';
import { assertNoSecrets } from '../../support/no-secrets.ts';
import { EVENTS_PER_POLL, MAX_POLLS, normalizeJob, workflowInputSchema } from '../../../lambdas/shared/workflow-job.ts';
import { replicationObjectName } from '../../../src/jobs/naming.ts';
import { engineJobId } from '../../../src/task/scope.ts';
import { SOURCE_ARN, TARGET_ARN } from '../../support/lambda.ts';

const input = {
  jobId: 'shop_2026',
  sourceSecretArn: SOURCE_ARN,
  targetSecretArn: TARGET_ARN,
  source: { instanceIdentifier: 'shop-db' },
  databases: ['shop', 'Crm-Data'],
  plan: { jobs: 4, filters: { excludeTables: ['public.audit_log'] }, splitTablesLargerThanBytes: 1_000_000_000 },
  verifySchedule: 'rate(6 hours)',
};

describe('normalizeJob', () => {
  const job = normalizeJob(workflowInputSchema.parse(input));

  it('builds payloads each function accepts, from identifiers and secret ARNs only', () => {
    expect(checkRdsParameterGroupEvent.parse(job.rdsCheck)).toEqual({ jobId: 'shop_2026', source: { instanceIdentifier: 'shop-db' } });
    expect(checkGrantsEvent.parse(job.checks)).toMatchObject({ jobId: 'shop_2026', databases: ['shop', 'Crm-Data'], filters: { excludeTables: ['public.audit_log'] } });
    expect(estimateSizeEvent.parse(job.estimate)).toMatchObject({ jobs: 4, databases: ['shop', 'Crm-Data'] });
    for (const db of job.databases) expect(checkReplicationEvent.parse(db.check)).toMatchObject({ database: db.database, slot: db.objectName, subscription: db.objectName });
    assertNoSecrets(job);
  });

  it('names slot, publication and subscription as the task does, and passes the plan through whole', () => {
    expect(job.databases.map((d) => d.objectName)).toEqual([replicationObjectName('shop_2026', 'shop'), replicationObjectName('shop_2026', 'Crm-Data')]);
    const other = normalizeJob(workflowInputSchema.parse({ ...input, jobId: 'Shop-Job-1' }));
    expect(other.databases[0]!.objectName).toBe(replicationObjectName(engineJobId('Shop-Job-1', 'shop'), 'shop'));
    for (const db of other.databases) expect(db.objectName).toMatch(/^[a-z0-9_]{1,63}$/);
    expect(job.plan).toEqual(input.plan);
    expect(job).toMatchObject({ sourceEndpoint: '', targetEndpoint: '' });
  });

  it('reads filters at the top level of the plan too, as the task does, and sizes the estimate for the task', () => {
    const top = normalizeJob(workflowInputSchema.parse({ ...input, plan: { includeTables: ['shop.orders'] } }), 8);
    expect(top.checks.filters).toEqual({ includeTables: ['shop.orders'] });
    expect(top.estimate).toMatchObject({ jobs: 8 });
    expect(normalizeJob(workflowInputSchema.parse(input), 8).estimate).toMatchObject({ jobs: 4 });
  });

  it('asks for a verify schedule named after the job, whose input starts the verify workflow', () => {
    expect(job.verifySchedule).toEqual({ name: 'verify-shop_2026', expression: 'rate(6 hours)', input: { jobId: 'shop_2026', databases: ['shop', 'Crm-Data'], sourceSecretArn: SOURCE_ARN, targetSecretArn: TARGET_ARN, plan: input.plan } });
  });

  it('bounds the wait loop so all databases together stay far below 25,000 history events', () => {
    expect(MAX_POLLS * 30).toBe(6 * 3600);
    expect(normalizeJob(workflowInputSchema.parse({ ...input, databases: ['shop'] })).maxPolls).toBe(MAX_POLLS);
    expect(job.maxPolls).toBe(692);
    const many = normalizeJob(workflowInputSchema.parse({ ...input, databases: Array.from({ length: 40 }, (_, i) => `d${i}`) }));
    expect(many.maxPolls).toBe(34);
    for (const j of [job, many]) expect(j.maxPolls * j.databases.length * EVENTS_PER_POLL).toBeLessThanOrEqual(18_000);
  });

  it('leaves out what the input does not give: no RDS check without a source, no schedule, no endpoints', () => {
    const bare = normalizeJob(workflowInputSchema.parse({ jobId: 'j1', sourceSecretArn: SOURCE_ARN, targetSecretArn: TARGET_ARN, databases: ['app'] }));
    expect(bare).not.toHaveProperty('rdsCheck');
    expect(bare).not.toHaveProperty('verifySchedule');
    expect(bare.checks).toEqual({ jobId: 'j1', sourceSecretArn: SOURCE_ARN, targetSecretArn: TARGET_ARN, databases: ['app'] });
    expect(bare.plan).toEqual({});
  });

  it('passes source and target endpoints to the functions that connect', () => {
    const job2 = normalizeJob(workflowInputSchema.parse({ ...input, source: { endpoint: 'shop.abc.eu-west-1.rds.amazonaws.com:5432' }, target: { endpoint: 'target.internal' } }));
    expect(checkGrantsEvent.parse(job2.checks)).toMatchObject({ sourceEndpoint: { host: 'shop.abc.eu-west-1.rds.amazonaws.com', port: 5432 }, targetEndpoint: { host: 'target.internal' } });
    expect(job2.databases[0]!.check).toMatchObject({ sourceEndpoint: 'shop.abc.eu-west-1.rds.amazonaws.com:5432' });
  });
});
