// `status --watch` on a terminal: one frame per refresh, drawn over the previous one in place. The
// frame is built from plain data (what the servers say, what the job record says), so local and
// remote mode draw the same view: per database its state, lag, WAL retained and tables ready, and
// while init copies, a bar per table in flight (and the last finished) from the job record.
import type { DatabaseProgress, TableCopy } from '../jobs/types.ts';
import { formatBytes, formatSeconds } from '../snapshot/estimate.ts';

export interface LiveDatabase {
  database: string;
  /** The verdict (local: initializing, in sync, ...) or the record's state and phase (remote). */
  verdict: string;
  reason?: string;
  lagBytes: number | null;
  lagSeconds: number | null;
  walRetainedBytes: number | null;
  /** How old the lag and the WAL retained shown are (remote: the monitor's datapoint); absent when read just now. */
  lagAgeSeconds?: number;
  walRetainedAgeSeconds?: number;
  tablesReady: number | null;
  tablesTotal: number | null;
  warning?: string;
  /** This database's entry in the job record: copy counts and the tables in flight. */
  progress?: DatabaseProgress;
}

export interface LiveFrame {
  /** First line: what is watched, e.g. "job 1a2b3c (local)". */
  title: string;
  /** Lines between the title and the databases: the job's state, the execution. */
  header: string[];
  databases: LiveDatabase[];
  /** Why the servers could not be read this time (the view then shows the record only). */
  note?: string;
  now: Date;
  intervalSeconds: number;
  columns: number;
}

const BAR_WIDTH = 24;
/** A record older than this while copying is said to be stale: the copying process may be gone. */
const STALE_MS = 30_000;

/** Clears the screen once, then each frame starts at the top left and clears what the last one left below. */
export const CLEAR_SCREEN = '\u001b[2J';
export const CURSOR_HOME = '\u001b[H';
export const CLEAR_LINE_END = '\u001b[K';
export const CLEAR_BELOW = '\u001b[J';

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** `[#########...............]`, `fraction` from 0 to 1. */
export function bar(fraction: number, width = BAR_WIDTH): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** One table's line: its bar while in flight, its totals once finished. `at` is when the record was written. */
export function tableLine(t: TableCopy, at: Date, nameWidth: number): string {
  const name = t.table.length > nameWidth ? `${t.table.slice(0, nameWidth - 1)}~` : t.table.padEnd(nameWidth);
  if (t.seconds !== undefined) {
    const rate = t.seconds > 0 ? t.bytesDone / t.seconds : 0;
    return `${name} ${bar(1)} done  ${formatCount(t.rows)} rows, ${formatBytes(t.bytesDone)} in ${t.seconds.toFixed(1)} s${rate ? `, ${formatBytes(rate)}/s` : ''}`;
  }
  const elapsed = Math.max(0, (at.getTime() - Date.parse(t.startedAt)) / 1000);
  const rate = elapsed > 0 ? t.bytesDone / elapsed : 0;
  // The planner's size is the table on disk; the copy's bytes end near it, on either side.
  const fraction = t.bytesExpected > 0 ? Math.min(0.99, t.bytesDone / t.bytesExpected) : 0;
  const left = Math.max(0, t.bytesExpected - t.bytesDone);
  const eta = rate > 0 ? (left > 0 ? formatSeconds(left / rate) : 'finishing') : '-';
  return `${name} ${bar(fraction)} ${String(Math.floor(fraction * 100)).padStart(2)}%  ${formatCount(t.rows)} rows, ${formatBytes(t.bytesDone)} of ~${formatBytes(t.bytesExpected)}, ${formatBytes(rate)}/s, ETA ${eta}`;
}

/** `40 s ago`, `2 min 5 s ago`. */
export function ago(seconds: number): string {
  return seconds < 60 ? `${Math.max(0, Math.round(seconds))} s ago` : `${formatSeconds(seconds)} ago`;
}

function databaseLines(d: LiveDatabase, now: Date): string[] {
  const lagDetail = [
    ...(d.lagBytes !== null && d.lagBytes > 0 && d.lagSeconds !== null ? [`${d.lagSeconds.toFixed(1)} s`] : []),
    ...(d.lagAgeSeconds !== undefined ? [ago(d.lagAgeSeconds)] : []),
  ];
  const lag =
    d.lagBytes === null ? '-' : `${formatBytes(d.lagBytes)}${lagDetail.length ? ` (${lagDetail.join(', ')})` : ''}`;
  const walAge = d.walRetainedAgeSeconds !== undefined ? ` (${ago(d.walRetainedAgeSeconds)})` : '';
  const wal = d.walRetainedBytes === null ? '-' : `${formatBytes(d.walRetainedBytes)}${walAge}`;
  const tables = d.tablesTotal ? `${d.tablesReady ?? 0}/${d.tablesTotal} ready` : '-';
  const lines = [`${d.database}: ${d.verdict}  |  lag ${lag}  |  WAL retained ${wal}  |  tables ${tables}`];
  if (d.reason) lines.push(`  ${d.reason}`);
  const p = d.progress;
  const copying = p?.state === 'RUNNING' && p.copying?.length ? p.copying : undefined;
  if (p && (copying || (p.state === 'RUNNING' && p.tablesDone < p.tablesTotal))) {
    const at = new Date(p.updatedAt);
    const age = now.getTime() - at.getTime();
    const stale = age > STALE_MS ? ` (recorded ${formatSeconds(age / 1000)} ago: is init still running?)` : '';
    lines.push(
      `  copy: ${p.tablesDone}/${p.tablesTotal} tables, ${formatCount(p.rowsCopied)} rows, ${formatBytes(p.bytesCopied)}${stale}`,
    );
    if (copying) {
      const nameWidth = Math.min(40, Math.max(...copying.map((t) => t.table.length)));
      for (const t of copying) lines.push(`    ${tableLine(t, at, nameWidth)}`);
    }
  }
  if (d.warning) lines.push(`  WARNING: ${d.warning}`);
  return lines;
}

/** The frame's lines, each cut to the terminal's width so none wraps (a wrapped line would break the redraw). */
export function liveViewLines(f: LiveFrame): string[] {
  const lines = [
    `${f.title}  ${f.now.toISOString().replace(/\.\d+Z$/, 'Z')}  (every ${f.intervalSeconds} s; Ctrl-C to stop)`,
    ...f.header,
    '',
  ];
  if (f.note) lines.push(`(${f.note})`, '');
  if (!f.databases.length) lines.push('No database recorded yet.');
  for (const d of f.databases) lines.push(...databaseLines(d, f.now), '');
  const width = Math.max(20, f.columns - 1);
  return lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}~` : l));
}

/** What to write for one frame: drawn over the previous one (the first clears the screen). */
export function liveViewFrame(f: LiveFrame, first: boolean): string {
  return `${first ? CLEAR_SCREEN : ''}${CURSOR_HOME}${liveViewLines(f)
    .map((l) => `${l}${CLEAR_LINE_END}`)
    .join('\n')}\n${CLEAR_BELOW}`;
}
