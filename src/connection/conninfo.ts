// libpq's key=value connection strings, as pg_dump's --dbname and CREATE SUBSCRIPTION take them.

/** libpq's conninfo quoting: single quotes, with ' and \ escaped by a backslash. */
export function conninfoValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `key='value' ...` in the given order; an undefined value leaves its key out. */
export function formatConninfo(parts: ReadonlyArray<readonly [string, string | undefined]>): string {
  return parts.flatMap(([key, value]) => (value === undefined ? [] : [`${key}=${conninfoValue(value)}`])).join(' ');
}
