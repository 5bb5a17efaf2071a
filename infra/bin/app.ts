import { App, RemovalPolicy } from 'aws-cdk-lib';
import { ReplicatorStack } from '../lib/replicator-stack.ts';

const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

const app = new App();
const stackName = String(app.node.tryGetContext('stackName') ?? 'DatabaseReplicator');
if (!STACK_NAME.test(stackName)) {
  throw new Error(`Context stackName "${stackName}" is not a valid CloudFormation stack name (a letter, then letters, digits and hyphens, at most 128).`);
}
const retain = String(app.node.tryGetContext('retainData') ?? 'true');
if (!['true', 'false'].includes(retain)) throw new Error(`Context retainData must be true or false, not "${retain}".`);

new ReplicatorStack(app, stackName, {
  stackName,
  description: 'database-replicator: zero-downtime PostgreSQL replication workflow',
  removalPolicy: retain === 'true' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
});
