// Throwaway PostgreSQL clusters (wal_level=logical) on free ports, for the tests, the demo and the
// benchmarks alike; not part of the product (nothing under src/ imports it).
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  appendFileSync,
  chmodSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findPostgresBinDir } from '../../src/pgtools/binaries.ts';

const run = promisify(execFile);

/** What a test needs to reach a throwaway cluster; plain data so vitest can hand it to workers. */
export interface ClusterInfo {
  name: string;
  host: string;
  port: number;
  user: string;
  password: string;
  walLevel: 'logical' | 'replica';
  major: number;
  bindir: string;
  baseDir: string;
  /** PEM of the self-signed server certificate when the cluster was started with TLS. */
  serverCertFile?: string;
}

export interface ClusterOptions {
  name: string;
  walLevel?: 'logical' | 'replica';
  /** Serve TLS with a self-signed certificate whose only subject name is `tlsHostName`. */
  tls?: { hostName: string };
  settings?: Record<string, string | number>;
}

export function clusterUrl(
  cluster: ClusterInfo,
  database = 'postgres',
  user = cluster.user,
  password = cluster.password,
): string {
  return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${cluster.host}:${cluster.port}/${encodeURIComponent(database)}`;
}

/** A process owner for the server: PostgreSQL refuses to run as root, so root hands it to `postgres`. */
function serverOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      'The tests run as root, and PostgreSQL will not run as root, but there is no "postgres" user to run the test clusters; create one (useradd --system postgres) or run the tests as an ordinary user.',
    );
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function serverBinDir() {
  try {
    return findPostgresBinDir(['initdb', 'pg_ctl', 'postgres', 'psql']);
  } catch (error) {
    throw new Error(
      `The integration tests need PostgreSQL server binaries and none were usable: ${(error as Error).message} (.ci/run installs them when missing.)`,
      { cause: error },
    );
  }
}

/**
 * Starts a throwaway cluster in a fresh temporary folder, listening on loopback only at a free port,
 * with password (SCRAM) authentication over TCP so tests can exercise wrong passwords.
 */
export async function startCluster(options: ClusterOptions): Promise<ClusterInfo & { stop: () => Promise<void> }> {
  const bin = serverBinDir();
  const owner = serverOwner();
  const baseDir = mkdtempSync(join(tmpdir(), `dbr-${options.name}-`));
  const dataDir = join(baseDir, 'data');
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const user = 'postgres';
  const asOwner = owner ? { uid: owner.uid, gid: owner.gid } : {};
  if (owner) chownSync(baseDir, owner.uid, owner.gid);
  const pwFile = join(baseDir, 'pwfile');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (owner) chownSync(pwFile, owner.uid, owner.gid);
  const env = { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8', HOME: baseDir };

  try {
    await run(
      join(bin.dir, 'initdb'),
      [
        '-D',
        dataDir,
        '-U',
        user,
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        `--pwfile=${pwFile}`,
        '--no-sync',
      ],
      { ...asOwner, cwd: baseDir, env },
    );
  } catch (error) {
    rmSync(baseDir, { recursive: true, force: true });
    throw new Error(
      `initdb failed for the ${options.name} test cluster: ${(error as { stderr?: string }).stderr ?? error}`,
      { cause: error },
    );
  }
  rmSync(pwFile);

  let serverCertFile: string | undefined;
  const settings: Record<string, string | number> = {
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${baseDir}'`,
    wal_level: options.walLevel ?? 'logical',
    // Test files run in parallel against the shared clusters, each with its own slots and subscriptions
    // alive at once: generous limits, so no test waits for a worker or slot another one holds.
    max_replication_slots: 64,
    max_wal_senders: 64,
    max_connections: 300,
    max_worker_processes: 64,
    max_logical_replication_workers: 40,
    max_sync_workers_per_subscription: 4,
    // Up to PostgreSQL 15 the launcher starts apply workers at most once per this interval (5 s by
    // default) across all subscriptions; with many tests subscribing at once a new one waited that long.
    wal_retrieve_retry_interval: "'200ms'",
    // Throwaway data: durability costs time and buys nothing here.
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    shared_buffers: "'128MB'",
    log_min_messages: 'warning',
    ...options.settings,
  };
  if (options.tls) {
    const key = join(dataDir, 'server.key');
    serverCertFile = join(baseDir, 'server.crt');
    execFileSync(
      'openssl',
      [
        'req',
        '-new',
        '-x509',
        '-days',
        '2',
        '-nodes',
        '-newkey',
        'rsa:2048',
        '-subj',
        `/CN=${options.tls.hostName}`,
        '-addext',
        `subjectAltName=DNS:${options.tls.hostName}`,
        '-keyout',
        key,
        '-out',
        serverCertFile,
      ],
      { stdio: 'ignore' },
    );
    chmodSync(key, 0o600);
    if (owner) chownSync(key, owner.uid, owner.gid);
    Object.assign(settings, { ssl: 'on', ssl_cert_file: `'${serverCertFile}'`, ssl_key_file: `'${key}'` });
  }

  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const conf = Object.entries({ ...settings, port })
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n');
    appendFileSync(join(dataDir, 'postgresql.auto.conf'), `\n${conf}\n`);
    try {
      await run(
        join(bin.dir, 'pg_ctl'),
        ['-D', dataDir, '-l', join(baseDir, 'server.log'), '-w', '-t', '60', 'start'],
        { ...asOwner, cwd: baseDir, env },
      );
      const info: ClusterInfo = {
        name: options.name,
        host: '127.0.0.1',
        port,
        user,
        password,
        walLevel: options.walLevel ?? 'logical',
        major: bin.major,
        bindir: bin.dir,
        baseDir,
        serverCertFile,
      };
      registerForExitCleanup(baseDir);
      return { ...info, stop: () => stopCluster(info) };
    } catch (error) {
      // Another process may have taken the port between our probe and the server's bind: try another.
      lastError = error;
    }
  }
  const log = existsSync(join(baseDir, 'server.log'))
    ? readFileSync(join(baseDir, 'server.log'), 'utf8').slice(-2000)
    : '';
  rmSync(baseDir, { recursive: true, force: true });
  throw new Error(`The ${options.name} test cluster did not start: ${(lastError as Error)?.message}\n${log}`);
}

