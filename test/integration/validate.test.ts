import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CheckResult } from '../../src/checks/types.ts';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { endpoints, runCli } from '../support/cli.ts';
import {
  createTestDatabase,
  createTestRole,
  dropTestDatabase,
  edgeCasesSql,
  runPsqlFile,
  withClient,
} from '../support/db.ts';

interface JsonReport {
  command: string;
  ok: boolean;
  checks: CheckResult[];
}

function parseReport(stdout: string): JsonReport {
  return JSON.parse(stdout) as JsonReport;
}

function check(report: JsonReport, id: string): CheckResult {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in ${report.checks.map((c) => c.id).join(', ')}`);
  return found;
}

describe('database-replicator validate against the harness clusters', () => {
  const { source, target, replica } = inject('clusters');
  const created: { cluster: typeof source; name: string }[] = [];

  async function sourceDatabase(sql: string, cluster = source): Promise<string> {
    const db = await createTestDatabase(cluster, 'validate');
    created.push({ cluster, name: db.name });
    await withClient(cluster, db.name, (c) => c.query(sql));
    return db.name;
  }

  const simpleSchema = `CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL);
                        INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 100) i;`;
  let okDatabase: string;

  beforeAll(async () => {
    okDatabase = await sourceDatabase(simpleSchema);
  });
  afterAll(async () => {
    for (const { cluster, name } of created) await dropTestDatabase(cluster, name);
  });

  it('passes every check for a logical source and a target, exit code 0', async () => {
    const run = await runCli(
      ['validate', '--json'],
      endpoints(clusterUrl(source, okDatabase), clusterUrl(target, okDatabase)),
    );
    expect(run.exitCode, run.stderr).toBe(0);
    const report = parseReport(run.stdout);
    expect(report.ok).toBe(true);
    const notPassed = report.checks.filter((c) => c.status !== 'pass');
    expect(notPassed).toEqual([]);
    expect(report.checks.length).toBeGreaterThanOrEqual(19);
    expect(check(report, 'target-reachable').detail).toContain('init will create it');
  });

  it('prints a readable table and a summary without --json', async () => {
    const run = await runCli(['validate'], endpoints(clusterUrl(source, okDatabase), clusterUrl(target, okDatabase)));
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/Check\s*│\s*Status\s*│\s*Detail\s*│\s*Remedy/);
    expect(run.stdout).toContain('Source wal_level');
    expect(run.stdout).toMatch(/Validation passed: \d+ passed, 0 warning\(s\), 0 failed\./);
  });

  it('fails on a wal_level=replica source, naming wal_level and the remedy', async () => {
    const name = await sourceDatabase(simpleSchema, replica);
    const run = await runCli(['validate', '--json'], endpoints(clusterUrl(replica, name), clusterUrl(target, name)));
    expect(run.exitCode).toBe(1);
    const result = check(parseReport(run.stdout), 'source-wal-level');
    expect(result.status).toBe('fail');
    expect(result.detail).toContain('wal_level is replica');
    expect(result.remedy).toContain("ALTER SYSTEM SET wal_level = 'logical'");

    const table = await runCli(['validate'], endpoints(clusterUrl(replica, name), clusterUrl(target, name)));
    expect(table.exitCode).toBe(1);
    expect(table.stdout).toContain('wal_level');
    expect(table.stdout).toMatch(/FAIL/);
    expect(table.stdout).toMatch(/Validation failed/);
  });

  it('fails for a source user without REPLICATION, naming the fix', async () => {
    const password = 'Plain-User-Pa55';
    const role = await createTestRole(source, password);
    await withClient(source, okDatabase, (c) => c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO "${role}"`));
    const run = await runCli(
      ['validate', '--json'],
      endpoints(clusterUrl(source, okDatabase, role, password), clusterUrl(target, okDatabase)),
    );
    expect(run.exitCode).toBe(1);
    const result = check(parseReport(run.stdout), 'source-replication-privilege');
    expect(result.status).toBe('fail');
    expect(result.remedy).toBe(`Run ALTER ROLE "${role}" REPLICATION; as a superuser.`);
    expect(check(parseReport(run.stdout), 'source-select-privileges').status).toBe('pass');
  });

  it('names the tables the source user cannot read, with the GRANT to run', async () => {
    const password = 'Repl-User-Pa55';
    const role = await createTestRole(source, password, 'REPLICATION');
    const run = await runCli(
      ['validate', '--json'],
      endpoints(clusterUrl(source, okDatabase, role, password), clusterUrl(target, okDatabase)),
    );
    expect(run.exitCode).toBe(1);
    const report = parseReport(run.stdout);
    expect(check(report, 'source-replication-privilege').status).toBe('pass');
    const select = check(report, 'source-select-privileges');
    expect(select.status).toBe('fail');
    expect(select.detail).toContain(`${okDatabase}: public.items`);
    expect(select.remedy).toContain(`GRANT SELECT ON "public"."items" TO "${role}";`);
  });

  it('names a table without a primary key', async () => {
    const name = await sourceDatabase(`${simpleSchema} CREATE TABLE audit_log (at timestamptz, what text);`);
    const run = await runCli(['validate', '--json'], endpoints(clusterUrl(source, name), clusterUrl(target, name)));
    expect(run.exitCode).toBe(1);
    const result = check(parseReport(run.stdout), 'replica-identity');
    expect(result.status).toBe('fail');
    expect(result.detail).toContain(`${name}: public.audit_log`);
    expect(result.remedy).toContain('ALTER TABLE "public"."audit_log" REPLICA IDENTITY FULL;');
  });

  it('checks only what the plan replicates when given the same filters as init', async () => {
    const name = await sourceDatabase(
      `${simpleSchema} CREATE TABLE audit_log (at timestamptz, what text); CREATE TABLE staging (v text);`,
    );
    const env = endpoints(clusterUrl(source, name), clusterUrl(target, name));
    const filtered = await runCli(
      ['validate', '--json', '--exclude-tables', `${name}.audit_log`, '--schema-only-tables', `${name}.staging`],
      env,
    );
    expect(filtered.exitCode, filtered.stdout).toBe(0);
    expect(check(parseReport(filtered.stdout), 'replica-identity').status).toBe('pass');
    const unfiltered = await runCli(['validate', '--json'], env);
    expect(check(parseReport(unfiltered.stdout), 'replica-identity').detail).toMatch(
      /audit_log.*staging|staging.*audit_log/,
    );
    const missing = await runCli(['validate', '--exclude-tables', `${name}.nope`], env);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('names a table that does not exist');
  });

  it('gives one sentence and exit 1 for a wrong password, which appears nowhere in the output', async () => {
    const distinctive = 'Zq9-Distinctive-Wr0ng-Pa55word';
    const wrongUrl = clusterUrl(source, okDatabase, source.user, distinctive);
    for (const args of [
      ['validate'],
      ['validate', '--json'],
      ['validate', '--source', wrongUrl, '--log-level', 'debug'],
    ]) {
      const env = args.includes('--source')
        ? { DATABASE_REPLICATOR_TARGET_URL: clusterUrl(target, okDatabase) }
        : endpoints(wrongUrl, clusterUrl(target, okDatabase));
      const run = await runCli(args, env);
      expect(run.exitCode).toBe(1);
      expect(run.stdout + run.stderr).not.toContain(distinctive);
      expect(run.stdout + run.stderr).not.toContain(encodeURIComponent(distinctive));
      // The table may wrap the sentence; the JSON below holds it whole.
      expect(run.stdout).toContain('authentication failed');
    }
    const json = parseReport(
      (await runCli(['validate', '--json'], endpoints(wrongUrl, clusterUrl(target, okDatabase)))).stdout,
    );
    const reach = check(json, 'source-reachable');
    expect(reach.status).toBe('fail');
    expect(reach.detail).toMatch(/^[^\n]*password authentication failed[^\n]*\.$/);
    expect(reach.detail.split(/\.\s/).length).toBe(1);
  });

  it('reports an unreachable server and a missing source database as connection failures with a remedy', async () => {
    const closedPort = clusterUrl({ ...source, port: 1 }, okDatabase);
    const unreachable = await runCli(['validate', '--json'], endpoints(closedPort, clusterUrl(target, okDatabase)));
    expect(unreachable.exitCode).toBe(1);
    const reach = check(parseReport(unreachable.stdout), 'source-reachable');
    expect(reach.status).toBe('fail');
    expect(reach.remedy).toMatch(/security group|listening/);

    const missing = await runCli(
      ['validate', '--json'],
      endpoints(clusterUrl(source, 'no_such_db'), clusterUrl(target, okDatabase)),
    );
    expect(missing.exitCode).toBe(1);
    expect(check(parseReport(missing.stdout), 'source-reachable').detail).toContain('no_such_db');
  });

  it('refuses to replicate a database onto itself', async () => {
    const url = clusterUrl(source, okDatabase);
    const run = await runCli(['validate', '--json'], endpoints(url, url));
    expect(run.exitCode).toBe(1);
    expect(check(parseReport(run.stdout), 'distinct-databases').status).toBe('fail');
  });

  it('warns about what logical replication does not carry on the edge-case database, without failing', async () => {
    const db = await createTestDatabase(source, 'edge');
    created.push({ cluster: source, name: db.name });
    await runPsqlFile(source, db.name, edgeCasesSql());
    const run = await runCli(['validate', '--json'], endpoints(db.url, clusterUrl(target, db.name)));
    expect(run.exitCode, run.stdout).toBe(0);
    const report = parseReport(run.stdout);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(check(report, 'replica-identity').status).toBe('pass');
    expect(check(report, 'target-extensions').detail).toContain('citext');
    expect(check(report, 'large-objects')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining(`${db.name}: 1`),
    });
    expect(check(report, 'unlogged-tables').detail).toContain('sales.cache');
    expect(check(report, 'partitioned-tables').detail).toContain('sales.orders');
    expect(check(report, 'generated-columns').detail).toContain('sales.customers');
    expect(check(report, 'materialized-views').detail).toContain('sales.customer_order_counts');
    expect(check(report, 'sequences').status).toBe('warn');
    expect(check(report, 'full-identity-comparable')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('sales.events_nopk (payload)'),
    });
  });

  it('checks every user database when the source URL names none', async () => {
    const run = await runCli(
      ['validate', '--json'],
      endpoints(clusterUrl(source, 'postgres'), clusterUrl(target, 'postgres')),
    );
    const databases = check(parseReport(run.stdout), 'source-databases');
    expect(databases.detail).toContain(okDatabase);
    expect(databases.detail.split(', ')).not.toContain('postgres');
  });
});

describe('database-replicator usage', () => {
  it('shows an example in --help for the program and for validate', async () => {
    for (const args of [['--help'], ['validate', '--help']]) {
      const run = await runCli(args);
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toContain('Examples:');
      expect(run.stdout).toContain('database-replicator validate');
    }
  });

  it('exits 2 on an unknown option, a missing source and a malformed URL', async () => {
    const unknown = await runCli(['validate', '--no-such-flag']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--no-such-flag'");

    const missing = await runCli(['validate']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain(
      'The source database is missing: pass --source <url> or set DATABASE_REPLICATOR_SOURCE_URL.',
    );

    const malformed = await runCli(['validate'], endpoints('mysql://u:Secret-Pa55@h/db', 'postgres://u@h/db'));
    expect(malformed.exitCode).toBe(2);
    expect(malformed.stderr).toMatch(/--source URL is not valid/);
    expect(malformed.stderr).not.toContain('Secret-Pa55');
  });
});
