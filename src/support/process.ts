import { readFileSync } from 'node:fs';

/** Whether a process with this pid exists (EPERM: it does, owned by another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The parent pid and command name of a process, from /proc (Linux); null where /proc does not
 * have it (another system, or the process is gone). The name is in parentheses and may itself hold
 * spaces and parentheses, so the fields after it are read from the last ")".
 */
export function processInfo(pid: number): { parent: number; command: string } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  const parent = Number(stat.slice(close + 2).split(' ')[1]);
  return open > 0 && close > open && Number.isInteger(parent) ? { parent, command: stat.slice(open + 1, close) } : null;
}
