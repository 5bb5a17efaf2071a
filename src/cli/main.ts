import { processIo } from './io.ts';
import { runCli } from './program.ts';

// A reader that stops early (`status --json | head`) closes the pipe: that ends the output, not in a crash.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

// Setting exitCode instead of calling process.exit lets stdout drain when piped.
process.exitCode = await runCli(process.argv.slice(2), processIo());
