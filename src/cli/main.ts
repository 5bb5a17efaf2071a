import { processIo } from './io.ts';
import { runCli } from './program.ts';

// Setting exitCode instead of calling process.exit lets stdout drain when piped.
process.exitCode = await runCli(process.argv.slice(2), processIo());
