/**
 * Linux /proc readings for the benchmark: CPU time and peak RSS of the processes it starts, and CPU time of the
 * whole machine, so a phase can show how much of the 2 cores went to something else (other sessions, Postgres,
 * Redis). Every reading is of a live process; a process that has exited reads as an error.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: /proc reports CPU time in these ticks; 100 on every x86_64 Linux build. */
const TICKS_PER_SECOND = 100;

/** Fields of /proc/<pid>/stat after the command name (which may itself contain spaces and parentheses). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Fields 14 (utime) and 15 (stime) of proc(5), in seconds; the array starts at field 3. */
function cpuOf(fields: string[]): number {
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** User + system CPU seconds of a process, all its threads included (libvips encodes on its own threads). */
export function processCpuSeconds(pid: number): number {
  return cpuOf(statFields(pid));
}

/**
 * CPU seconds of a process's main thread alone: in node that is the JavaScript (job handling, database and
 * queue clients, JSON), as opposed to the libuv pool and libvips threads that decode and encode.
 */
export function mainThreadCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  return cpuOf(stat.slice(stat.lastIndexOf(')') + 2).split(' '));
}

export function niceness(pid: number): number {
  return Number(statFields(pid)[16]);
}

/**
 * Threads of a process that are running or waiting for a core (state R): how much CPU it asks for at this
 * instant, whatever it gets. On a shared machine this separates "starved" from "not asking".
 */
export function runnableThreads(pid: number): number {
  let count = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      if (stat[stat.lastIndexOf(')') + 2] === 'R') count += 1;
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return count;
}

/** Resident set size now (VmRSS) in bytes. */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Peak resident set size (VmHWM) in bytes. */
export function peakRssBytes(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmHWM for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Whether a shared library is mapped into a process: proof that an LD_PRELOAD took effect. */
export function hasLibraryMapped(pid: number, library: string): boolean {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').includes(library);
}

/** Busy CPU seconds of the whole machine, all cores summed (everything but idle and iowait). */
export function machineBusySeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  // Columns: user nice system idle iowait irq softirq steal ...
  const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number) as number[];
  return (user! + nice! + system! + irq! + softirq! + steal!) / TICKS_PER_SECOND;
}

