import { App } from 'aws-cdk-lib';
import { readAppSettings } from '../lib/app-settings.ts';
import { ReplicatorStack } from '../lib/replicator-stack.ts';

const app = new App();

let settings;
try {
  settings = readAppSettings(app.node);
} catch (error) {
  // A bad -c value is a usage error: one sentence for the user, not a Node stack trace.
  console.error((error as Error).message);
  process.exit(1);
}

new ReplicatorStack(app, settings.stackName, {
  stackName: settings.stackName,
  description: 'database-replicator: zero-downtime PostgreSQL replication workflow',
  removalPolicy: settings.removalPolicy,
});
