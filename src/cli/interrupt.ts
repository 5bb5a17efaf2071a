// Ctrl-C during local work: the job record says the command was interrupted (not RUNNING for ever),
// the user is told that running it again resumes, and the exit code is 130 (128 + SIGINT).
const EXIT_INTERRUPTED = 130;
const handlers = new Set<() => Promise<void>>();
let say: (line: string) => void = (line) => process.stderr.write(line);

let interrupted = false;

async function onSigint(): Promise<void> {
  if (interrupted) return;
  interrupted = true;
  say(
    '\ninterrupted (Ctrl-C): nothing is lost; run the same command again and it carries on from what was recorded.\n',
  );
  // The record is written within a few seconds or not at all: a second Ctrl-C is not needed to leave.
  await Promise.race([
    Promise.allSettled([...handlers].map((h) => h())),
    new Promise((r) => setTimeout(r, 3000).unref()),
  ]);
  process.exit(EXIT_INTERRUPTED);
}

/** Runs `handler` on Ctrl-C while registered; returns the function that unregisters it. */
export function onInterrupt(handler: () => Promise<void>, stderr?: (line: string) => void): () => void {
  if (stderr) say = stderr;
  // `on`, not `once`: a once-listener is gone by the time execa's signal-exit looks, which then
  // sees no other listener and kills the process with the signal before the record is written.
  if (handlers.size === 0) process.on('SIGINT', onSigint);
  handlers.add(handler);
  return () => {
    handlers.delete(handler);
    if (handlers.size === 0) process.off('SIGINT', onSigint);
  };
}
