import Table from 'cli-table3';
import type { CheckResult, CheckStatus } from '../checks/types.ts';
import { redact } from '../connection/redact.ts';
import type { CliIo } from './io.ts';

const STATUS_LABEL: Record<CheckStatus, string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL' };
const STATUS_COLOUR: Record<CheckStatus, number> = { pass: 32, warn: 33, fail: 31 };

function statusText(status: CheckStatus, colour: boolean): string {
  const label = STATUS_LABEL[status];
  return colour ? `\u001b[${STATUS_COLOUR[status]}m${label}\u001b[39m` : label;
}

/**
 * Wraps at spaces and splits only words longer than the column (paths, URLs): cli-table3 would cut
 * those off with an ellipsis, and a remedy must be readable to the end.
 */
export function wrapText(text: string, width: number): string {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (let word of paragraph.split(/\s+/).filter(Boolean)) {
      while (word.length > width) {
        if (line) lines.push(line);
        line = '';
        lines.push(word.slice(0, width));
        word = word.slice(width);
      }
      if (!line) line = word;
      else if (line.length + 1 + word.length <= width) line += ' ' + word;
      else {
        lines.push(line);
        line = word;
      }
    }
    lines.push(line);
  }
  return lines.join('\n');
}

/** The validate report as a table: Check | Status | Detail | Remedy, fitted to the terminal width. */
export function renderChecks(checks: CheckResult[], io: CliIo): string {
  const width = Math.max(80, io.columns);
  const check = 27;
  const status = 8;
  const rest = width - check - status - 13;
  const detail = Math.floor(rest * 0.45);
  const remedy = rest - detail;
  const table = new Table({
    head: ['Check', 'Status', 'Detail', 'Remedy'],
    colWidths: [check, status, detail + 2, remedy + 2],
    style: { head: io.isTty ? ['bold'] : [], border: io.isTty ? ['grey'] : [] },
  });
  for (const c of checks)
    table.push([
      wrapText(c.title, check - 2),
      statusText(c.status, io.isTty),
      wrapText(c.detail, detail),
      wrapText(c.remedy ?? '', remedy),
    ]);
  return redact(table.toString()) + '\n';
}

export function summarizeChecks(checks: CheckResult[]): string {
  const count = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  const failed = count('fail');
  const verdict = failed ? 'Validation failed' : 'Validation passed';
  return `${verdict}: ${count('pass')} passed, ${count('warn')} warning(s), ${failed} failed.\n`;
}

export function renderJson(value: unknown): string {
  return redact(JSON.stringify(value, null, 2)) + '\n';
}
