import { existsSync, readFileSync } from 'node:fs';
import { Aws, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface AslStateMachineProps {
  /** The Amazon States Language file (statemachines/*.asl.json): JSONPath, `${Placeholders}` for names and ARNs. */
  readonly definitionFile: string;
  /** A value for every placeholder of the file, and nothing else. */
  readonly substitutions: Record<string, string>;
  readonly logRetention?: logs.RetentionDays;
  readonly removalPolicy?: RemovalPolicy;
}

const PLACEHOLDER = /\$\{([A-Za-z][A-Za-z0-9_]*)\}/g;

/** The `${Name}` placeholders of an ASL text, each once, sorted. */
export function placeholdersOf(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]!))].sort();
}

/**
 * A name unique to this deployment of the stack: the last part of the stack id's UUID. A retained
 * log group keeps its name after the stack is deleted, so a fixed name would fail the next deployment.
 */
export function deploymentSuffix(): string {
  return Fn.select(4, Fn.split('-', Fn.select(2, Fn.split('/', Aws.STACK_ID))));
}

/**
 * A Standard state machine whose definition is a file of statemachines/ (the same file the workflow
 * tests run locally), deployed as an asset with its placeholders substituted by CloudFormation.
 * Logs every event (without execution data, which may hold identifiers only but stays out of logs
 * anyway) to a log group under /aws/vendedlogs/states/ (CloudWatch Logs then needs no resource policy
 * per log group, whose size is limited per account) and traces with X-Ray. The definition grants nothing: the caller adds the role's policies.
 */
export class AslStateMachine extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  public readonly placeholders: readonly string[];

  constructor(scope: Construct, id: string, props: AslStateMachineProps) {
    super(scope, id);
    if (!existsSync(props.definitionFile))
      throw new Error(`AslStateMachine: ${props.definitionFile} does not exist; pass a file of statemachines/.`);
    const text = readFileSync(props.definitionFile, 'utf8');
    try {
      JSON.parse(text);
    } catch {
      throw new Error(
        `AslStateMachine: ${props.definitionFile} is not valid JSON; fix it (npx vitest run test/workflow/asl.test.ts names the problem).`,
      );
    }
    this.placeholders = placeholdersOf(text);
    const given = Object.keys(props.substitutions);
    const missing = this.placeholders.filter((p) => !given.includes(p));
    const unused = given.filter((g) => !this.placeholders.includes(g));
    if (missing.length || unused.length) {
      throw new Error(
        `AslStateMachine: the substitutions do not match the placeholders of ${props.definitionFile}` +
          `${missing.length ? `; no value for ${missing.join(', ')}` : ''}${unused.length ? `; no placeholder for ${unused.join(', ')}` : ''}.`,
      );
    }
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: Fn.join('', [
        '/aws/vendedlogs/states/',
        Stack.of(this).stackName,
        '-',
        id,
        '-',
        deploymentSuffix(),
      ]),
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(props.definitionFile),
      definitionSubstitutions: props.substitutions,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
  }
}
