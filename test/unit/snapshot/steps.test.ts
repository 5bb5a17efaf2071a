import { describe, expect, it } from 'vitest';
import type { InitStep } from '../../../src/jobs/checkpoint.ts';
import { runSteps, type Step, type StepContext } from '../../../src/snapshot/steps.ts';

interface Run extends StepContext {
  ran: string[];
  /** The checkpoint as each save wrote it. */
  saved: string[];
  made?: boolean;
}

function newRun(steps: Run['db']['steps'] = {}): Run {
  const run: Run = {
    db: { steps },
    ran: [],
    saved: [],
    save: async () => {
      run.saved.push(JSON.stringify({ steps: Object.keys(run.db.steps), made: run.made ?? false }));
    },
  };
  return run;
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function marked(mark: InitStep, ms = 0): Step<Run> {
  return {
    name: mark,
    mark,
    run: async (run) => {
      run.ran.push(mark);
      await wait(ms);
    },
  };
}

describe('runSteps', () => {
  it('runs the steps in order, records each one with one save, and skips those the checkpoint has', async () => {
    const run = newRun({ schema: { seconds: 7 } });
    const times = await runSteps([marked('schema'), marked('data', 30), marked('sequences')], run);
    expect(run.ran).toEqual(['data', 'sequences']);
    expect(run.saved).toEqual([
      JSON.stringify({ steps: ['schema', 'data'], made: false }),
      JSON.stringify({ steps: ['schema', 'data', 'sequences'], made: false }),
    ]);
    // A step done before keeps its time; the others get theirs.
    expect(run.db.steps.schema).toEqual({ seconds: 7 });
    expect(run.db.steps.data!.seconds).toBeGreaterThanOrEqual(0.025);
    expect(run.db.steps.sequences!.seconds).toBeLessThan(run.db.steps.data!.seconds);
    expect(Object.keys(times)).toEqual(['data', 'sequences']);

    // Run again on the same checkpoint: nothing left to do, nothing saved.
    const again = { ...run, ran: [], saved: [] };
    await runSteps([marked('schema'), marked('data'), marked('sequences')], again);
    expect(again.ran).toEqual([]);
    expect(again.saved).toEqual([]);
  });

  it('stops at a failing step without recording it, and a rerun starts from that step', async () => {
    const run = newRun();
    const failing: Step<Run> = {
      name: 'data',
      mark: 'data',
      run: async () => {
        throw new Error('copy failed');
      },
    };
    await expect(runSteps([marked('schema'), failing, marked('analyze')], run)).rejects.toThrow('copy failed');
    expect(run.ran).toEqual(['schema']);
    expect(Object.keys(run.db.steps)).toEqual(['schema']);
    expect(run.saved).toHaveLength(1);

    await runSteps([marked('schema'), marked('data'), marked('analyze')], run);
    expect(run.ran).toEqual(['schema', 'data', 'analyze']);
    expect(Object.keys(run.db.steps)).toEqual(['schema', 'data', 'analyze']);
  });

  it('a step without a mark runs until its own record says done, and is saved once it ran', async () => {
    const run = newRun();
    const make: Step<Run> = {
      name: 'slot',
      done: (r) => r.made === true,
      run: async (r) => {
        r.ran.push('slot');
        r.made = true;
      },
    };
    await runSteps([make, marked('schema')], run);
    await runSteps([make, marked('schema')], run);
    expect(run.ran).toEqual(['slot', 'schema']);
    expect(run.saved).toEqual([
      JSON.stringify({ steps: [], made: true }),
      JSON.stringify({ steps: ['schema'], made: true }),
    ]);
    expect(run.db.steps).not.toHaveProperty('slot');
  });

  it('work of another step done inside one is recorded as that step, and left out of the enclosing step', async () => {
    const run = newRun();
    const data: Step<Run> = {
      name: 'data',
      mark: 'data',
      run: async (r, scope) => {
        r.ran.push('data');
        await scope.within('largeObjects', () => wait(40));
        await wait(10);
      },
    };
    await runSteps([data, marked('largeObjects')], run);
    // The large objects' step is done already when its turn comes.
    expect(run.ran).toEqual(['data']);
    expect(run.db.steps.largeObjects!.seconds).toBeGreaterThanOrEqual(0.035);
    expect(run.db.steps.data!.seconds).toBeLessThan(run.db.steps.largeObjects!.seconds);
    expect(run.saved).toEqual([JSON.stringify({ steps: ['largeObjects', 'data'], made: false })]);
  });
});
