// Every AWS call the deployed code makes is granted (issue #17): the SDK commands are found by reading
// the sources (each entry file and every file it imports, transitively), turned into IAM actions, and
// checked against the policies of the role that runs them in the synthesized template. The CLI's
// remote mode (src/remote/) runs as the operator: its calls are checked against the README's table.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './cdk-context.ts';
import { logicalId, resourcesOf, synth, type Synthesized } from './synth.ts';
import type { ReplicatorFunction } from '../../infra/lib/replicator-function.ts';

/** The IAM prefix of each SDK package the code uses. */
const SERVICE: Record<string, string> = {
  '@aws-sdk/client-dynamodb': 'dynamodb',
  '@aws-sdk/lib-dynamodb': 'dynamodb',
  '@aws-sdk/client-secrets-manager': 'secretsmanager',
  '@aws-sdk/client-sfn': 'states',
  '@aws-sdk/client-rds': 'rds',
  '@aws-sdk/client-scheduler': 'scheduler',
  '@aws-sdk/client-cloudformation': 'cloudformation',
  '@aws-sdk/client-cloudwatch': 'cloudwatch',
};
/** The document client's commands and the DynamoDB actions they call. */
const DOCUMENT_CLIENT: Record<string, string> = {
  Get: 'GetItem',
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  Query: 'Query',
  Scan: 'Scan',
  BatchGet: 'BatchGetItem',
  BatchWrite: 'BatchWriteItem',
  TransactGet: 'TransactGetItems',
  TransactWrite: 'TransactWriteItems',
};

/** Actions a shared module can call that the walked code never reaches, each with the method that would reach it. */
const NOT_REACHED: Record<string, { method: string; why: string }> = {
  'dynamodb:Scan': {
    method: 'listJobs',
    why: 'DynamoDbJobStore.listJobs (all jobs of a table) is for the CLI on a laptop, never called by the deployed code',
  },
};

/** The entries and the files they import, transitively (relative imports of .ts files only). */
function closure(entries: string[]): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    // Type-only imports and re-exports are erased: they load nothing.
    for (const m of text.matchAll(/^(?:import|export)(\s+type)?\b[^;]*?from\s*'(\.{1,2}\/[^']+\.ts)'/gm))
      if (!m[1]) visit(resolve(dirname(file), m[2]!));
    for (const m of text.matchAll(/import\(\s*'(\.{1,2}\/[^']+\.ts)'/g)) visit(resolve(dirname(file), m[1]!));
  };
  entries.forEach(visit);
  return [...seen];
}

/** The file's top-level declarations (column 0), each with its name and text. */
function declarations(text: string): { name: string; exported: boolean; body: string }[] {
  const starts = [
    ...text.matchAll(/^(export\s+)?(?:default\s+)?(?:async\s+)?(?:function\*?|class|const|let)\s+([A-Za-z_$][\w$]*)/gm),
  ];
  return starts.map((m, i) => ({
    name: m[2]!,
    exported: Boolean(m[1]),
    body: text.slice(m.index, starts[i + 1]?.index ?? text.length),
  }));
}

/**
 * Whether the command instantiated in `file` can run: the top-level declaration holding `new XCommand(`
 * (or an exported one of the same file that uses it, through any of its helpers) is named by another walked file,
 * or is the entry itself.
 */
function reached(file: string, command: string, files: string[], entries: Set<string>): boolean {
  if (entries.has(file)) return true;
  const decls = declarations(readFileSync(file, 'utf8'));
  const holders = decls.filter((d) => d.body.includes(`new ${command}(`));
  const names = new Set(holders.map((d) => d.name));
  // Through the file's own helpers: every declaration that uses one that holds it, to a fixed point.
  for (let grown = true; grown;) {
    grown = false;
    for (const d of decls)
      if (!names.has(d.name) && [...names].some((n) => new RegExp(`\\b${n}\\b`).test(d.body)))
        grown = Boolean(names.add(d.name));
  }
  const exported = decls.filter((d) => d.exported && names.has(d.name)).map((d) => d.name);
  return files.some(
    (other) => other !== file && exported.some((name) => new RegExp(`\\b${name}\\b`).test(callerText(other, entries))),
  );
}

/**
 * What a file can call with. Another function's handler file, imported for its event schema or
 * types, never runs its `handler` there (and its module-scope client makes no call by itself).
 */
function callerText(file: string, entries: Set<string>): string {
  const text = readFileSync(file, 'utf8');
  if (entries.has(file) || dirname(file) !== join(repoRoot, 'lambdas')) return text;
  return declarations(text)
    .filter((d) => d.name !== 'handler')
    .map((d) => d.body)
    .join('\n');
}

/** The IAM actions of the SDK commands the files instantiate (`new XCommand(`) where the code can reach them, with the files that do. */
function sdkActions(files: string[], entries: Set<string>): Map<string, string[]> {
  const actions = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(@aws-sdk\/[^']+)'/g)) {
      const service = SERVICE[m[2]!];
      const names = m[1]!
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n && !n.startsWith('type '))
        .map((n) => n.split(/\s+as\s+/).pop()!);
      for (const name of names.filter(
        (n) => n.endsWith('Command') && new RegExp(`new ${n}\\(`).test(text) && reached(file, n, files, entries),
      )) {
        if (!service)
          throw new Error(
            `${relative(repoRoot, file)} uses ${name} from ${m[2]}: add the package's IAM prefix to SERVICE`,
          );
        const op = name.slice(0, -'Command'.length);
        const action = `${service}:${m[2] === '@aws-sdk/lib-dynamodb' ? (DOCUMENT_CLIENT[op] ?? op) : op}`;
        actions.set(action, [...(actions.get(action) ?? []), relative(repoRoot, file)]);
      }
    }
  }
  return actions;
}

