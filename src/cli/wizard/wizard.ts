import { parseWindow } from '../../plan/filters.ts';
import {
  choicesToConfig,
  choicesToFilters,
  commandLineFor,
  configToToml,
  tableSelector,
  type DatabaseChoices,
  type ReplicationChoices,
} from '../../plan/choices.ts';
import type { FilterOptions } from '../../plan/plan.ts';
import { formatBytes } from '../../snapshot/estimate.ts';
import type { OfferedDatabase, OfferedTable } from './catalog.ts';
import { GoBack, WizardCancelled, type WizardPrompts } from './prompts.ts';

export interface PlanWizardOptions {
  databases: OfferedDatabase[];
  /** Databases checked at first: those the command would replicate without filters. */
  defaultDatabases: string[];
  prompts: WizardPrompts;
  print: (text: string) => void;
  /** The command the equivalent command line is written for (init, validate). */
  command: string;
}

export interface PlanWizardResult {
  choices: ReplicationChoices;
  filters: FilterOptions;
  toml: string;
  commandLine: string;
}

type Step =
  { kind: 'databases' } | { kind: 'tables' | 'schema-only' | 'time-filters'; database: string } | { kind: 'review' };
type Outcome = 'next' | 'skip' | 'repeat' | 'done';

function rows(n: number): string {
  if (n >= 1e9) return `~${(n / 1e9).toFixed(1)}B rows`;
  if (n >= 1e6) return `~${(n / 1e6).toFixed(1)}M rows`;
  if (n >= 1e3) return `~${(n / 1e3).toFixed(1)}k rows`;
  return `~${n} rows`;
}

const selectorOf = (t: OfferedTable) => tableSelector(t.schema, t.name);
const label = (t: OfferedTable) => `${t.schema}.${t.name}  (${formatBytes(t.bytes)}, ${rows(t.estimatedRows)})`;

/**
 * Asks, step by step, which databases and tables to replicate, which tables to create without data,
 * and which to copy only recent rows of; then shows the plan with its command line and TOML. Esc goes
 * back one step; the answers given so far are kept as defaults.
 */
