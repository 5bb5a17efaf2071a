// Local stand-ins for the AWS endpoints a smoke-tested process calls (pointed at by AWS_ENDPOINT_URL_<SERVICE>):
// Secrets Manager's JSON protocol answering GetSecretValue from a map (and, on the same port, a query-protocol
// service such as RDS that finds nothing), DynamoDB on dynalite.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startJobTable } from '../support/job-table.ts';

export interface SecretsStub {
  url: string;
  calls: string[];
  close: () => Promise<void>;
}

export async function startSecretsStub(secrets: Map<string, string>): Promise<SecretsStub> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
        // A query-protocol service (RDS): it knows no instance.
        calls.push(String(new URLSearchParams(body).get('Action')));
        res.writeHead(404, { 'content-type': 'text/xml' });
        res.end(
          '<ErrorResponse><Error><Type>Sender</Type><Code>DBInstanceNotFound</Code><Message>DBInstance smoke-db not found.</Message></Error><RequestId>1</RequestId></ErrorResponse>',
        );
        return;
      }
      calls.push(String(req.headers['x-amz-target']));
      const id = (JSON.parse(body || '{}') as { SecretId?: string }).SecretId ?? '';
      const value = secrets.get(id);
      res.writeHead(value ? 200 : 400, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(
        JSON.stringify(
          value
            ? { ARN: id, Name: id, SecretString: value }
            : { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." },
        ),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export interface DynamoStub {
  url: string;
  close: () => Promise<void>;
}

/** dynalite with the job table, for a process in another container: only its URL leaves. */
export async function startJobTableStub(tableName: string): Promise<DynamoStub> {
  const table = await startJobTable(tableName);
  return { url: table.endpoint, close: table.close };
}

/** The environment of a process that must reach only the local stubs (no real AWS, no credentials of the machine). */
export function offlineAwsEnvironment(endpoints: Record<string, string>): Record<string, string | undefined> {
  return {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...Object.fromEntries(Object.entries(endpoints).map(([service, url]) => [`AWS_ENDPOINT_URL_${service}`, url])),
  };
}
