// The replicate workflow's execution input and the job every later state reads its payload from
// (lambdas/shared/workflow-job.ts): what "Record job started" returns.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkGrantsEvent } from '../../../lambdas/check-grants.ts';
import { checkRdsParameterGroupEvent } from '../../../lambdas/check-rds-parameter-group.ts';
import { checkReplicationEvent } from '../../../lambdas/check-replication.ts';
import { estimateSizeEvent } from '../../../lambdas/estimate-size.ts';
import { assertNoSecrets } from '../../support/no-secrets.ts';
import {
  EVENTS_PER_POLL,
  MAX_CONTAINER_OVERRIDE_CHARS,
  MAX_POLLS,
  normalizeJob,
  workflowInputSchema,
} from '../../../lambdas/shared/workflow-job.ts';
import { MAX_PLAN_CHARS } from '../../../src/inputs/task-plan.ts';
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
    expect(checkRdsParameterGroupEvent.parse(job.rdsCheck)).toEqual({
      jobId: 'shop_2026',
      source: { instanceIdentifier: 'shop-db' },
    });
    expect(checkGrantsEvent.parse(job.checks)).toMatchObject({
      jobId: 'shop_2026',
      databases: ['shop', 'Crm-Data'],
      filters: { excludeTables: ['public.audit_log'] },
    });
    expect(estimateSizeEvent.parse(job.estimate)).toMatchObject({ jobs: 4, databases: ['shop', 'Crm-Data'] });
    for (const db of job.databases)
      expect(checkReplicationEvent.parse(db.check)).toMatchObject({
        database: db.database,
        slot: db.objectName,
        subscription: db.objectName,
      });
    assertNoSecrets(job);
  });

  it('names slot, publication and subscription as the task does, and passes the plan through whole', () => {
    expect(job.databases.map((d) => d.objectName)).toEqual([
      replicationObjectName('shop_2026', 'shop'),
      replicationObjectName('shop_2026', 'Crm-Data'),
    ]);
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
    expect(job.verifySchedule).toEqual({
      name: 'verify-shop_2026',
      expression: 'rate(6 hours)',
      input: {
        jobId: 'shop_2026',
        databases: ['shop', 'Crm-Data'],
        sourceSecretArn: SOURCE_ARN,
        targetSecretArn: TARGET_ARN,
        plan: input.plan,
      },
    });
  });

  it('bounds the wait loop so all databases together stay far below 25,000 history events', () => {
    expect(MAX_POLLS * 30).toBe(6 * 3600);
    expect(normalizeJob(workflowInputSchema.parse({ ...input, databases: ['shop'] })).maxPolls).toBe(MAX_POLLS);
    expect(job.maxPolls).toBe(692);
    const many = normalizeJob(
      workflowInputSchema.parse({ ...input, databases: Array.from({ length: 40 }, (_, i) => `d${i}`) }),
    );
    expect(many.maxPolls).toBe(34);
    for (const j of [job, many]) expect(j.maxPolls * j.databases.length * EVENTS_PER_POLL).toBeLessThanOrEqual(18_000);
  });

  it('leaves out what the input does not give: no RDS check without a source, no schedule, no endpoints', () => {
    const bare = normalizeJob(
      workflowInputSchema.parse({
        jobId: 'j1',
        sourceSecretArn: SOURCE_ARN,
        targetSecretArn: TARGET_ARN,
        databases: ['app'],
      }),
    );
    expect(bare).not.toHaveProperty('rdsCheck');
    expect(bare).not.toHaveProperty('verifySchedule');
    expect(bare.checks).toEqual({
      jobId: 'j1',
      sourceSecretArn: SOURCE_ARN,
      targetSecretArn: TARGET_ARN,
      databases: ['app'],
    });
    expect(bare.plan).toEqual({});
  });

  it('passes source and target endpoints to the functions that connect', () => {
    const job2 = normalizeJob(
      workflowInputSchema.parse({
        ...input,
        source: { endpoint: 'shop.abc.eu-west-1.rds.amazonaws.com:5432' },
        target: { endpoint: 'target.internal' },
      }),
    );
    expect(checkGrantsEvent.parse(job2.checks)).toMatchObject({
      sourceEndpoint: { host: 'shop.abc.eu-west-1.rds.amazonaws.com', port: 5432 },
      targetEndpoint: { host: 'target.internal' },
    });
    expect(job2.databases[0]!.check).toMatchObject({ sourceEndpoint: 'shop.abc.eu-west-1.rds.amazonaws.com:5432' });
  });

  it('names the target database of each database when the input does, and tells the functions that connect', () => {
    const renamed = normalizeJob(workflowInputSchema.parse({ ...input, targetDatabases: ['shop_copy', 'Crm-Data'] }));
    expect(renamed.databases.map((d) => [d.database, d.targetDatabase])).toEqual([
      ['shop', 'shop_copy'],
      ['Crm-Data', 'Crm-Data'],
    ]);
    expect(checkReplicationEvent.parse(renamed.databases[0]!.check)).toMatchObject({
      database: 'shop',
      targetDatabase: 'shop_copy',
    });
    expect(renamed.databases[1]!.check).not.toHaveProperty('targetDatabase');
    expect(renamed.verifySchedule!.input.targetDatabases).toEqual(['shop_copy', 'Crm-Data']);
    expect(renamed.checks).not.toHaveProperty('targetDatabase');
    const one = normalizeJob(
      workflowInputSchema.parse({ ...input, databases: ['shop'], targetDatabases: ['shop_copy'] }),
    );
    expect(checkGrantsEvent.parse(one.checks)).toMatchObject({ databases: ['shop'], targetDatabase: 'shop_copy' });
    expect(job.databases.map((d) => d.targetDatabase)).toEqual(['shop', 'Crm-Data']);
  });

  it('refuses a target list that does not name one database per database, or names one twice', () => {
    for (const targetDatabases of [['shop_copy'], ['a', 'b', 'c'], ['same', 'same'], ['', 'b']]) {
      const parsed = workflowInputSchema.safeParse({ ...input, targetDatabases });
      expect(parsed.success, JSON.stringify(targetDatabases)).toBe(false);
      expect(parsed.error!.issues[0]!.path).toEqual(expect.arrayContaining(['targetDatabases']));
    }
  });
});

