// The job table on dynalite, in-process: the one DynamoDB set-up of the tests (job store, task,
// record-job, remote mode, the workflow runner and the image smoke test).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbJobStore, JOB_TABLE_SCHEMA } from '../../src/jobs/index.ts';

// dynalite ships no type declarations.
const dynalite = createRequire(import.meta.url)('dynalite') as (options: { createTableMs?: number }) => Server;

export const TEST_REGION = 'eu-west-1';

export interface Dynalite {
  /** http://127.0.0.1:<port>, for AWS_ENDPOINT_URL_DYNAMODB. */
  endpoint: string;
  raw: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  /** Creates an empty table with the job table's keys and waits until it is ACTIVE. */
  createJobTable: (tableName: string) => Promise<string>;
  close: () => Promise<void>;
}

export async function startDynalite(): Promise<Dynalite> {
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const raw = new DynamoDBClient({
    endpoint,
    region: TEST_REGION,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  const { partitionKey, sortKey } = JOB_TABLE_SCHEMA;
  const createJobTable = async (tableName: string) => {
    await raw.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: partitionKey.name, KeyType: 'HASH' },
          { AttributeName: sortKey.name, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: partitionKey.name, AttributeType: partitionKey.type },
          { AttributeName: sortKey.name, AttributeType: sortKey.type },
        ],
      }),
    );
    // Even with createTableMs: 0, dynalite makes the table ACTIVE on a later tick.
    while ((await raw.send(new DescribeTableCommand({ TableName: tableName }))).Table?.TableStatus !== 'ACTIVE')
      await new Promise((r) => setTimeout(r, 5));
    return tableName;
  };
  const close = async () => {
    raw.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { endpoint, raw, doc: DynamoDBDocumentClient.from(raw), createJobTable, close };
}

export interface JobTable {
  tableName: string;
  endpoint: string;
  doc: DynamoDBDocumentClient;
  store: DynamoDbJobStore;
  close: () => Promise<void>;
}

/** dynalite with one job table and a DynamoDbJobStore on it. */
export async function startJobTable(tableName = 'jobs'): Promise<JobTable> {
  const db = await startDynalite();
  await db.createJobTable(tableName);
  return {
    tableName,
    endpoint: db.endpoint,
    doc: db.doc,
    store: new DynamoDbJobStore({ client: db.doc, tableName }),
    close: db.close,
  };
}
