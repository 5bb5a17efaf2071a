import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../../src/cli/io.ts';
import { runCli } from '../../../src/cli/program.ts';

function io(env: NodeJS.ProcessEnv = {}): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t), env, isTty: false, columns: 100 };
}

describe('runCli', () => {
  it('exits 0 for --help and --version', async () => {
    const help = io();
    expect(await runCli(['--help'], help)).toBe(0);
    expect(help.out.join('')).toContain('Exit codes: 0 success, 1 a check or operation failed, 2 usage error.');
    const version = io();
    expect(await runCli(['--version'], version)).toBe(0);
    expect(version.out.join('')).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exits 2 for an unknown command or a bad --log-level', async () => {
    const unknown = io();
    expect(await runCli(['replicate-everything'], unknown)).toBe(2);
    expect(unknown.err.join('')).toContain("unknown command 'replicate-everything'");
    const level = io();
    expect(await runCli(['validate', '--log-level', 'loud'], level)).toBe(2);
    expect(level.err.join('')).toMatch(/Allowed choices are error, warn, info, debug/);
  });

  it.each(['validate', 'init', 'sync', 'status', 'verify', 'cutover', 'cleanup'])(
    '%s --help explains itself with an example',
    async (command) => {
      const help = io();
      expect(await runCli([command, '--help'], help)).toBe(0);
      const text = help.out.join('');
      expect(text).toContain(`Usage: database-replicator ${command}`);
      expect(text).toMatch(new RegExp(`Examples:[\\s\\S]*\\n  database-replicator ${command}`));
      // Commander alone wraps the description: no line of a paragraph stops short of the width
      // (lines broken in the source were each wrapped again, leaving a stub of a few words).
      const description = text.split('\nOptions:')[0]!.split('\n').slice(2);
      const stubs = description.filter((line, i) => line.trim() && description[i + 1]?.trim() && line.length < 50);
      expect(stubs).toEqual([]);
    },
  );

  it('takes --job as --job-id, and refuses the two naming different jobs', async () => {
    const both = io();
    expect(
      await runCli(['status', '--local', '--job', 'a', '--job-id', 'b', '--state-dir', '/nonexistent'], both),
    ).toBe(2);
    expect(both.err.join('')).toContain('--job a and --job-id b name different jobs; give one.');
    const one = io();
    const state = mkdtempSync(join(tmpdir(), 'dbr-job-alias-'));
    try {
      expect(
        await runCli(
          [
            'sync',
            '--local',
            '--source',
            'postgresql://u@127.0.0.1:1/db',
            '--target',
            'postgresql://u@127.0.0.1:1/db',
            '--job',
            'shop_7',
            '--state-dir',
            state,
          ],
          one,
        ),
      ).toBe(1);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
    expect(one.err.join('')).toContain('There is no slot from init for job shop_7');
  });

  it('lists the global options in validate --help', async () => {
    const help = io();
    expect(await runCli(['validate', '--help'], help)).toBe(0);
    const text = help.out.join('');
    for (const option of [
      '--source',
      '--target',
      '--allow-self-signed-certs',
      '--json',
      '--log-level',
      '--yes',
      '--local',
    ])
      expect(text).toContain(option);
  });
});
