import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import type { ClusterInfo } from '../scripts/support/cluster.ts';

const run = promisify(execFile);

/**
 * pgbench tables at a scale factor plus a wide table (timestamptz, text, jsonb, bytea, two secondary
 * indexes): about `gb` GB in all, split roughly half and half.
 */
export async function loadDataset(
  cluster: ClusterInfo,
  admin: pg.Client,
  database: string,
  gb: number,
): Promise<{ bytes: number; wideRows: number; scale: number }> {
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${database}`);
  // pgbench: about 15 MB per scale unit with its indexes; the wide table about 330 bytes a row.
  const scale = Math.max(1, Math.round((gb * 1024 * 0.5) / 15));
  // The benchmark's wide table has at least 2 million rows; smaller sizes are for trying the harness.
  const wideRows = Math.max(gb >= 1 ? 2_000_000 : 10_000, Math.round((gb * 1024 ** 3 * 0.5) / 330));
  const env = {
    ...process.env,
    PGHOST: cluster.host,
    PGPORT: String(cluster.port),
    PGUSER: cluster.user,
    PGPASSWORD: cluster.password,
  };
  await run(join(cluster.bindir, 'pgbench'), ['-i', '-q', '-s', String(scale), '--foreign-keys', database], {
    env,
    maxBuffer: 64 * 1024 * 1024,
  });
  await run(
    join(cluster.bindir, 'psql'),
    [
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-d',
      database,
      '-c',
      `
    CREATE TABLE wide (
      id bigint PRIMARY KEY,
      created_at timestamptz NOT NULL,
      title text NOT NULL,
      body text,
      attrs jsonb NOT NULL,
      digest bytea NOT NULL
    );
    INSERT INTO wide
    SELECT g, timestamptz '2024-01-01' + g * interval '7 seconds', 'title ' || g,
           repeat(md5(g::text), 3),
           jsonb_build_object('g', g, 'tag', 't' || (g % 100), 'flags', jsonb_build_array(g % 2 = 0, g % 3 = 0), 'note', md5((g * 7)::text)),
           decode(md5(g::text) || md5((g + 1)::text), 'hex')
      FROM generate_series(1, ${wideRows}) g;
    CREATE INDEX wide_created_at ON wide (created_at);
    CREATE INDEX wide_tag ON wide ((attrs ->> 'tag'));
    -- pgbench_history has no key: a source must say how its UPDATEs and DELETEs are replicated before init publishes it.
    ALTER TABLE pgbench_history REPLICA IDENTITY FULL;`,
    ],
    { env, maxBuffer: 64 * 1024 * 1024 },
  );
  await admin.query(`SELECT 1`);
  await run(join(cluster.bindir, 'vacuumdb'), ['--analyze', '--quiet', '-d', database], { env });
  const { rows } = await admin.query<{ bytes: string }>('SELECT pg_database_size($1)::text AS bytes', [database]);
  return { bytes: Number(rows[0]!.bytes), wideRows, scale };
}

/** Per-table count and row-hash sum, independent of the product: the contender's copy must match the source. */
export async function fingerprint(client: pg.Client): Promise<Record<string, string>> {
  const { rows: tables } = await client.query<{ t: string }>(
    `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`,
  );
  const out: Record<string, string> = {};
  for (const { t } of tables) {
    const { rows } = await client.query<{ f: string }>(
      `SELECT count(*) || ':' || coalesce(sum(hashtextextended(x::text, 0)::numeric), 0) AS f FROM ${t} x`,
    );
    out[t] = rows[0]!.f;
  }
  return out;
}
