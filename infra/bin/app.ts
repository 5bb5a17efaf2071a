import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
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
  secrets: settings.secrets,
  ...(settings.secretsKmsKeyArns ? { secretsKmsKeyArns: settings.secretsKmsKeyArns } : {}),
  task: settings.task,
  ...(settings.network ? { network: settings.network } : {}),
  ...(settings.alarmEmail ? { alarmEmail: settings.alarmEmail } : {}),
  ...(settings.image ? { image: settings.image } : {}),
  ...(settings.rdsCaBundle ? { rdsCaBundle: settings.rdsCaBundle } : {}),
});

// Every synth is checked against the AWS Solutions rules (cdk-nag); the accepted findings are
// acknowledged, each with its reason, in infra/lib/nag-suppressions.ts.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
