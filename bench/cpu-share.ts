// The CPU a watcher costs, counted rather than inferred from wall times: on a 2-core machine the runs
// of one init spread over 15 %, so a 2 % slowdown hides in the noise, while CPU time does not. What
// the watcher takes is its process tree (`script`, the shell, the CLI) plus the server sessions it
// opens (found by their application_name); the whole is every process of the bench (init, its
// PostgreSQL programs, the watcher) and of both servers, so other work on the machine counts for neither.
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

interface ProcessStat {
  /** utime + stime, in clock ticks. */
  ticks: number;
  /** cutime + cstime: what its children that have ended used (each ends into its parent's count). */
  children: number;
  parent: number;
  /** When it started, in clock ticks after boot. */
  startedAt: number;
}

function processStat(pid: number): ProcessStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): ppid is field 4, utime 14, stime 15,
    // cutime 16, cstime 17, starttime 22.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      ticks: Number(f[11]) + Number(f[12]),
      children: Number(f[13]) + Number(f[14]),
      parent: Number(f[1]),
      startedAt: Number(f[19]),
    };
  } catch {
    return undefined;
  }
}

function processes(): Map<number, ProcessStat> {
  const all = new Map<number, ProcessStat>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    const p = Number.isInteger(pid) ? processStat(pid) : undefined;
    if (p) all.set(pid, p);
  }
  return all;
}

/** Whether `pid` is `root` or below it. */
function under(all: Map<number, ProcessStat>, pid: number, root: number): boolean {
  let up: number | undefined = pid;
  for (let depth = 0; up !== undefined && up > 1 && depth < 32; depth++) {
    if (up === root) return true;
    up = all.get(up)?.parent;
  }
  return false;
}

/** Clock ticks since boot, from /proc/uptime (USER_HZ is 100 on Linux). */
function ticksSinceBoot(): number {
  return Math.floor(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 100);
}

export interface CpuShare {
  /** Ticks of the watcher's processes and of its server sessions. */
  watcherTicks: number;
  /** Ticks of every process of the bench and of both servers, the watcher's included. */
  totalTicks: number;
}

/**
 * Reads, at the end and every `everyMs` (500) before it, the CPU of the processes below `counted` (the
 * bench itself, each server's postmaster), and of those among them that are the watcher's (below
 * `watcher`, or a server session named `applicationName`, seen while it lived); `stop` returns what
 * each used since the start. A process that has ended is in its parent's count of ended children, so
 * the last reading alone has the whole; the watcher's own processes and sessions live until then.
 */
export function sampleCpuShare(o: {
  watcher: number;
  counted: number[];
  applicationName: string;
  serverUrls: string[];
  everyMs?: number;
}): { stop: () => Promise<CpuShare> } {
  const startedAt = ticksSinceBoot();
  const self = process.pid;
  // The bench's own ticks are the sampler's: of it, only its ended children (init, the watcher) count.
  const total = (pid: number, p: ProcessStat) => (pid === self ? 0 : p.ticks) + p.children;
  // Readings at the start for processes that were already running; those started since count from 0.
  const before = new Map<number, number>();
  for (const [pid, p] of processes()) before.set(pid, total(pid, p));
  let reading: CpuShare = { watcherTicks: 0, totalTicks: 0 };
  const watcherSessions = new Set<number>();
  const clients = o.serverUrls.map((url) => {
    const c = new pg.Client({ connectionString: url, application_name: 'dbr-bench-sampler' });
    c.on('error', () => undefined);
    return { c, ready: c.connect() };
  });
  const sample = async () => {
    for (const { c, ready } of clients) {
      await ready;
      const { rows } = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [
        o.applicationName,
      ]);
      for (const { pid } of rows) watcherSessions.add(pid);
    }
    const all = processes();
    const next: CpuShare = { watcherTicks: 0, totalTicks: 0 };
    for (const [pid, p] of all) {
      if (!o.counted.some((root) => under(all, pid, root))) continue;
      const ticks = total(pid, p) - (p.startedAt >= startedAt ? 0 : (before.get(pid) ?? total(pid, p)));
      next.totalTicks += ticks;
      if (watcherSessions.has(pid) || under(all, pid, o.watcher)) next.watcherTicks += ticks;
    }
    reading = next;
  };
  let running = sample().catch(() => undefined);
  const timer = setInterval(() => {
    running = running.then(() => sample().catch(() => undefined));
  }, o.everyMs ?? 500);
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
      await sample().catch(() => undefined);
      await Promise.all(clients.map(({ c }) => c.end().catch(() => undefined)));
      return reading;
    },
  };
}

/** The postmaster of a cluster whose data folder is `<baseDir>/data`. */
export function postmasterPid(baseDir: string): number {
  return Number(readFileSync(`${baseDir}/data/postmaster.pid`, 'utf8').split('\n')[0]);
}
