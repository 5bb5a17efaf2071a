// The CPU a watcher costs, counted rather than inferred from wall times: on a 2-core machine the runs
// of one init spread over 15 %, so a 2 % slowdown hides in the noise, while CPU time does not. What
// the watcher takes is its process tree (`script`, the shell, the CLI) plus the server sessions it
// opens (found by their application_name); the whole is every CPU second the machine spent meanwhile.
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

/** utime + stime of a process in clock ticks, with its parent; undefined once it is gone. */
function processTicks(pid: number): { ticks: number; parent: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, ppid 4, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ticks: Number(f[11]) + Number(f[12]), parent: Number(f[1]) };
  } catch {
    return undefined;
  }
}

/** Ticks every CPU of the machine spent busy since boot (all but idle and iowait). */
export function machineBusyTicks(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const n = fields.map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  return n[0]! + n[1]! + n[2]! + n[5]! + n[6]! + n[7]!;
}

export interface CpuShare {
  /** Ticks of the watcher's processes and of its server sessions. */
  watcherTicks: number;
  /** Busy ticks of the whole machine over the same time. */
  machineTicks: number;
}

/**
 * Samples, every `everyMs` (500), the CPU of the processes under `root` and of the server sessions
 * named `applicationName` on the given servers; `stop` returns the totals since `start`. A process or
 * session counts with its last sample, so one that ends between samples loses at most `everyMs` of it.
 */
export function sampleCpuShare(o: {
  /** The watcher's first process: it and every descendant count. */
  root: number;
  applicationName: string;
  serverUrls: string[];
  everyMs?: number;
}): { stop: () => Promise<CpuShare> } {
  const startedBusy = machineBusyTicks();
  // Every tick of these processes is the watcher's, from their start: they exist for it alone.
  const last = new Map<string, number>();
  const note = (key: string, ticks: number) => last.set(key, ticks);
  const clients = o.serverUrls.map((url) => {
    const c = new pg.Client({ connectionString: url, application_name: 'dbr-bench-sampler' });
    c.on('error', () => undefined);
    return { c, ready: c.connect() };
  });
  const sample = async () => {
    const processes = new Map<number, { ticks: number; parent: number }>();
    for (const name of readdirSync('/proc')) {
      const pid = Number(name);
      const p = Number.isInteger(pid) ? processTicks(pid) : undefined;
      if (p) processes.set(pid, p);
    }
    for (const [pid, p] of processes) {
      let up: number | undefined = pid;
      for (let depth = 0; up !== undefined && up > 1 && depth < 32; depth++) {
        if (up === o.root) {
          note(`process:${pid}`, p.ticks);
          break;
        }
        up = processes.get(up)?.parent;
      }
    }
    for (const { c, ready } of clients) {
      await ready;
      const { rows } = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [
        o.applicationName,
      ]);
      for (const { pid } of rows) {
        // A session's backend is forked for it: everything it used is the watcher's.
        const p = processTicks(pid);
        if (p) note(`session:${pid}`, p.ticks);
      }
    }
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
      const watcherTicks = [...last.values()].reduce((a, b) => a + b, 0);
      return { watcherTicks, machineTicks: machineBusyTicks() - startedBusy };
    },
  };
}
