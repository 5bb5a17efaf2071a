// The monitor against the harness clusters: a job replicated by the CLI (init + sync of the edge-case
// fixture), then its subscription disabled while a writer runs, so WAL piles up behind the slot.
// What the monitor publishes shows it, the alarm rules the stack deploys are breached, status warns
// with the commands to run, and with the opt-in hard limit the slot is dropped and the job record says why.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LocalFileJobStore } from '../../src/jobs/index.ts';
import { aggregate, alarmRules, breaches } from '../../src/monitor/alarm-rules.ts';
import { METRIC, publishReport } from '../../src/monitor/metrics.ts';
import {
  GUARD_STEP,
  monitorJob,
  type MonitoredJob,
  type MonitorReport,
  type ReadingHistory,
} from '../../src/monitor/monitor.ts';
import { guardCommands } from '../../src/monitor/wal-guard.ts';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { endpoints, runCli } from '../support/cli.ts';
import { connectAs, createTestDatabase, edgeCasesSql, runPsqlFile, withClient } from '../support/db.ts';
import { RecordedMetrics } from '../support/metrics.ts';
import { useScratch } from '../support/scratch.ts';

const { source, target } = inject('clusters');
const scratch = useScratch('monitor');

let db: string;
let stateDir: string;
let jobId: string;
let job: MonitoredJob;
const cli = (args: string[]) =>
  runCli([...args, '--state-dir', stateDir], endpoints(clusterUrl(source, db), clusterUrl(target, db)));
const deps = () => ({
  openSource: (d: string) => connectAs(source, d),
  openTarget: (d: string) => connectAs(target, d),
});

