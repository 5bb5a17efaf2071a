import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { clusterUrl } from '../../scripts/support/cluster.ts';
import { endpoints, runCli } from '../support/cli.ts';
import { dropReplicationObjects } from '../support/compare.ts';
import { createTestDatabase, withClient } from '../support/db.ts';

/**
 * Every command must end promptly after a fatal connection error: a pool or client left open on an error
 * path keeps Node's event loop alive, and the process prints its error and then hangs. Each command runs
 * once with the source unreachable and once with the target unreachable, the other side being a real
 * server, against a job that init recorded (so the commands after init get past "no job" to their connections).
 */
const { source, target } = inject('clusters');
const jobId = 'unreachable';
const state = mkdtempSync(join(tmpdir(), 'dbr-state-'));
let db = '';

/** Nothing listens on port 1, so the connection is refused at once. */
const nowhere = (database: string) => `postgresql://postgres@127.0.0.1:1/${database}`;
/** Above it the test fails, whatever the process printed; the run itself is stopped later so a hang shows as such. */
const PROMPT_EXIT_MS = 10_000;

beforeAll(async () => {
  db = (await createTestDatabase(source, 'unreach')).name;
  await withClient(source, db, (c) =>
    c.query(
      'CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT i, md5(i::text) FROM generate_series(1, 100) i',
    ),
  );
  const env = endpoints(clusterUrl(source, db), clusterUrl(target, db));
  const init = await runCli(['init', '--local', '--yes', '--no-roles', '--job-id', jobId, '--state-dir', state], env);
  expect(init.exitCode, init.stderr).toBe(0);
  // cutover refuses a job that is not streaming before it connects anywhere.
  const sync = await runCli(['sync', '--local', '--job-id', jobId, '--state-dir', state], env);
  expect(sync.exitCode, sync.stderr).toBe(0);
});

afterAll(async () => {
  if (db) {
    await dropReplicationObjects(source, target, db).catch(() => undefined);
    await withClient(source, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`)).catch(
      () => undefined,
    );
    await withClient(target, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`)).catch(
      () => undefined,
    );
  }
  rmSync(state, { recursive: true, force: true });
});

const commands: Record<string, string[]> = {
  // --json: the failure is a check row, which the table would wrap across lines.
  validate: ['validate', '--json'],
  // A job of its own: the recorded one has finished its init.
  init: ['init', '--yes', '--no-roles', '--job-id', `${jobId}_init`, '--state-dir', state],
  sync: ['sync', '--job-id', jobId, '--state-dir', state],
  status: ['status', '--job-id', jobId, '--state-dir', state],
  verify: ['verify', '--job-id', jobId, '--state-dir', state],
  cutover: ['cutover', '--timeout', '30', '--job-id', jobId, '--state-dir', state],
  // Last: with the source unreachable, cleanup still drops what it can on the target.
  cleanup: ['cleanup', '--yes', '--job-id', jobId, '--state-dir', state],
};

describe('every command exits promptly when a server is unreachable', () => {
  for (const [name, args] of Object.entries(commands)) {
    for (const side of ['target', 'source'] as const) {
      it(`${name} with the ${side} unreachable`, async () => {
        const urls =
          side === 'source'
            ? endpoints(nowhere(db), clusterUrl(target, db))
            : endpoints(clusterUrl(source, db), nowhere(db));
        const started = performance.now();
        const run = await runCli([args[0]!, '--local', ...args.slice(1)], urls, { timeoutMs: 3 * PROMPT_EXIT_MS });
        const seconds = (performance.now() - started) / 1000;
        const output = `${run.stdout}${run.stderr}`;
        expect(seconds, `${name} took ${seconds.toFixed(1)} s to exit:\n${output}`).toBeLessThan(PROMPT_EXIT_MS / 1000);
        expect(run.exitCode, output).toBe(1);
        // One sentence naming the side and the address, with what to check.
        const sentence =
          name === 'validate'
            ? (JSON.parse(run.stdout) as { checks: { id: string; detail: string }[] }).checks.find(
                (c) => c.id === `${side}-reachable`,
              )?.detail
            : output;
        expect(sentence).toMatch(
          new RegExp(
            `Could not connect to the ${side} \\(postgres@127\\.0\\.0\\.1:1/\\w+\\): nothing answered at 127\\.0\\.0\\.1:1 \\(ECONNREFUSED\\)\\.`,
          ),
        );
        // Every command but validate (whose report holds it) ends on that line.
        if (name !== 'validate')
          expect(run.stderr.trim().split('\n').at(-1)).toMatch(/^(error|warning): Could not connect to the /);
      });
    }
  }
});
