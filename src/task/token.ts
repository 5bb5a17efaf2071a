// The Step Functions side of a task started with `.waitForTaskToken`: heartbeats while it works, then
// exactly one SendTaskSuccess or SendTaskFailure. Without a token every method does nothing.
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { clearInterval, setInterval } from 'node:timers';
import { redact } from '../connection/redact.ts';
import type { Logger } from '../log/logger.ts';
import { TaskMisconfigured } from './errors.ts';

/** Step Functions' limits: error name 256 characters, cause 32768, output 256 KiB. */
const MAX_ERROR = 256;
const MAX_CAUSE = 32_768;

export const DEFAULT_HEARTBEAT_MS = 60_000;

export class TaskTokenReporter {
  readonly #sfn: SFNClient | undefined;
  readonly #token: string | undefined;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #reported = false;

  constructor(options: {
    sfn: SFNClient | undefined;
    taskToken: string | undefined;
    logger: Logger;
    heartbeatMs?: number;
  }) {
    this.#sfn = options.sfn;
    this.#token = options.taskToken;
    this.#logger = options.logger;
    this.#intervalMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    if (this.#token !== undefined && this.#sfn === undefined)
      throw new TaskMisconfigured('TASK_TOKEN is set but no Step Functions client was given.');
  }

  get active(): boolean {
    return this.#token !== undefined;
  }

  /** Sends SendTaskHeartbeat every interval until stopped; a failed heartbeat is logged, not fatal. */
  start(): void {
    if (!this.#token || this.#timer) return;
    this.#timer = setInterval(() => {
      this.#sfn!.send(new SendTaskHeartbeatCommand({ taskToken: this.#token })).catch((error: unknown) => {
        // TaskTimedOut or TaskDoesNotExist: the execution gave up on this task; the work finishes anyway and says so at the end.
        this.#logger.warn(`Step Functions heartbeat failed (${(error as Error).name}): ${(error as Error).message}`);
      });
    }, this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Reports the result; false when Step Functions did not take it (the task then exits 1). */
  async success(output: object): Promise<boolean> {
    if (!this.#token || this.#reported) return true;
    this.#reported = true;
    this.stop();
    return this.#send(
      new SendTaskSuccessCommand({ taskToken: this.#token, output: redact(JSON.stringify(output)) }),
      'SendTaskSuccess',
    );
  }

  async failure(error: string, cause: string): Promise<boolean> {
    if (!this.#token || this.#reported) return true;
    this.#reported = true;
    this.stop();
    return this.#send(
      new SendTaskFailureCommand({
        taskToken: this.#token,
        error: redact(error).slice(0, MAX_ERROR),
        cause: redact(cause).slice(0, MAX_CAUSE),
      }),
      'SendTaskFailure',
    );
  }

  async #send(command: SendTaskSuccessCommand | SendTaskFailureCommand, what: string): Promise<boolean> {
    try {
      await this.#sfn!.send(command as SendTaskSuccessCommand);
      return true;
    } catch (error) {
      this.#logger.error(`${what} to Step Functions failed (${(error as Error).name}): ${(error as Error).message}`);
      return false;
    }
  }
}