beforeAll(async () => {
  db = (await createTestDatabase(source, 'mon')).name;
  scratch.cleanups.push(async () => {
    await cli(['cleanup', '--yes']);
    await withClient(target, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
    await withClient(source, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
  });
  stateDir = scratch.stateDir();
  await runPsqlFile(source, db, edgeCasesSql());
  await withClient(source, db, (c) =>
    c.query('CREATE TABLE public.mon_writes (id bigserial PRIMARY KEY, payload text NOT NULL)'),
  );
  const init = await cli(['init', '--yes', '--no-roles']);
  expect(init.exitCode, init.stderr).toBe(0);
  const sync = await cli(['sync']);
  expect(sync.exitCode, sync.stderr).toBe(0);
  const status = JSON.parse((await cli(['status', '--json'])).stdout) as { jobId: string };
  jobId = status.jobId;
  const state = (await new LocalFileJobStore(stateDir).getCheckpoint(jobId))!;
  job = {
    jobId,
    databases: Object.values(state.databases).map((d) => ({
      database: d.source,
      targetDatabase: d.target,
      slot: d.slot,
      subscription: d.subscription ?? d.slot,
    })),
    commands: guardCommands(jobId),
  };
}, 180_000);

/** Writes a few hundred KB of WAL on the source per call. */
async function write(client: pg.Client): Promise<void> {
  await client.query(
    'INSERT INTO public.mon_writes (payload) SELECT repeat(md5(i::text), 20) FROM generate_series(1, 500) i',
  );
}

async function rounds(
  count: number,
  history: ReadingHistory,
  sink: RecordedMetrics,
  writer: pg.Client,
): Promise<MonitorReport[]> {
  const reports: MonitorReport[] = [];
  for (let i = 0; i < count; i++) {
    await write(writer);
    const report = await monitorJob(job, { ...deps(), history });
    publishReport(sink, report);
    reports.push(report);
  }
  return reports;
}

describe('the monitor on a replicating job', () => {
  let writer: pg.Client;
  beforeAll(async () => {
    writer = await connectAs(source, db);
  });
  afterAll(async () => {
    await writer?.end();
  });

  it('streams: WAL is consumed, the subscription enabled, nothing to warn about, no alarm condition', async () => {
    const sink = new RecordedMetrics();
    const history: ReadingHistory = new Map();
    // Let the apply worker catch up between rounds, as a minute between schedule fires does.
    for (let i = 0; i < 3; i++) {
      await write(writer);
      await new Promise((r) => setTimeout(r, 1500));
      const report = await monitorJob(job, { ...deps(), history });
      expect(report.databases[0]!.warning).toBeUndefined();
      publishReport(sink, report);
    }
    expect(sink.published[0]!.dimensions).toEqual({ JobId: jobId, Database: db });
    expect(sink.values(METRIC.slotConsumed.name)).toEqual([1, 1, 1]);
    expect(sink.values(METRIC.subscriptionEnabled.name)).toEqual([1, 1, 1]);
    expect(sink.values(METRIC.tablesNotReady.name)).toEqual([0, 0, 0]);
    expect(sink.values(METRIC.applyErrors.name)).toEqual([0, 0, 0]);
    // The first round has no previous reading to compare with: no growth is published for it.
    expect(sink.values(METRIC.unconsumedGrowth.name)).toEqual([0, 0]);
    // status --watch without a terminal: the full view once, then one line per refresh.
    const watch = await runCli(
      ['status', '--watch', '1', '--state-dir', stateDir],
      endpoints(clusterUrl(source, db), clusterUrl(target, db)),
      { timeoutMs: 15_000 },
    );
    const lines = watch.stdout.split('\n').filter((l) => /^\d{4}-\d\d-\d\dT/.test(l));
    expect(watch.stdout.match(/│ Database/g), watch.stdout).toHaveLength(1);
    expect(lines.length, watch.stdout).toBeGreaterThanOrEqual(2);
    for (const line of lines)
      expect(line).toMatch(
        new RegExp(
          `^\\S+Z ${db}: in sync, lag [\\d.]+ k?B( \\([\\d.]+ s\\))?, WAL retained [\\d.]+ (k|M)?B, tables \\d+/\\d+ ready$`,
        ),
      );
    const rules = alarmRules();
    for (const rule of rules.filter((r) => r.metric.dimensions.includes('Database'))) {
      const values = sink.values(rule.metric.name);
      if (values.length) expect(breaches(rule, aggregate(rule, values)), rule.id).toBe(false);
    }
  });

  it('a disabled subscription under a writer: WAL retained grows, the alarm conditions are reached, status warns with the commands', async () => {
    const state = (await new LocalFileJobStore(stateDir).getCheckpoint(jobId))!;
    const subscription = Object.values(state.databases)[0]!.subscription!;
    await withClient(target, db, (c) => c.query(`ALTER SUBSCRIPTION ${subscription} DISABLE`));
    const sink = new RecordedMetrics();
    const history: ReadingHistory = new Map();
    // The walsender ends once the apply worker has gone.
    for (const end = Date.now() + 20_000; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
      const r = await monitorJob(job, deps());
      if (!r.databases[0]!.reading!.slotActive) break;
    }
    const reports = await rounds(4, history, sink, writer);
    const retained = sink.values(METRIC.walRetained.name);
    expect(retained).toHaveLength(4);
    for (let i = 1; i < retained.length; i++) expect(retained[i]!, `round ${i}`).toBeGreaterThan(retained[i - 1]!);
    expect(sink.values(METRIC.slotConsumed.name)).toEqual([0, 0, 0, 0]);
    expect(sink.values(METRIC.subscriptionEnabled.name)).toEqual([0, 0, 0, 0]);
    const growth = sink.values(METRIC.unconsumedGrowth.name);
    expect(growth.length).toBeGreaterThanOrEqual(3);
    for (const g of growth) expect(g).toBeGreaterThan(0);

    // The deployed alarm rules, with the WAL threshold as low as a test can fill: every period of the run breaches.
    const rules = Object.fromEntries(
      alarmRules({ walRetainedGb: retained[0]! / 1024 ** 3, lagSeconds: 300 }).map((r) => [r.id, r]),
    );
    expect(breaches(rules.WalRetainedAlarm!, aggregate(rules.WalRetainedAlarm!, retained.slice(1)))).toBe(true);
    expect(breaches(rules.WalGrowingUnconsumedAlarm!, aggregate(rules.WalGrowingUnconsumedAlarm!, growth))).toBe(true);
    expect(
      breaches(
        rules.SubscriptionDisabledAlarm!,
        aggregate(rules.SubscriptionDisabledAlarm!, sink.values(METRIC.subscriptionEnabled.name)),
      ),
    ).toBe(true);
    // At the default 20 GB the retained WAL of this test breaches nothing.
    expect(breaches(alarmRules()[0]!, Math.max(...retained))).toBe(false);

    const last = reports.at(-1)!.databases[0]!;
    expect(last.warning).toContain(`the slot ${job.databases[0]!.slot} of ${db} retains`);
    expect(last.warning).toContain(`the subscription ${subscription} is disabled`);
    expect(last.warning).toMatch(/\(\+[\d.]+ (kB|MB) in the last \d+ s\)/);
    expect(last.warning).toContain(`\`database-replicator sync --job-id ${jobId}\``);
    expect(last.warning).toContain(`\`database-replicator cleanup --job-id ${jobId}\``);

    const status = await cli(['status']);
    expect(status.exitCode).toBe(1);
    expect(status.stdout).toContain(`${db}: broken - the subscription is disabled`);
    expect(status.stdout).toContain(`WARNING: the slot ${job.databases[0]!.slot} of ${db} retains`);
    expect(status.stdout).toContain(
      `Resume replication with \`database-replicator sync --job-id ${jobId}\`, or remove the slot with \`database-replicator cleanup --job-id ${jobId}\`.`,
    );
    const watch = await runCli(
      ['status', '--watch', '1', '--state-dir', stateDir],
      endpoints(clusterUrl(source, db), clusterUrl(target, db)),
      { timeoutMs: 7000 },
    );
    expect(watch.stdout.split('\n').find((l) => l.startsWith('20'))).toMatch(
      new RegExp(`${db}: broken, lag .*, WAL retained .*, tables \\d+/\\d+ ready, WARNING: nothing consumes the slot$`),
    );
    const json = JSON.parse((await cli(['status', '--json'])).stdout) as { databases: { warning?: string }[] };
    expect(json.databases[0]!.warning).toContain('nothing consumes it');
  });

  it('below the hard limit nothing is dropped; past it the slot is dropped, the job record says why, status shows it', async () => {
    const below = await monitorJob(
      { ...job, maxRetainedWalGb: 1 },
      { ...deps(), store: new LocalFileJobStore(stateDir) },
    );
    expect(below.databases[0]!.slotDropped).toBeUndefined();
    expect(below.databases[0]!.reading!.slotExists).toBe(true);

    await write(writer);
    const sink = new RecordedMetrics();
    const limitGb = 0.0001; // about 100 kB: passed by what the writer piled up
    const report = await monitorJob(
      { ...job, maxRetainedWalGb: limitGb },
      { ...deps(), store: new LocalFileJobStore(stateDir) },
    );
    publishReport(sink, report);
    const dropped = report.databases[0]!.slotDropped;
    expect(dropped).toMatch(
      new RegExp(
        `^The WAL-retention guard dropped the slot ${job.databases[0]!.slot} of ${db}: it retained [\\d.]+ (kB|MB) of WAL, more than maxRetainedWalGb ${limitGb} GB`,
      ),
    );
    expect(sink.values(METRIC.slotDropped.name)).toEqual([1]);
    expect(breaches(alarmRules()[4]!, 1)).toBe(true);
    const slots = await withClient(
      source,
      db,
      async (c) =>
        (await c.query('SELECT slot_name FROM pg_replication_slots WHERE slot_name = $1', [job.databases[0]!.slot]))
          .rowCount,
    );
    expect(slots).toBe(0);

    const store = new LocalFileJobStore(stateDir);
    const record = await store.getJob(jobId);
    expect(record).toMatchObject({
      state: 'FAILED',
      error: dropped,
      databases: { [db]: { state: 'FAILED', error: dropped } },
    });
    const steps = await store.listSteps(jobId);
    expect(steps.at(-1)).toMatchObject({ step: GUARD_STEP, database: db, state: 'FAILED', detail: dropped });

    const status = await cli(['status']);
    expect(status.exitCode).toBe(1);
    expect(status.stdout).toContain('the replication slot is missing on the source');
    expect(status.stdout).toMatch(
      new RegExp(`last step: ${GUARD_STEP} \\(${db}\\) FAILED in [\\d.]+ s: The WAL-retention guard dropped the slot`),
    );

    // Gone is gone: the next round reads a missing slot and drops nothing more.
    const again = await monitorJob({ ...job, maxRetainedWalGb: limitGb }, { ...deps(), store });
    expect(again.databases[0]!.slotDropped).toBeUndefined();
    expect(again.databases[0]!.reading!.slotExists).toBe(false);

    // cleanup still removes what is left (the disabled subscription, the publication).
    const cleanup = await cli(['cleanup', '--yes']);
    expect(cleanup.exitCode, cleanup.stderr + cleanup.stdout).toBe(0);
    const subs = await withClient(
      target,
      db,
      async (c) => (await c.query("SELECT 1 FROM pg_subscription WHERE subname LIKE 'dbr_%'")).rowCount,
    );
    expect(subs).toBe(0);
  });
});
