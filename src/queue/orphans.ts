import { readFileSync } from 'node:fs';

/** A process's start time in clock ticks since boot (/proc/<pid>/stat field 22); undefined off Linux or when gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Kills the process group a crashed worker left running (pip keeps installing after procenv is killed with -9,
 * because it leads its own process group). Only when the pid still names the same process (same start time).
 * Answers whether it sent the signal.
 */
export function killOrphanGroup(pid: number | undefined, startTime: string | undefined): boolean {
  if (!pid || !startTime || processStartTime(pid) !== startTime) return false;
  try {
    process.kill(-pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}
