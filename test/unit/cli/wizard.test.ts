import { describe, expect, it } from 'vitest';
import { wantsWizard } from '../../../src/cli/interactive.ts';
import type { GlobalOptions } from '../../../src/cli/global-options.ts';
import type { CliIo } from '../../../src/cli/io.ts';
import type { OfferedDatabase } from '../../../src/cli/wizard/catalog.ts';
import { GoBack, WizardCancelled, type Choice, type WizardPrompts } from '../../../src/cli/wizard/prompts.ts';
import { runPlanWizard } from '../../../src/cli/wizard/wizard.ts';

/** One scripted answer: what to do with the question whose message matches. */
type Answer = { match: RegExp; answer: (choices: Choice<unknown>[]) => unknown } | { match: RegExp; back: true };

/** Prompts that answer from a script and record what was asked, with the defaults shown. */
function scriptedPrompts(script: Answer[]) {
  const asked: { message: string; checked?: unknown[]; default?: unknown }[] = [];
  const next = (message: string, choices: Choice<unknown>[]) => {
    const step = script.shift();
    if (!step) throw new Error(`unexpected question: ${message}`);
    if (!step.match.test(message)) throw new Error(`expected a question matching ${step.match}, got: ${message}`);
    if ('back' in step) throw new GoBack('back');
    return step.answer(choices);
  };
  const prompts: WizardPrompts = {
    checkbox: async (config) => {
      asked.push({ message: config.message, checked: config.choices.filter((c) => c.checked).map((c) => c.value) });
      return next(config.message, config.choices) as never;
    },
    select: async (config) => {
      asked.push({ message: config.message, default: config.default });
      return next(config.message, config.choices) as never;
    },
    input: async (config) => {
      asked.push({ message: config.message, default: config.default });
      const value = next(config.message, []) as string;
      const valid = config.validate?.(value) ?? true;
      if (valid !== true) throw new Error(`invalid input ${value}: ${valid}`);
      return value;
    },
  };
  return { prompts, asked, left: script };
}

const table = (name: string, bytes: number, timeColumns: string[] = []) => ({
  schema: 'public',
  name,
  bytes,
  estimatedRows: bytes / 100,
  timeColumns,
});
const databases: OfferedDatabase[] = [
  {
    name: 'shop',
    bytes: 5e6,
    tables: [
      table('audit_log', 1e6, ['at']),
      table('customers', 1e5, ['signed_up']),
      table('orders', 3e6, ['created_at', 'shipped_at']),
      table('Order Items', 5e5),
    ],
  },
  { name: 'crm', bytes: 1e6, tables: [table('contacts', 1e5)] },
];
const values = (pick: string[]) => () => pick;
const valuesExcept = (drop: string[]) => (choices: Choice<unknown>[]) =>
  choices.map((c) => c.value).filter((v) => !drop.includes(v as string));

