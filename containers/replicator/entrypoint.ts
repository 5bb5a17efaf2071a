// The Fargate task's entry point: `node containers/replicator/entrypoint.ts <subcommand>`, configured
// only through environment variables (see README.md). Thin on purpose: validate the environment,
// build the AWS clients once, and hand them to the logic in src/task/.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { redact } from '../../src/connection/redact.ts';
import { DynamoDbJobStore, LocalFileJobStore, type JobStore } from '../../src/jobs/index.ts';
import { parseTaskConfig, TaskConfigError, type TaskConfig } from '../../src/task/config.ts';
import { runTask } from '../../src/task/run.ts';

const EXIT_CONFIG = 2;

function readConfig(): TaskConfig {
  try {
    return parseTaskConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof TaskConfigError)) throw error;
    process.stderr.write(`error: ${redact(error.message)}\n`);
    process.exit(EXIT_CONFIG);
  }
}

const stop = new AbortController();

async function main(): Promise<number> {
  const config = readConfig();
  // Standard retries back off on throttling; the region is AWS_REGION or the secret's.
  const aws = { region: config.region, maxAttempts: 5 };
  const store: JobStore =
    config.store.kind === 'dynamodb'
      ? new DynamoDbJobStore({
          client: DynamoDBDocumentClient.from(new DynamoDBClient(aws)),
          tableName: config.store.tableName,
        })
      : new LocalFileJobStore(config.store.dir);
  // ECS sends SIGTERM, then SIGKILL 30 s later: enough to record the state and tell Step Functions.
  process.once('SIGTERM', () => stop.abort());
  process.once('SIGINT', () => stop.abort());
  return runTask(config, {
    secrets: new SecretsManagerClient(aws),
    store,
    ...(config.taskToken ? { sfn: new SFNClient(aws) } : {}),
    signal: stop.signal,
  });
}

main().then(
  (code) => {
    // Stopped: the engine is still at work, and its outcome is already recorded.
    if (stop.signal.aborted) process.exit(code);
    process.exitCode = code;
    // Every client is ended by now; should a socket still hold the event loop, do not hang the task.
    setTimeout(() => process.exit(code), 5_000).unref();
  },
  (error: unknown) => {
    process.stderr.write(
      `error: ${redact(error instanceof Error ? `${error.name}: ${error.message}` : String(error)).replace(/\s+/g, ' ')}\n`,
    );
    process.exit(1);
  },
);