export async function stopCluster(info: Pick<ClusterInfo, 'baseDir' | 'bindir'>): Promise<void> {
  const dataDir = join(info.baseDir, 'data');
  const owner = serverOwner();
  try {
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      await run(join(info.bindir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], {
        ...(owner ?? {}),
        cwd: info.baseDir,
      });
    }
  } catch {
    killPostmaster(info.baseDir);
  } finally {
    rmSync(info.baseDir, { recursive: true, force: true });
    exitCleanup.delete(info.baseDir);
  }
}

/** Immediate-mode shutdown from a synchronous exit handler: SIGQUIT to the postmaster. */
function killPostmaster(baseDir: string): void {
  try {
    const pid = Number(readFileSync(join(baseDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, 'SIGQUIT');
  } catch {
    // Already gone.
  }
}

const exitCleanup = new Set<string>();
let exitHandlerInstalled = false;
function registerForExitCleanup(baseDir: string): void {
  exitCleanup.add(baseDir);
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  // Clusters must not outlive an interrupted run.
  process.on('exit', () => {
    for (const dir of exitCleanup) {
      killPostmaster(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => process.exit(130));
  }
}

/** Restarts a cluster (fast shutdown), as a server restart or an RDS reboot would. */
export async function restartCluster(info: Pick<ClusterInfo, 'baseDir' | 'bindir'>): Promise<void> {
  const owner = serverOwner();
  await run(
    join(info.bindir, 'pg_ctl'),
    [
      '-D',
      join(info.baseDir, 'data'),
      '-l',
      join(info.baseDir, 'server.log'),
      '-m',
      'fast',
      '-w',
      '-t',
      '60',
      'restart',
    ],
    { ...(owner ?? {}), cwd: info.baseDir },
  );
}