interface Statement {
  Effect: string;
  Action: string | string[];
}
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
function grantedActions(s: Synthesized, role: IRole): string[] {
  const id = logicalId(s, role);
  return resourcesOf(s.json, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Roles as { Ref: string }[]).some((r) => r.Ref === id))
    .flatMap(([, p]) =>
      (p.PolicyDocument as { Statement: Statement[] }).Statement.filter((st) => st.Effect === 'Allow').flatMap((st) =>
        list(st.Action),
      ),
    );
}
const grants = (granted: string[], action: string) =>
  granted.some((g) =>
    new RegExp(`^${g.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i').test(action),
  );

/** Actions the files call, less the ones only an unreached method calls (checked: no walked file calls it). */
function calledActions(entries: string[]): Map<string, string[]> {
  const files = closure(entries);
  const actions = sdkActions(files, new Set(entries));
  for (const [action, { method }] of Object.entries(NOT_REACHED)) {
    if (!actions.has(action)) continue;
    const callers = files.filter(
      (f) => !f.includes('/src/jobs/') && new RegExp(`\\.${method}\\(`).test(readFileSync(f, 'utf8')),
    );
    expect(
      callers.map((f) => relative(repoRoot, f)),
      `${action}: ${NOT_REACHED[action]!.why}`,
    ).toEqual([]);
    actions.delete(action);
  }
  return actions;
}

const s = synth();
const KNOWN_CALLS: Record<string, string[]> = {
  'check-grants': ['secretsmanager:GetSecretValue'],
  'estimate-size': ['secretsmanager:GetSecretValue'],
  'check-replication': ['secretsmanager:GetSecretValue'],
  'check-target-reaches-source': ['secretsmanager:GetSecretValue'],
  'check-rds-parameter-group': ['rds:DescribeDBInstances', 'rds:DescribeDBClusters'],
  'record-job': ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'states:DescribeExecution'],
  'monitor-replication': [
    'secretsmanager:GetSecretValue',
    'cloudwatch:GetMetricData',
    'dynamodb:GetItem',
    'dynamodb:UpdateItem',
  ],
};
const HANDLERS = readdirSync(join(repoRoot, 'lambdas'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3));
const pascal = (name: string) => name.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());

describe('every AWS call of the deployed code is granted to the role that makes it', () => {
  it.each(HANDLERS)('lambdas/%s.ts: its function role', (name) => {
    const fn = (s.stack.functions as unknown as Record<string, ReplicatorFunction>)[
      pascal(name).replace(/^./, (c) => c.toLowerCase())
    ];
    expect(fn, `WorkflowFunctions has no ${name}`).toBeDefined();
    const granted = grantedActions(s, fn!.role);
    const actions = calledActions([join(repoRoot, 'lambdas', `${name}.ts`)]);
    // The walk finds what each function is known to call (a guard against a walk that finds nothing).
    expect([...actions.keys()]).toEqual(expect.arrayContaining(KNOWN_CALLS[name] ?? []));
    const missing = [...actions].filter(([action]) => !grants(granted, action));
    expect(missing.map(([a, files]) => `${a} (${files.join(', ')})`)).toEqual([]);
  });

  it('containers/replicator/entrypoint.ts and src/task/: the task role', () => {
    const actions = calledActions([join(repoRoot, 'containers/replicator/entrypoint.ts')]);
    // Task tokens: src/task/token.ts reports to Step Functions only when TASK_TOKEN is set, which no
    // state machine does (they run the task with ecs:runTask.sync, and the exit code decides).
    const asl = readdirSync(join(repoRoot, 'statemachines'))
      .filter((f) => f.endsWith('.asl.json'))
      .map((f) => readFileSync(join(repoRoot, 'statemachines', f), 'utf8'))
      .join('\n');
    expect(asl).not.toMatch(/TASK_TOKEN|waitForTaskToken|\$\$\.Task\.Token/);
    for (const action of ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'])
      actions.delete(action);
    expect([...actions.keys()].sort()).toEqual(
      expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:UpdateItem', 'secretsmanager:GetSecretValue']),
    );
    const granted = grantedActions(s, s.stack.task.taskDefinition.taskRole);
    expect(
      [...actions].filter(([action]) => !grants(granted, action)).map(([a, files]) => `${a} (${files.join(', ')})`),
    ).toEqual([]);
  });

  it("src/remote/: the CLI user's actions, each listed in README's table of AWS permissions for the CLI user", () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('### AWS permissions for the CLI user'));
    const rows = table
      .slice(0, table.indexOf('\n## '))
      .split('\n')
      .filter((l) => l.startsWith('| `'));
    const listed = rows.flatMap((row) => {
      const cell = row.split('|')[1]!;
      const [first, ...rest] = [...cell.matchAll(/`([a-z0-9-]+:)?([A-Za-z]+)`/g)].map((m) => [m[1], m[2]] as const);
      const prefix = first?.[0] ?? '';
      return [first, ...rest].filter(Boolean).map((m) => `${m![0] ?? prefix}${m![1]}`);
    });
    const missing = [
      ...calledActions(readdirSync(join(repoRoot, 'src/remote')).map((f) => join(repoRoot, 'src/remote', f))).keys(),
    ].filter((a) => !listed.includes(a));
    expect(missing).toEqual([]);
  });
});
