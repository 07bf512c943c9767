// Where an object's bytes live, for the message of a full file system.
import { readFileSync, statfsSync } from 'node:fs'
import { resolve } from 'node:path'

/** The mount holding `path`: its mount point, file system type and free bytes. */
export interface MountSpace {
  mountPoint: string
  type: string
  size: number
  free: number
}

/** The mount that holds `path` (the longest mount point that contains it), or undefined. */
export function mountOf(path: string): MountSpace | undefined {
  const absolute = resolve(path)
  let best: { mountPoint: string; type: string } | undefined
  try {
    // mountinfo: id parent major:minor root mount-point options ... - type source super-options
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const fields = line.split(' ')
      const dash = fields.indexOf('-')
      if (fields.length < 5 || dash < 0) continue
      const mountPoint = unescape(fields[4])
      const inside = absolute === mountPoint || absolute.startsWith(mountPoint === '/' ? '/' : mountPoint + '/')
      // Later lines are mounted over earlier ones: an equal mount point replaces.
      if (inside && (best === undefined || mountPoint.length >= best.mountPoint.length)) {
        best = { mountPoint, type: fields[dash + 1] ?? '' }
      }
    }
    if (best === undefined) return undefined
    const fs = statfsSync(best.mountPoint)
    return { ...best, size: fs.blocks * fs.bsize, free: fs.bavail * fs.bsize }
  } catch {
    return undefined
  }
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

/** 1536 -> '1.5 KiB'. */
export function bytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return i === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[i]}`
}
