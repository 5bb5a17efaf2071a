// How init writes its checkpoint through a job store: in order, each save durable before it resolves.
import type { InitCheckpoint } from './checkpoint.ts';
import type { JobStore } from './store.ts';

/**
 * Init's reads and writes of one job's checkpoint. Saves land in the order they were made (each waits
 * for the one before), and each writes the checkpoint as it was when saved: an older save never
 * replaces a newer one. A save nobody waited for that failed fails the next save.
 */
export class CheckpointWriter {
  readonly store: JobStore;
  readonly jobId: string;
  readonly database: string | undefined;
  #last: Promise<void> = Promise.resolve();
  #pending = 0;
  #failure: unknown;

  /** `database`: a checkpoint of an init of that one database (see JobStore.getCheckpoint). */
  constructor(store: JobStore, jobId: string, database?: string) {
    this.store = store;
    this.jobId = jobId;
    this.database = database;
  }

  load(): Promise<InitCheckpoint | undefined> {
    return this.store.getCheckpoint(this.jobId, this.database);
  }

  /** Stamps `updatedAt` and writes the checkpoint as it is now; resolves once the store holds it. */
  save(checkpoint: InitCheckpoint): Promise<void> {
    if (this.#failure !== undefined) {
      const failed = Promise.reject(this.#failure as Error);
      // Handled here too: a save nobody waits for (a copy's per-table save) must not end the process.
      failed.catch(() => undefined);
      return failed;
    }
    checkpoint.updatedAt = new Date().toISOString();
    const copy = structuredClone(checkpoint);
    const write = () => this.store.saveCheckpoint(this.jobId, copy, this.database);
    // Nothing in flight: start at once, so a store that writes synchronously has written on return.
    const run = this.#pending === 0 ? write() : this.#last.then(write);
    this.#pending++;
    this.#last = run.then(
      () => {
        this.#pending--;
      },
      (error: unknown) => {
        this.#pending--;
        this.#failure ??= error;
      },
    );
    return run;
  }

  /** Resolves when every save made so far has landed; rejects with the first that failed. */
  async settled(): Promise<void> {
    await this.#last;
    if (this.#failure !== undefined) throw this.#failure as Error;
  }

  remove(): Promise<void> {
    return this.store.removeCheckpoint(this.jobId, this.database);
  }
}
