import type { CopyProgress } from '../snapshot/init.ts';
import { formatBytes, formatSeconds } from '../snapshot/estimate.ts';

/**
 * Renders copy progress: on a terminal one status line redrawn in place (tables, bytes, rate, ETA)
 * with a line per finished table above it; otherwise a plain line per finished table and a summary
 * every `intervalMs`, so logs stay readable.
 */
export function createCopyProgress(
  write: (text: string) => void,
  isTty: boolean,
  intervalMs = isTty ? 200 : 10_000,
): (p: CopyProgress) => void {
  const started = new Map<string, number>();
  let lastDraw = 0;
  let statusShown = false;
  const status = (p: CopyProgress) => {
    const elapsed = (performance.now() - started.get(p.database)!) / 1000;
    const rate = elapsed > 0 ? p.bytesDone / elapsed : 0;
    const left = rate > 0 ? Math.max(0, p.bytesTotal - p.bytesDone) / rate : 0;
    const percent = p.bytesTotal > 0 ? Math.min(100, Math.round((p.bytesDone / p.bytesTotal) * 100)) : 100;
    return `${p.database}: ${p.tablesDone}/${p.tablesTotal} tables, ${formatBytes(p.bytesDone)} of ~${formatBytes(p.bytesTotal)} (${percent}%), ${formatBytes(rate)}/s, ETA ${formatSeconds(left)}`;
  };
  return (p) => {
    if (!started.has(p.database)) started.set(p.database, performance.now());
    const now = performance.now();
    if (p.finished) {
      const line = `${p.database}: copied ${p.finished.table} (${p.finished.rows} rows, ${formatBytes(p.finished.bytes)}, ${p.finished.seconds.toFixed(1)} s)`;
      write(isTty ? `\r\u001b[2K${line}\n` : `${line}\n`);
      statusShown = false;
    }
    if (now - lastDraw < intervalMs && !(isTty && !statusShown)) return;
    lastDraw = now;
    statusShown = true;
    write(isTty ? `\r\u001b[2K${status(p)}` : `${status(p)}\n`);
  };
}
