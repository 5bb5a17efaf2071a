// Parsing of the table filters given on the command line (and later in TOML): pure functions, no I/O.

/** A table as the user named it: `db.table`, `db.schema.table`, or `table` / `schema.table` when one database is planned. */
export interface TableSelector {
  database?: string;
  schema?: string;
  name: string;
  /** The text the user wrote, for messages. */
  text: string;
}

export interface TimeFilterSpec {
  table: TableSelector;
  column: string;
  /** PostgreSQL interval text, e.g. '6 months'. */
  window: string;
}

export interface TableFilterSpec {
  table: TableSelector;
  predicate: string;
}

export class FilterError extends Error {
  override name = 'FilterError';
}

/** Splits on `separator` outside double-quoted identifiers; `""` inside quotes is a literal quote. */
export function splitOutsideQuotes(text: string, separator: string, limit = Infinity): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      if (quoted && text[i + 1] === '"') {
        current += '""';
        i++;
        continue;
      }
      quoted = !quoted;
      current += ch;
    } else if (ch === separator && !quoted && parts.length < limit - 1) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (quoted) throw new FilterError(`"${text}" has an unclosed double quote.`);
  parts.push(current);
  return parts;
}

/** Unquotes one identifier: `"Order Items"` -> `Order Items`; unquoted names fold to lower case, as in SQL. */
export function parseIdentifier(text: string, context: string): string {
  const trimmed = text.trim();
  if (!trimmed) throw new FilterError(`${context} has an empty name part.`);
  if (trimmed.startsWith('"')) {
    if (!trimmed.endsWith('"') || trimmed.length < 3)
      throw new FilterError(`${context} has a badly quoted name ${trimmed}.`);
    return trimmed.slice(1, -1).replace(/""/g, '"');
  }
  if (!/^[A-Za-z_][A-Za-z0-9_$-]*$/.test(trimmed)) {
    throw new FilterError(
      `${context}: "${trimmed}" needs double quotes (names with spaces, dots or other characters are written like shop."Order Items").`,
    );
  }
  // Database names are not folded by PostgreSQL, but table names are; callers decide which applies.
  return trimmed;
}

export function parseTableSelector(text: string): TableSelector {
  const context = `The table "${text}"`;
  const parts = splitOutsideQuotes(text.trim(), '.');
  const ident = (part: string, fold: boolean) => {
    const name = parseIdentifier(part, context);
    return fold && !part.trim().startsWith('"') ? name.toLowerCase() : name;
  };
  switch (parts.length) {
    case 1:
      return { name: ident(parts[0]!, true), text };
    case 2:
      // db.table: the table in whichever schema of db holds it (schema.table when one database is planned).
      return { database: ident(parts[0]!, false), name: ident(parts[1]!, true), text };
    case 3:
      return { database: ident(parts[0]!, false), schema: ident(parts[1]!, true), name: ident(parts[2]!, true), text };
    default:
      throw new FilterError(
        `${context} has too many dots; write db.table or db.schema.table, with double quotes around names that contain dots.`,
      );
  }
}

const UNITS = ['second', 'minute', 'hour', 'day', 'week', 'month', 'year'] as const;

/** "6 months", "1 year", "90 days" -> a PostgreSQL interval text; anything else is refused. */
export function parseWindow(text: string, context: string): string {
  const match = /^\s*(\d+)\s*([a-z]+?)s?\s*$/i.exec(text);
  const unit = match?.[2]?.toLowerCase();
  if (!match || !UNITS.includes(unit as (typeof UNITS)[number]) || Number(match[1]) <= 0) {
    throw new FilterError(
      `${context}: "${text.trim()}" is not a time window; write a positive number and one of ${UNITS.join(', ')} (plurals allowed), e.g. "6 months".`,
    );
  }
  return `${Number(match[1])} ${unit}${Number(match[1]) === 1 ? '' : 's'}`;
}

/** `table:column:6 months` (the table part may hold quoted names with colons). */
export function parseTimeFilter(text: string): TimeFilterSpec {
  const parts = splitOutsideQuotes(text, ':');
  if (parts.length !== 3)
    throw new FilterError(
      `The time filter "${text}" must be table:column:window, e.g. shop.events:created_at:6 months.`,
    );
  const [table, column, window] = parts as [string, string, string];
  const context = `The time filter "${text}"`;
  const columnName = parseIdentifier(column, context);
  return {
    table: parseTableSelector(table),
    column: column.trim().startsWith('"') ? columnName : columnName.toLowerCase(),
    window: parseWindow(window, context),
  };
}

/** `table:SQL predicate` (split at the first colon outside quotes; the predicate may contain colons). */
export function parseTableFilter(text: string): TableFilterSpec {
  const parts = splitOutsideQuotes(text, ':', 2);
  if (parts.length !== 2 || !parts[1]!.trim())
    throw new FilterError(
      `The table filter "${text}" must be table:predicate, e.g. shop.orders:status <> 'cancelled'.`,
    );
  const predicate = parts[1]!.trim();
  if (/;/.test(predicate.replace(/'(?:[^']|'')*'/g, '')))
    throw new FilterError(`The table filter "${text}" holds a semicolon; give one SQL condition, without statements.`);
  return { table: parseTableSelector(parts[0]!), predicate };
}