describe('the interactive plan', () => {
  it('turns the answers into filters, TOML and a command line; Esc goes back with the answers kept', async () => {
    const { prompts, asked, left } = scriptedPrompts([
      { match: /source databases/, answer: values(['shop']) },
      { match: /shop: copy the data/, answer: valuesExcept(['public.audit_log']) },
      { match: /schema-only/, answer: values(['public."Order Items"']) },
      { match: /time filter/, back: true },
      { match: /schema-only/, answer: values(['public."Order Items"']) },
      { match: /time filter/, answer: values(['public.orders']) },
      { match: /which column/, answer: values(['shipped_at']) as never },
      { match: /last \.\.\./, back: true },
      { match: /time filter/, answer: values(['public.orders']) },
      { match: /which column/, answer: () => 'created_at' },
      { match: /last \.\.\./, answer: () => '90 days' },
      { match: /Go ahead/, answer: () => 'use' },
    ]);
    let printed = '';
    const result = await runPlanWizard({
      databases,
      defaultDatabases: ['crm', 'shop'],
      prompts,
      print: (t) => (printed += t),
      command: 'init',
    });
    expect(left).toEqual([]);
    expect(result.filters).toEqual({
      includeDatabases: ['shop'],
      excludeDatabases: [],
      includeTables: [],
      excludeTables: ['shop.public.audit_log'],
      schemaOnlyTables: ['shop.public."Order Items"'],
      timeFilters: ['shop.public.orders:created_at:90 days'],
      tableFilters: [],
    });
    // Going back shows the earlier answer as the default.
    expect(asked.filter((a) => /schema-only/.test(a.message)).map((a) => a.checked)).toEqual([
      [],
      ['public."Order Items"'],
    ]);
    // Time filters are offered only for tables that copy data and have a time column.
    expect(asked.find((a) => /time filter/.test(a.message))!.checked).toEqual([]);
    expect(result.commandLine).toBe(
      `database-replicator init --include-databases shop --exclude-tables shop.public.audit_log --schema-only-tables 'shop.public."Order Items"' --time-filter 'shop.public.orders:created_at:90 days'`,
    );
    expect(result.toml).toContain('[[databases.shop.time_filters]]');
    expect(printed).toContain('time filter: public.orders rows with created_at in the last 90 days');
    expect(printed).toContain(result.commandLine);
  });

  it('passes over steps with nothing to ask, in both directions', async () => {
    const { prompts, left } = scriptedPrompts([
      { match: /source databases/, answer: values(['crm']) },
      { match: /crm: copy the data/, answer: values([]) },
      // No table copies data: no schema-only or time-filter question.
      { match: /Go ahead/, answer: () => 'back' },
      { match: /crm: copy the data/, answer: values(['public.contacts']) },
      { match: /schema-only/, answer: values([]) },
      // contacts has no time column: the review follows.
      { match: /Go ahead/, answer: () => 'use' },
    ]);
    const result = await runPlanWizard({
      databases,
      defaultDatabases: ['crm'],
      prompts,
      print: () => undefined,
      command: 'validate',
    });
    expect(left).toEqual([]);
    expect(result.filters.includeDatabases).toEqual(['crm']);
    expect(result.filters.excludeTables).toEqual([]);
  });

  it('rejects a time window it cannot read, and cancels on request', async () => {
    const bad = scriptedPrompts([
      { match: /source databases/, answer: values(['shop']) },
      { match: /shop: copy the data/, answer: valuesExcept([]) },
      { match: /schema-only/, answer: values([]) },
      { match: /time filter/, answer: values(['public.customers']) },
      { match: /which column/, answer: () => 'signed_up' },
      { match: /last \.\.\./, answer: () => 'six months' },
    ]);
    await expect(
      runPlanWizard({
        databases,
        defaultDatabases: ['shop'],
        prompts: bad.prompts,
        print: () => undefined,
        command: 'init',
      }),
    ).rejects.toThrow(/invalid input six months/);
    const cancel = scriptedPrompts([
      { match: /source databases/, answer: values(['crm']) },
      { match: /crm: copy the data/, answer: values(['public.contacts']) },
      { match: /schema-only/, answer: values([]) },
      { match: /Go ahead/, answer: () => 'cancel' },
    ]);
    await expect(
      runPlanWizard({
        databases,
        defaultDatabases: ['crm'],
        prompts: cancel.prompts,
        print: () => undefined,
        command: 'init',
      }),
    ).rejects.toBeInstanceOf(WizardCancelled);
  });
});

describe('when the wizard runs', () => {
  const io = (isTty: boolean) => ({ isTty }) as CliIo;
  const globals = (over: Partial<GlobalOptions> = {}) => ({ yes: false, json: false, ...over }) as GlobalOptions;
  const none = {
    includeDatabases: [],
    excludeDatabases: [],
    includeTables: [],
    excludeTables: [],
    schemaOnlyTables: [],
    timeFilter: [],
    tableFilter: [],
  };

  it('runs by default on a terminal without filters, --yes or --json', () => {
    expect(wantsWizard(none, globals(), io(true), true)).toBe(true);
    expect(wantsWizard(none, globals(), io(true), false)).toBe(false);
    expect(wantsWizard(none, globals(), io(false), true)).toBe(false);
    expect(wantsWizard(none, globals({ yes: true }), io(true), true)).toBe(false);
    expect(wantsWizard(none, globals({ json: true }), io(true), true)).toBe(false);
    expect(wantsWizard({ ...none, excludeTables: ['shop.x'] }, globals(), io(true), true)).toBe(false);
    expect(wantsWizard({ ...none, config: 'plan.toml' }, globals(), io(true), true)).toBe(false);
  });

  it('refuses --interactive where it cannot ask, and --save-config where nothing is chosen', () => {
    expect(() => wantsWizard({ ...none, interactive: true }, globals(), io(true), false)).toThrow(/needs a terminal/);
    expect(() => wantsWizard({ ...none, interactive: true }, globals({ yes: true }), io(true), true)).toThrow(/--yes/);
    expect(() => wantsWizard({ ...none, interactive: true, config: 'x.toml' }, globals(), io(true), true)).toThrow(
      /drop the filter flags/,
    );
    expect(() => wantsWizard({ ...none, saveConfig: 'x.toml' }, globals(), io(false), false)).toThrow(/--save-config/);
    expect(wantsWizard({ ...none, interactive: true }, globals(), io(true), true)).toBe(true);
  });
});
