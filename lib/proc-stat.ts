// A process's state and start time from /proc/PID/stat: what tells a live
// process from a dead one whose pid was handed to another.
import { readFileSync } from 'node:fs'

/** @internal State letter and start time (low 32 bits of field 22, clock ticks since boot); undefined if there is no such process. */
export function processStat(pid: number | 'self'): { state: string; start: number } | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  // Fields after the command (which may hold spaces and parentheses): state is field 3, starttime field 22.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { state: fields[0], start: Number(BigInt.asUintN(32, BigInt(fields[19]))) }
}
