// containers/replicator/Dockerfile as shipped: hadolint-style rules, a real base image reference, the
// PostgreSQL client checked against the newest supported source major while the image is built, and
// the image's own health check.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { NEWEST_SUPPORTED_MAJOR } from '../../src/checks/servers.ts';
import { repoRoot } from '../infra/cdk-context.ts';
import { useScratch } from '../support/scratch.ts';
import { lintDockerfile, parseDockerfile } from './dockerfile-rules.ts';
import { DOCKERFILE } from './image.ts';

const text = readFileSync(join(repoRoot, DOCKERFILE), 'utf8');
const instructions = parseDockerfile(text);
const scratch = useScratch('dockerfile');

describe('the Dockerfile rules', () => {
  it('pass on containers/replicator/Dockerfile', () => {
    expect(lintDockerfile(text)).toEqual([]);
  });

  it('catch an untagged or latest base, a placeholder digest, root, apt lists kept, recommends, shell-form entry point', () => {
    const bad = [
      'FROM node',
      'FROM debian:latest AS tools',
      'FROM public.ecr.aws/docker/library/node:24-slim@sha256:<digest>',
      'RUN apt-get update && apt-get install -y curl',
      'RUN apt-get install --no-install-recommends \\',
      '    curl && rm -rf /var/lib/apt/lists/*',
      'RUN curl -s https://example.com/x | sh',
      'RUN cd /tmp && npm ci',
      'ADD src/ /app/src/',
      'WORKDIR app',
      'USER root',
      'ENTRYPOINT node index.js',
    ].join('\n');
    const found = lintDockerfile(bad).map((f) => `${f.rule}@${f.line}`);
    expect(found.sort()).toEqual(
      [
        'DL3006@1',
        'DL3007@2',
        'DL3006@3',
        'DL3015@4',
        'DL3009@4',
        'DL3014@5',
        'DL4006@7',
        'DL3003@8',
        'DL3016@8',
        'DL3020@9',
        'DL3000@10',
        'DL3025@12',
        'DL3002@11',
        'HEALTHCHECK@0',
      ].sort(),
    );
    expect(lintDockerfile('FROM node:24-slim\nRUN true').map((f) => f.rule)).toEqual(['DL3002', 'HEALTHCHECK']);
  });

  it('read a base stage by its name as no image to pin', () => {
    expect(lintDockerfile('FROM node:24.1.0-slim AS build\nFROM build\nUSER node\nHEALTHCHECK CMD ["true"]')).toEqual(
      [],
    );
  });
});

describe('the task image', () => {
  it('runs as the unprivileged node user, from a base pinned by release tag (with a real digest when one is given)', () => {
    const from = instructions.filter((i) => i.keyword === 'FROM');
    expect(from).toHaveLength(1);
    expect(from[0]!.args).toMatch(
      /^public\.ecr\.aws\/docker\/library\/node:\d+\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/,
    );
    expect(instructions.filter((i) => i.keyword === 'USER').at(-1)!.args).toBe('node');
  });

  it(`installs the PostgreSQL client of the newest supported source major (${NEWEST_SUPPORTED_MAJOR}) and checks it at build time, after the code it runs is copied`, () => {
    const arg = instructions.find((i) => i.keyword === 'ARG' && i.args.startsWith('PG_MAJOR='));
    expect(Number(arg?.args.split('=')[1])).toBeGreaterThanOrEqual(NEWEST_SUPPORTED_MAJOR);
    expect(instructions.some((i) => i.keyword === 'RUN' && i.args.includes('"postgresql-client-${PG_MAJOR}"'))).toBe(
      true,
    );
    const check = instructions.findIndex(
      (i) => i.keyword === 'RUN' && i.args === 'node containers/replicator/check-pg-tools.ts',
    );
    const copies = instructions.map((i, n) => (i.keyword === 'COPY' ? n : -1)).filter((n) => n >= 0);
    expect(check).toBeGreaterThan(Math.max(...copies));
  });

  it('declares a health check that runs pg_dump --version, in exec form', () => {
    const health = instructions.filter((i) => i.keyword === 'HEALTHCHECK');
    expect(health).toHaveLength(1);
    expect(health[0]!.args).toMatch(/ CMD \["pg_dump", "--version"\]$/);
  });
});

/** A folder with pg_dump, pg_restore and pg_dumpall that report `version`, as Debian's programs do. */
function fakeClientPrograms(version: string): string {
  const dir = join(scratch.stateDir(), `pg-${version}`);
  mkdirSync(dir);
  for (const program of ['pg_dump', 'pg_restore', 'pg_dumpall']) {
    writeFileSync(join(dir, program), `#!/bin/sh\necho "${program} (PostgreSQL) ${version}"\n`);
    chmodSync(join(dir, program), 0o755);
  }
  return dir;
}

const checkPgTools = (dir: string) =>
  execa(process.execPath, ['containers/replicator/check-pg-tools.ts'], {
    cwd: repoRoot,
    reject: false,
    env: { DATABASE_REPLICATOR_PG_BINDIR: dir },
  });

describe('the build-time check of the PostgreSQL client (check-pg-tools.ts)', () => {
  it(`passes with client programs of PostgreSQL ${NEWEST_SUPPORTED_MAJOR}`, async () => {
    const run = await checkPgTools(fakeClientPrograms(`${NEWEST_SUPPORTED_MAJOR}.1`));
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(`pg_dump ${NEWEST_SUPPORTED_MAJOR}.1`);
  });

  it('fails the build with what to change when the newest client is older', async () => {
    const older = NEWEST_SUPPORTED_MAJOR - 1;
    const run = await checkPgTools(fakeClientPrograms(`${older}.4`));
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`cannot dump the newest supported source (PostgreSQL ${NEWEST_SUPPORTED_MAJOR})`);
    expect(run.stderr).toContain(`found version ${older}.4`);
    expect(run.stderr).toContain(
      `Set PG_MAJOR in containers/replicator/Dockerfile to ${NEWEST_SUPPORTED_MAJOR} or newer.`,
    );
  });
});