export async function runPlanWizard(options: PlanWizardOptions): Promise<PlanWizardResult> {
  const { prompts, print } = options;
  const offered = new Map(options.databases.map((d) => [d.name, d]));
  const choices: ReplicationChoices = { databases: [...options.defaultDatabases], perDatabase: {} };
  const choiceFor = (db: string): DatabaseChoices =>
    (choices.perDatabase[db] ??= { excludeTables: [], schemaOnly: [], timeFilters: [] });
  const steps = (): Step[] => [
    { kind: 'databases' },
    ...choices.databases.flatMap((database) =>
      (['tables', 'schema-only', 'time-filters'] as const).map((kind) => ({ kind, database })),
    ),
    { kind: 'review' },
  ];

  const run = async (step: Step): Promise<Outcome> => {
    switch (step.kind) {
      case 'databases': {
        const picked = await prompts.checkbox({
          message: 'Which source databases should be replicated? (space toggles, enter confirms, esc goes back)',
          choices: options.databases.map((d) => ({
            name: `${d.name}  (${formatBytes(d.bytes)}, ${d.tables.length} tables)`,
            value: d.name,
            checked: choices.databases.includes(d.name),
          })),
          required: true,
        });
        choices.databases = options.databases.map((d) => d.name).filter((n) => picked.includes(n));
        for (const db of Object.keys(choices.perDatabase)) if (!picked.includes(db)) delete choices.perDatabase[db];
        return 'next';
      }
      case 'tables': {
        const db = offered.get(step.database)!;
        const c = choiceFor(db.name);
        if (db.tables.length === 0) return 'skip';
        const keep = await prompts.checkbox({
          message: `${db.name}: copy the data of which tables? (unchecked tables are created empty and not replicated)`,
          choices: db.tables.map((t) => ({
            name: label(t),
            value: selectorOf(t),
            checked: !c.excludeTables.includes(selectorOf(t)),
          })),
        });
        c.excludeTables = db.tables.map(selectorOf).filter((s) => !keep.includes(s));
        c.schemaOnly = c.schemaOnly.filter((s) => keep.includes(s));
        c.timeFilters = c.timeFilters.filter((f) => keep.includes(f.table));
        return 'next';
      }
      case 'schema-only': {
        const db = offered.get(step.database)!;
        const c = choiceFor(db.name);
        const candidates = db.tables.filter((t) => !c.excludeTables.includes(selectorOf(t)));
        if (candidates.length === 0) return 'skip';
        c.schemaOnly = await prompts.checkbox({
          message: `${db.name}: which of these should be schema-only (created without rows, not replicated)? Leave all unchecked for none.`,
          choices: candidates.map((t) => ({
            name: label(t),
            value: selectorOf(t),
            checked: c.schemaOnly.includes(selectorOf(t)),
          })),
        });
        c.timeFilters = c.timeFilters.filter((f) => !c.schemaOnly.includes(f.table));
        return 'next';
      }
      case 'time-filters': {
        const db = offered.get(step.database)!;
        const c = choiceFor(db.name);
        const candidates = db.tables.filter(
          (t) =>
            t.timeColumns.length > 0 &&
            !c.excludeTables.includes(selectorOf(t)) &&
            !c.schemaOnly.includes(selectorOf(t)),
        );
        if (candidates.length === 0) return 'skip';
        const picked = await prompts.checkbox({
          message: `${db.name}: copy only recent rows of which tables (time filter)? Leave all unchecked for none.`,
          choices: candidates.map((t) => ({
            name: `${label(t)}  time columns: ${t.timeColumns.join(', ')}`,
            value: selectorOf(t),
            checked: c.timeFilters.some((f) => f.table === selectorOf(t)),
          })),
        });
        const filters = [];
        try {
          for (const selector of picked) {
            const table = candidates.find((t) => selectorOf(t) === selector)!;
            const previous = c.timeFilters.find((f) => f.table === selector);
            const column = await prompts.select({
              message: `${db.name}.${table.schema}.${table.name}: which column holds the row's time?`,
              choices: table.timeColumns.map((name) => ({ name, value: name })),
              ...(previous ? { default: previous.column } : {}),
            });
            const last = await prompts.input({
              message: `${db.name}.${table.schema}.${table.name}: copy rows of the last ... (e.g. 6 months, 30 days)`,
              default: previous?.last ?? '6 months',
              validate: (value) => {
                try {
                  parseWindow(value, 'The window');
                  return true;
                } catch (error) {
                  return (error as Error).message;
                }
              },
            });
            filters.push({ table: selector, column, last: last.trim() });
          }
        } catch (error) {
          // Esc on a column or window question returns to this step's table list.
          if (error instanceof GoBack) return 'repeat';
          throw error;
        }
        c.timeFilters = filters;
        return 'next';
      }
      case 'review': {
        print(renderReview(options.command, choices, offered));
        const action = await prompts.select({
          message: 'Go ahead with this plan?',
          choices: [
            { name: 'Yes, use this plan', value: 'use' as const },
            { name: 'Go back and change it', value: 'back' as const },
            { name: 'Cancel', value: 'cancel' as const },
          ],
        });
        if (action === 'back') throw new GoBack('back');
        if (action === 'cancel') throw new WizardCancelled('The interactive plan was cancelled; nothing was done.');
        return 'done';
      }
    }
  };

  let index = 0;
  let direction: 1 | -1 = 1;
  for (;;) {
    const list = steps();
    index = Math.max(0, Math.min(index, list.length - 1));
    let outcome: Outcome;
    try {
      outcome = await run(list[index]!);
    } catch (error) {
      if (!(error instanceof GoBack)) throw error;
      direction = -1;
      index = Math.max(0, index - 1);
      continue;
    }
    if (outcome === 'done') break;
    if (outcome === 'repeat') continue;
    // A step with nothing to ask is passed over in whichever direction the user is going.
    if (outcome === 'skip' && direction === -1 && index > 0) {
      index--;
      continue;
    }
    direction = 1;
    index++;
  }
  const filters = choicesToFilters(choices);
  return {
    choices,
    filters,
    toml: configToToml(choicesToConfig(choices)),
    commandLine: commandLineFor(options.command, filters),
  };
}

export function renderReview(
  command: string,
  choices: ReplicationChoices,
  offered: Map<string, OfferedDatabase>,
): string {
  const lines = ['', 'The plan:'];
  for (const name of choices.databases) {
    const db = offered.get(name);
    const c = choices.perDatabase[name] ?? { excludeTables: [], schemaOnly: [], timeFilters: [] };
    const tables = db?.tables ?? [];
    const withData = tables.filter(
      (t) => !c.excludeTables.includes(selectorOf(t)) && !c.schemaOnly.includes(selectorOf(t)),
    );
    const bytes = withData.reduce((n, t) => n + t.bytes, 0);
    lines.push(
      `  ${name}: ${withData.length} of ${tables.length} tables with data (${formatBytes(bytes)} before time filters)`,
    );
    if (c.excludeTables.length) lines.push(`    not copied: ${c.excludeTables.join(', ')}`);
    if (c.schemaOnly.length) lines.push(`    schema only: ${c.schemaOnly.join(', ')}`);
    for (const f of c.timeFilters)
      lines.push(`    time filter: ${f.table} rows with ${f.column} in the last ${f.last}`);
  }
  const filters = choicesToFilters(choices);
  lines.push(
    '',
    'The same plan as a command line:',
    `  ${commandLineFor(command, filters)}`,
    '',
    'The same plan as TOML (--config file.toml; --save-config writes it):',
  );
  lines.push(
    ...configToToml(choicesToConfig(choices))
      .trimEnd()
      .split('\n')
      .map((l) => `  ${l}`),
    '',
  );
  return lines.join('\n') + '\n';
}
