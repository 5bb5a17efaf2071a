// Init as a list of named steps: one runner skips what the checkpoint records as done, times the rest and
// records each with one save, in order.
import type { InitStep } from '../jobs/checkpoint.ts';
import { faultPoint } from './fault-points.ts';

/** What the runner reads and writes: the checkpoint's step times, and how to save it. */
export interface StepContext {
  db: { steps: Partial<Record<InitStep, { seconds: number }>> };
  /** Writes the checkpoint as it is now; resolves once the store holds it. */
  save: () => Promise<void>;
}

/** Handed to a running step: work of another step done inside it (large objects within the data step's snapshot). */
export interface StepScope {
  /** Runs `fn` as step `mark` and records its time; the enclosing step's time leaves it out. */
  within<T>(mark: InitStep, fn: () => Promise<T>): Promise<T>;
}

export interface Step<C extends StepContext> {
  name: string;
  /**
   * The checkpoint's record of the step: its time once done. A step without one (publication, slot,
   * hand-off) records what it made itself, and says when it is done through `done`.
   */
  mark?: InitStep;
  done?: (ctx: C) => boolean;
  run: (ctx: C, scope: StepScope) => Promise<void>;
  /** The named stop point right after the step is recorded (fault-points.ts). */
  faultPoint?: string;
}

function isDone<C extends StepContext>(step: Step<C>, ctx: C): boolean {
  return (step.mark !== undefined && ctx.db.steps[step.mark] !== undefined) || Boolean(step.done?.(ctx));
}

const since = (started: number) => (performance.now() - started) / 1000;

/**
 * Runs the steps in order, skipping those done already. Each step that runs is timed, its time recorded
 * under its mark and the checkpoint saved once, before the next step starts; a step that fails is not
 * recorded and the steps after it do not run. Returns the seconds of every step that ran, by name.
 */
export async function runSteps<C extends StepContext>(
  steps: readonly Step<C>[],
  ctx: C,
): Promise<Record<string, number>> {
  const times: Record<string, number> = {};
  for (const step of steps) {
    if (isDone(step, ctx)) continue;
    let inner = 0;
    const scope: StepScope = {
      within: async (mark, fn) => {
        const started = performance.now();
        const result = await fn();
        const seconds = since(started);
        ctx.db.steps[mark] = { seconds };
        inner += seconds;
        return result;
      },
    };
    const started = performance.now();
    await step.run(ctx, scope);
    const seconds = Math.max(0, since(started) - inner);
    if (step.mark) ctx.db.steps[step.mark] = { seconds };
    times[step.name] = seconds;
    await ctx.save();
    if (step.faultPoint) faultPoint(step.faultPoint);
  }
  return times;
}
