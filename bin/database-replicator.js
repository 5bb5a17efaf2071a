#!/usr/bin/env node
// The CLI is TypeScript run by Node's own type stripping (Node 22.18+, 23.6+, 24).
if (!process.features?.typescript) {
  process.stderr.write(
    `database-replicator needs Node.js 22.18 or newer (found ${process.version}); install Node 24 LTS.\n`,
  );
  process.exit(1);
}
// V8's code cache for our modules (in the system's temporary folder): it halves the start-up, which
// every command pays. Without a writable folder Node just runs without it.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
await import('../src/cli/main.ts');
