import { describe, expect, it } from 'vitest';
import { checkDistinctDatabases, checkLocalPgDump, checkServerVersions } from '../../../src/checks/servers.ts';
import { database, facts, server } from './facts.ts';

describe('checkDistinctDatabases', () => {
  const oneServer = { systemIdentifier: '7301', postmasterStartedAt: '2026-01-01T00:00:00.000001Z' };
  it('passes for different servers', () => {
    expect(checkDistinctDatabases(facts()).status).toBe('pass');
  });
  it('goes by what the servers say, not by the URLs: the same spelling on two servers passes', () => {
    const f = facts({ targetEndpoint: { host: 'source.example.com', port: 5432, database: 'shop', user: 'other' } });
    expect(checkDistinctDatabases(f).status).toBe('pass');
  });
  it('fails when two spellings reach one server and the same database, whatever the user', () => {
    const f = facts({
      source: server(oneServer),
      target: server(oneServer),
      sourceEndpoint: { host: 'localhost', port: 5432, database: 'shop', user: 'a' },
      targetEndpoint: { host: '127.0.0.1', port: 5432, database: 'shop', user: 'b' },
    });
    const result = checkDistinctDatabases(f);
    expect(result.status).toBe('fail');
    expect(result.detail).toContain('The target is the source itself');
    expect(result.detail).toContain('7301');
  });
  it('fails without a readable system identifier when the postmaster start is the same', () => {
    const f = facts({ source: server({ postmasterStartedAt: 'x' }), target: server({ postmasterStartedAt: 'x' }) });
    expect(checkDistinctDatabases(f).status).toBe('fail');
  });
  it('passes for a copy of the source cluster (same system identifier, another postmaster)', () => {
    const f = facts({
      source: server({ systemIdentifier: '7301' }),
      target: server({ systemIdentifier: '7301', postmasterStartedAt: 'later' }),
    });
    expect(checkDistinctDatabases(f).status).toBe('pass');
  });
  it('allows another database on the same server', () => {
    const f = facts({
      source: server(oneServer),
      target: server(oneServer),
      targetEndpoint: { host: 'source.example.com', port: 5432, database: 'shop_copy', user: 'app' },
    });
    expect(checkDistinctDatabases(f).status).toBe('pass');
  });
  it('fails for a whole-server job onto the same server (every database onto itself)', () => {
    const f = facts({
      source: server(oneServer),
      target: server(oneServer),
      databases: [database({ name: 'a' }), database({ name: 'b' })],
      targetEndpoint: { host: 'localhost', port: 5432, database: 'postgres', user: 'app' },
    });
    expect(checkDistinctDatabases(f).detail).toContain('a, b');
  });
});

describe('checkServerVersions', () => {
  it('passes for equal majors and for a newer target', () => {
    expect(checkServerVersions(facts()).status).toBe('pass');
    expect(
      checkServerVersions(facts({ target: server({ version: '17.2', versionNum: 170002, major: 17 }) })).status,
    ).toBe('pass');
  });
  it('warns when the target major is older than the source', () => {
    const result = checkServerVersions(facts({ target: server({ version: '14.9', versionNum: 140009, major: 14 }) }));
    expect(result.status).toBe('warn');
    expect(result.detail).toMatch(/older than the source/);
  });
  it('fails below PostgreSQL 12 on either side', () => {
    const result = checkServerVersions(facts({ source: server({ version: '11.22', versionNum: 110022, major: 11 }) }));
    expect(result.status).toBe('fail');
    expect(result.detail).toContain('11.22');
  });
});

describe('checkLocalPgDump', () => {
  it('passes when pg_dump is the same major or newer', () => {
    expect(checkLocalPgDump(facts()).status).toBe('pass');
    expect(checkLocalPgDump(facts({ localPgDump: { major: 17, version: '17.1', path: '/x/pg_dump' } })).status).toBe(
      'pass',
    );
  });
  it('fails when pg_dump is older than the source, naming the package to install', () => {
    const result = checkLocalPgDump(facts({ source: server({ version: '16.4', versionNum: 160004, major: 16 }) }));
    expect(result.status).toBe('fail');
    expect(result.remedy).toContain('postgresql-client-16');
  });
  it('fails when there is no pg_dump at all', () => {
    const result = checkLocalPgDump(facts({ localPgDump: { error: 'PostgreSQL programs pg_dump were not found.' } }));
    expect(result.status).toBe('fail');
    expect(result.detail).toContain('not found');
  });
});
