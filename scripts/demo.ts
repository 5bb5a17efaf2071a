// The demo: two throwaway local PostgreSQL clusters, a small sample database on the source, and
// the CLI run against them exactly as a user would run it. Everything is removed at the end.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { clusterUrl, startCluster } from '../test/support/cluster.ts';

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

step('Starting two throwaway PostgreSQL clusters (source and target, wal_level=logical)');
const [source, target] = await Promise.all([startCluster({ name: 'demo-source' }), startCluster({ name: 'demo-target' })]);
let exitCode: number;
const stateDir = mkdtempSync(join(tmpdir(), 'dbr-demo-state-'));
try {
  console.log(`source: 127.0.0.1:${source.port}   target: 127.0.0.1:${target.port}   (PostgreSQL ${source.major})`);

  step('Loading the sample database "shop" on the source');
  const env = { ...process.env, PGPASSWORD: source.password };
  const psql = `${source.bindir}/psql`;
  const connect = ['-X', '-q', '-h', source.host, '-p', String(source.port), '-U', source.user];
  await run(psql, [...connect, '-d', 'postgres', '-c', 'CREATE DATABASE shop'], { env });
  await run(psql, [...connect, '-d', 'shop', '-v', 'ON_ERROR_STOP=1', '-f', sampleSql], { env });
  console.log('schemas shop, inventory and "Customer Care": an enum, a domain, identity and generated columns, a partitioned table, jsonb, bytea, ranges, a table without primary key');

  const urls = {
    DATABASE_REPLICATOR_SOURCE_URL: clusterUrl(source, 'shop'),
    DATABASE_REPLICATOR_TARGET_URL: clusterUrl(target, 'shop'),
  };
  step('Validating source and target');
  exitCode = await runCli(['validate', '--local'], urls);
  console.log(`\nvalidate exited with ${exitCode} (0: ready; warnings name what logical replication does not carry)`);
  if (exitCode === 0) {
    step('Copying a consistent snapshot into the target (init)');
    exitCode = await runCli(['init', '--local', '--yes', '--state-dir', stateDir], urls);
    console.log(`\ninit exited with ${exitCode}; the slot now waits at the snapshot's consistent point for sync`);
  }
} finally {
  step('Removing the clusters');
  await Promise.allSettled([source.stop(), target.stop()]);
  rmSync(stateDir, { recursive: true, force: true });
}
process.exitCode = exitCode;
