import { readdirSync, readFileSync } from 'node:fs';

/** One process of this host, as /proc shows it. */
export interface ProcessEntry {
  pid: number;
  ppid: number;
  argv: string[];
}

function read(pid: number): ProcessEntry | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may itself contain spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return { pid, ppid, argv };
  } catch {
    // It exited while we looked.
    return undefined;
  }
}

/** Every process of this host. */
export function processTable(): ProcessEntry[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => read(Number(name)) ?? []);
}

/** The processes below `pid` (children, grandchildren, ...), not `pid` itself. */
export function descendants(pid: number, table = processTable()): ProcessEntry[] {
  const found: ProcessEntry[] = [];
  let parents = new Set([pid]);
  while (parents.size > 0) {
    const children = table.filter((p) => parents.has(p.ppid));
    found.push(...children);
    parents = new Set(children.map((p) => p.pid));
  }
  return found;
}

/** SIGKILLs `pid` and everything below it, children first looked up so none escapes by reparenting. */
export function killTree(pid: number): void {
  for (const { pid: each } of [{ pid }, ...descendants(pid)]) {
    try {
      process.kill(each, 'SIGKILL');
    } catch {
      // It exited meanwhile.
    }
  }
}

/** True while a process with this pid runs (a zombie counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}
