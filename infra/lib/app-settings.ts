import { RemovalPolicy } from 'aws-cdk-lib';
import type { Node } from 'constructs';

export interface AppSettings {
  readonly stackName: string;
  readonly removalPolicy: RemovalPolicy;
}

export const DEFAULT_STACK_NAME = 'DatabaseReplicator';

/** CloudFormation's own rule; checking it here fails at synth instead of halfway through a deploy. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

/**
 * Reads the app's `-c` context. Values arrive as strings from the command line but as JSON values
 * from cdk.json or cdk.context.json, so both spellings are accepted.
 */
export function readAppSettings(node: Node): AppSettings {
  const rawName: unknown = node.tryGetContext('stackName') ?? DEFAULT_STACK_NAME;
  if (typeof rawName !== 'string' || !STACK_NAME.test(rawName)) {
    throw new Error(
      `Context stackName ${JSON.stringify(rawName)} is not a valid CloudFormation stack name: ` +
        'pass -c stackName=<name> with a letter first, then letters, digits or hyphens, at most 128 characters.',
    );
  }
  const rawRetain: unknown = node.tryGetContext('retainData') ?? true;
  const retain = rawRetain === true || rawRetain === 'true' ? true : rawRetain === false || rawRetain === 'false' ? false : undefined;
  if (retain === undefined) {
    throw new Error(`Context retainData ${JSON.stringify(rawRetain)} is not valid: pass -c retainData=true (keep the job table on stack deletion) or -c retainData=false.`);
  }
  return { stackName: rawName, removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY };
}