describe('the container override of a task (ECS allows 8192 characters of overrides, JSON included)', () => {
  type Override = { Name: string; Command: string[]; Environment: { Name: string; 'Value.$': string }[] };
  const asl = JSON.parse(readFileSync(new URL('../../../statemachines/replicate.asl.json', import.meta.url), 'utf8'));
  const copy = asl.States['Replicate each database'].ItemProcessor.States['Copy snapshot'];
  const override = copy.Parameters.Overrides.ContainerOverrides[0] as Override;

  /** The override as RunTask receives it, for the Map item of `job`'s first database. */
  function renderedOverride(job: ReturnType<typeof normalizeJob>): string {
    const item: Record<string, unknown> = { ...job, ...job.databases[0]!, plan: job.plan };
    const value = (path: string) => {
      const json = /^States\.JsonToString\(\$\.(\w+)\)$/.exec(path);
      return json ? JSON.stringify(item[json[1]!]) : String(item[path.replace(/^\$\./, '')]);
    };
    return JSON.stringify({
      Name: 'replicator',
      Command: override.Command,
      Environment: override.Environment.map((e) => ({ Name: e.Name, Value: value(e['Value.$']) })),
    });
  }

  const longest = {
    jobId: `j${'x'.repeat(56)}`,
    sourceSecretArn: `arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:${'s'.repeat(512)}-AbCdEf`,
    targetSecretArn: `arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:${'t'.repeat(512)}-AbCdEf`,
    source: { endpoint: `${'h'.repeat(253)}:65535` },
    target: { endpoint: `${'g'.repeat(253)}:65535` },
    databases: ['d'.repeat(63)],
    targetDatabases: ['e'.repeat(63)],
  };

  it('stays within the limit for the longest input the workflow accepts, a plan of quoted identifiers included', () => {
    // Grow the plan until the input is refused; the last accepted one is the biggest.
    let accepted: ReturnType<typeof normalizeJob> | undefined;
    for (let n = 1; n < 400; n++) {
      const plan = { tableFilters: Array.from({ length: n }, (_, i) => `${'d'.repeat(63)}."T ${i}":"c" <> ''`) };
      const parsed = workflowInputSchema.safeParse({ ...longest, plan });
      if (!parsed.success) break;
      accepted = normalizeJob(parsed.data);
    }
    expect(accepted).toBeDefined();
    expect(JSON.stringify(accepted!.plan).length).toBeLessThan(MAX_PLAN_CHARS);
    expect(override.Environment.map((e) => e.Name)).toContain('TARGET_DATABASE');
    expect(renderedOverride(accepted!).length).toBeLessThanOrEqual(MAX_CONTAINER_OVERRIDE_CHARS);
  });

  it('refuses a plan under 4 KiB as JSON that the override would carry over the limit', () => {
    const plan = { tableFilters: Array.from({ length: 190 }, (_, i) => `"a"."${i}"."c"`) };
    expect(JSON.stringify(plan).length).toBeLessThanOrEqual(MAX_PLAN_CHARS);
    const parsed = workflowInputSchema.safeParse({ ...longest, plan });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.message).join(' ')).toContain('ECS refuses bigger container overrides');
    // Without the second rule it would have been accepted, and RunTask refused at the first task.
    const job = normalizeJob({ ...workflowInputSchema.parse({ ...longest }), plan } as never);
    expect(renderedOverride(job).length).toBeGreaterThan(MAX_CONTAINER_OVERRIDE_CHARS);
  });
});
