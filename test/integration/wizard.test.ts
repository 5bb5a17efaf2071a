import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { endpoints, runCli } from '../support/cli.ts';
import { fingerprintTables } from '../support/compare.ts';
import { createTestDatabase, dropTestDatabase, uniqueName, withClient } from '../support/db.ts';
import { shellWords } from '../support/shell.ts';
import { KEY, TerminalSession } from '../support/terminal.ts';

const { source, target } = inject('clusters');
const bin = fileURLToPath(new URL('../../bin/database-replicator.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'dbr-wizard-'));
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

describe('init --interactive on a terminal', () => {
  it('copies exactly the rows chosen in the wizard, and the saved TOML and the printed flags give the same copy', async () => {
    const db = await createTestDatabase(source, 'wizard');
    cleanups.push(() => dropTestDatabase(source, db.name));
    await withClient(source, db.name, (c) =>
      c.query(`
      CREATE TABLE orders (id int PRIMARY KEY, created_at timestamptz NOT NULL, amount numeric);
      INSERT INTO orders SELECT i, CASE WHEN i % 3 = 0 THEN now() - interval '10 days' ELSE now() - interval '2 years' END, i FROM generate_series(1, 300) i;
      CREATE TABLE customers (id int PRIMARY KEY, name text, signed_up date);
      INSERT INTO customers SELECT i, 'c' || i, current_date - i FROM generate_series(1, 50) i;
      CREATE TABLE audit_log (id int PRIMARY KEY, at timestamptz, msg text);
      INSERT INTO audit_log SELECT i, now(), 'm' FROM generate_series(1, 20) i;
      CREATE TABLE "Order Items" (id int PRIMARY KEY, order_id int, qty int);
      INSERT INTO "Order Items" SELECT i, 1 + i % 300, i FROM generate_series(1, 400) i;
      CREATE TABLE reports (id int PRIMARY KEY, body text);
      INSERT INTO reports SELECT i, 'r' FROM generate_series(1, 5) i;
      ANALYZE;`),
    );
    const targets = { wizard: uniqueName('wizard_t'), toml: uniqueName('toml_t'), flags: uniqueName('flags_t') };
    for (const name of Object.values(targets)) cleanups.push(() => dropTestDatabase(target, name));
    const saved = join(work, 'plan.toml');

    const session = new TerminalSession(
      [
        process.execPath,
        bin,
        'init',
        '--no-sync',
        '--no-roles',
        '--state-dir',
        join(work, 'state-wizard'),
        '--save-config',
        saved,
      ],
      { ...process.env, PGPASSWORD: '', ...endpoints(clusterUrl(source, db.name), clusterUrl(target, targets.wizard)) },
    );
    cleanups.push(async () => session.kill());
    // Tables are listed by name: audit_log, customers, Order Items, orders, reports.
    await session.waitFor('Which source databases');
    await session.press(KEY.enter);
    await session.waitFor('copy the data of which tables');
    await session.press(KEY.space, KEY.enter);
    await session.waitFor('schema-only');
    await session.press(KEY.down, KEY.down, KEY.down, KEY.space, KEY.enter);
    await session.waitFor('time filter');
    // Esc: back to the schema-only question, with the answer kept.
    await session.press(KEY.escape);
    expect(await session.waitFor('schema-only')).toMatch(/◉ public\.reports/);
    await session.press(KEY.enter);
    await session.waitFor('time filter');
    await session.press(KEY.down, KEY.space, KEY.enter);
    await session.waitFor('which column');
    await session.press(KEY.enter);
    await session.waitFor('copy rows of the last');
    await session.press(KEY.enter);
    const review = await session.waitFor('Go ahead with this plan?');
    await session.press(KEY.enter);
    await session.waitFor('Proceed with replication?');
    await session.press('y', KEY.enter);
    expect(await session.exited, session.text).toBe(0);

    expect(review).toContain('not copied: public.audit_log');
    expect(review).toContain('schema only: public.reports');
    expect(review).toContain('time filter: public.orders rows with created_at in the last 6 months');
    const commandLine = /database-replicator init [^\n]+/.exec(review)![0].trim();
    expect(readFileSync(saved, 'utf8')).toMatch(
      /\[\[databases\.\w+\.time_filters\]\]\ntable = "public\.orders"\ncolumn = "created_at"\nlast = "6 months"/,
    );

    const copied = await fingerprintTables(target, targets.wizard);
    const rows = Object.fromEntries([...copied].map(([k, v]) => [k, v.rows]));
    expect(rows).toEqual({
      'public.Order Items': 400,
      'public.audit_log': 0,
      'public.customers': 50,
      'public.orders': 100,
      'public.reports': 0,
    });
    const sourceFingerprints = await fingerprintTables(source, db.name);
    expect(copied.get('public.customers')).toEqual(sourceFingerprints.get('public.customers'));
    expect(copied.get('public.Order Items')).toEqual(sourceFingerprints.get('public.Order Items'));

    const viaToml = await runCli(
      ['init', '--yes', '--no-sync', '--no-roles', '--state-dir', join(work, 'state-toml'), '--config', saved],
      endpoints(clusterUrl(source, db.name), clusterUrl(target, targets.toml)),
    );
    expect(viaToml.exitCode, viaToml.stderr).toBe(0);
    const flags = shellWords(commandLine).slice(2);
    const viaFlags = await runCli(
      ['init', '--yes', '--no-sync', '--no-roles', '--state-dir', join(work, 'state-flags'), ...flags],
      endpoints(clusterUrl(source, db.name), clusterUrl(target, targets.flags)),
    );
    expect(viaFlags.exitCode, viaFlags.stderr).toBe(0);
    expect(await fingerprintTables(target, targets.toml)).toEqual(copied);
    expect(await fingerprintTables(target, targets.flags)).toEqual(copied);
  });
});
