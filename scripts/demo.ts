// The demo: two throwaway local PostgreSQL clusters, a small sample database on the source with an
// application writing to it, and the CLI run against them as a user would: validate, init, sync,
// status, verify, cutover, cleanup. Everything is removed at the end.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { clusterUrl, startCluster, type ClusterInfo } from './support/cluster.ts';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../bin/database-replicator.js', import.meta.url));
const sampleSql = fileURLToPath(new URL('./demo/sample.sql', import.meta.url));

function step(title: string): void {
  process.stdout.write(`\n=== ${title}\n`);
}

/** Runs the CLI with the URLs in the environment (never in argv) and shows its output as it comes. */
function runCli(args: string[], env: Record<string, string>): Promise<number> {
  process.stdout.write(`$ database-replicator ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

async function connect(cluster: ClusterInfo, database: string): Promise<pg.Client> {
  const client = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: cluster.user,
    password: cluster.password,
    database,
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** The "application": orders and stock movements written continuously until stopped. */
function startApplication(cluster: ClusterInfo): { stop: () => Promise<number> } {
  let running = true;
  let writes = 0;
  const done = (async () => {
    const client = await connect(cluster, 'shop');
    try {
      while (running) {
        await client.query(`BEGIN;
          INSERT INTO shop.orders (customer_id, status, total, placed_at) VALUES (1 + (random() * 1999)::int, 'new', 19.99, now());
          UPDATE shop.customers SET prefs = prefs || jsonb_build_object('last_order', now()) WHERE id = 1 + (random() * 1999)::int;
          INSERT INTO inventory.stock_movements (sku, delta) VALUES ('SKU-00001', -1);
          COMMIT;`);
        writes++;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await client.end();
    }
  })();
  return { stop: async () => ((running = false), await done, writes) };
}

async function counts(cluster: ClusterInfo): Promise<Record<string, number>> {
  const client = await connect(cluster, 'shop');
  try {
    const out: Record<string, number> = {};
    for (const table of [
      'shop.customers',
      'shop.orders',
      'inventory.products',
      'inventory.stock_movements',
      '"Customer Care"."Support Tickets"',
    ]) {
      out[table] = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
    }
    return out;
  } finally {
    await client.end();
  }
}

step('Starting two throwaway PostgreSQL clusters (source and target, wal_level=logical)');
const [source, target] = await Promise.all([
  startCluster({ name: 'demo-source' }),
  startCluster({ name: 'demo-target' }),
]);
const stateDir = mkdtempSync(join(tmpdir(), 'dbr-demo-state-'));
let exitCode: number;
try {
  console.log(`source: 127.0.0.1:${source.port}   target: 127.0.0.1:${target.port}   (PostgreSQL ${source.major})`);

  step('Loading the sample database "shop" on the source');
  const env = { ...process.env, PGPASSWORD: source.password };
  const psql = `${source.bindir}/psql`;
  const connectArgs = ['-X', '-q', '-h', source.host, '-p', String(source.port), '-U', source.user];
  await run(psql, [...connectArgs, '-d', 'postgres', '-c', 'CREATE DATABASE shop'], { env });
  await run(psql, [...connectArgs, '-d', 'shop', '-v', 'ON_ERROR_STOP=1', '-f', sampleSql], { env });
  console.log(
    'schemas shop, inventory and "Customer Care": an enum, a domain, identity and generated columns, a partitioned table, jsonb, bytea, ranges, a table without primary key',
  );

  const urls = {
    DATABASE_REPLICATOR_SOURCE_URL: clusterUrl(source, 'shop'),
    DATABASE_REPLICATOR_TARGET_URL: clusterUrl(target, 'shop'),
  };
  const flow = async () => {
    step('Validating source and target');
    if ((await runCli(['validate', '--local'], urls)) !== 0) return 1;

    step('An application starts writing to the source; it keeps writing through init and sync');
    const app = startApplication(source);
    try {
      step('Copying a consistent snapshot into the target (init)');
      if ((await runCli(['init', '--local', '--yes', '--state-dir', stateDir], urls)) !== 0) return 1;
      step('Streaming changes from the slot, from exactly where the snapshot ends (sync)');
      if ((await runCli(['sync', '--local', '--state-dir', stateDir], urls)) !== 0) return 1;
      await new Promise((r) => setTimeout(r, 2000));
      step('Replication health (status)');
      await runCli(['status', '--local', '--state-dir', stateDir], urls);
      step('Row-by-row verification while the application keeps writing (verify)');
      if ((await runCli(['verify', '--local', '--state-dir', stateDir], urls)) !== 0) return 1;
    } finally {
      console.log(`\nthe application stops after ${await app.stop()} write transactions`);
    }
    step('Switching over: zero lag, sequences, materialized views (cutover)');
    if ((await runCli(['cutover', '--local', '--read-only-source', '--state-dir', stateDir], urls)) !== 0) return 1;

    step('Comparing row counts on both sides');
    const [s, t] = await Promise.all([counts(source), counts(target)]);
    for (const table of Object.keys(s))
      console.log(
        `${table.padEnd(36)} source ${String(s[table]).padStart(6)}   target ${String(t[table]).padStart(6)}   ${s[table] === t[table] ? 'equal' : 'DIFFERENT'}`,
      );
    if (Object.keys(s).some((k) => s[k] !== t[k])) return 1;

    step('Removing the subscription, publication and slot (cleanup)');
    return runCli(['cleanup', '--local', '--yes', '--state-dir', stateDir], urls);
  };
  exitCode = await flow();
  console.log(
    exitCode === 0
      ? '\nDemo finished: the target holds the same data as the source.'
      : `\nDemo stopped with exit code ${exitCode}.`,
  );
} finally {
  step('Removing the clusters');
  await Promise.allSettled([source.stop(), target.stop()]);
  rmSync(stateDir, { recursive: true, force: true });
}
process.exitCode = exitCode;
