// What the `ipc-kit` command shows and cleans up: the shared objects on this
// machine (POSIX shared memory and semaphores in /dev/shm, files under given
// folders, System V segments and semaphore sets), which of them are ipc-kit's
// (their header page carries the self-description, lib/descriptor.ts), and
// which live processes use them (/proc/*/maps, shm_nattch, a lock's holder).
// Everything here reads only: files through read(2), System V segments by a
// brief attach; nothing takes a lock or writes a byte.
import * as fs from 'node:fs'
import { constants } from 'node:os'
import * as path from 'node:path'
import type { ChannelStats } from './channel'
import * as descriptor from './descriptor'
import type { ObjectType } from './descriptor'
import { IPCError, invalidType, invalidValue } from './errors'
import { IPCBuffer } from './ipc-buffer'
import { mutex as native } from './native'
import { processStat } from './proc-stat'
import * as M from './shared-map-layout'
import { Semaphore } from './semaphore'

/** What an object is: an ipc-kit type, or `'shm'` for shared memory that carries no ipc-kit header. */
export type ObjectKindName = ObjectType | 'semaphore' | 'shm' | 'unknown'

/** A process that maps (or holds) an object. */
export interface ProcessInfo {
  pid: number
  /** Its command name (the base name of argv[0], else /proc/PID/comm); null if unreadable. */
  command: string | null
}

/** One shared object, as `list()` and `ipc-kit ls --json` give it. */
export interface ObjectInfo {
  /** 'mutex', 'guarded-buffer', 'channel', 'map' (from its header), 'semaphore', 'shm' (no ipc-kit header), or 'unknown' (its header could not be read: see error). */
  type: ObjectKindName
  /** true when the object carries ipc-kit's self-description. */
  ipcKit: boolean
  /** Where it lives: 'posix' (/dev/shm), 'file' or 'sysv'. */
  kind: 'posix' | 'file' | 'sysv'
  /** The name to pass to ipc-kit: a POSIX name ('/jobs'), a file path, or a System V key (a number). */
  name: string | number
  /** The file behind it ('/dev/shm/jobs', '/dev/shm/sem.jobs', the path); null for System V. */
  path: string | null
  /** System V identifier (shmid or semid); null otherwise. */
  id: number | null
  /** Bytes; for a System V semaphore set null. */
  size: number | null
  /** Permission bits (e.g. 0o600 = 384). */
  mode: number
  uid: number
  /** The owner's user name; null if unknown. */
  owner: string | null
  /** When it was made (ISO 8601): from its header, else what the system records; null if unknown. */
  created: string | null
  /** Who made it (from its header; System V: shm_cpid); null if unknown. `alive`: that process still runs. */
  creator: { pid: number; alive: boolean } | null
  /** Live processes that map it, as far as /proc/PID/maps can be read. */
  users: ProcessInfo[]
  /** System V segments: shm_nattch, the kernel's count of attachments; null otherwise. */
  attached: number | null
  /** Some processes' maps could not be read, and they could have this object open. */
  usersUncertain: boolean
  /** A live process maps it, attaches it, or holds its lock. */
  inUse: boolean
  /** What could not be read (an error code such as 'EACCES'); null when everything could. */
  error: string | null
}

/** The holder of a Mutex's (or GuardedBuffer's, Channel's) lock word. */
export interface LockInfo {
  held: boolean
  /** Someone sleeps waiting for it (the lock word's WAITERS bit). */
  waiters: boolean
  /** null when free. */
  holder: {
    /** The thread id recorded in the lock word (of the holder's pid namespace). */
    tid: number
    /** Its process (/proc/TID/status Tgid); null if that cannot be read (dead, or another pid namespace). */
    pid: number | null
    /** false: it certainly died holding the lock (the next acquire takes it over); true: alive, or not judgeable from here. */
    alive: boolean
    /** The holder is in this pid namespace (its tid and pid mean what they say here). */
    sameNamespace: boolean
    /** The lock records no acquisition time: always null for now. */
    heldForMs: number | null
  } | null
}

/** What `inspect()` adds to ObjectInfo. */
export interface ObjectDetails extends ObjectInfo {
  /** The layout version in its header (ipc-kit objects). */
  layout: number | null
  /** Mutexes and GuardedBuffers: their lock; Channels: { send, receive } locks. */
  lock?: LockInfo
  locks?: { send: LockInfo; receive: LockInfo }
  /** Semaphores: the current value (read without taking a unit). */
  value?: number
  /** Channels: stats() as the channel reports it; maps: their counters (entries, bytes, free, evictions, expired, recoveries), read without the lock. */
  stats?: ChannelStats | Record<string, unknown>
}

export interface ListOptions {
  /** Also the shared memory and semaphores that are not recognisably ipc-kit's. */
  all?: boolean
  /** Only objects whose name starts with this (a POSIX name without its '/', a file's base name, a key as '0x' and 8 hex digits). */
  prefix?: string
  /** Folders whose files to look at (file-backed objects); not recursive. */
  dir?: string | string[]
}

export interface RemoveOptions {
  /** Remove even an object that a live process uses. */
  force?: boolean
}

export interface GcOptions {
  /** List what would be removed; remove nothing. */
  dryRun?: boolean
  /** Only objects whose name starts with this (as ListOptions.prefix). */
  prefix?: string
  /** Folders whose files to consider too. */
  dir?: string | string[]
}

const SHM_DIR = '/dev/shm'
const HEADER_BYTES = descriptor.OFFSET + descriptor.LENGTH
const { OWNER_MASK, WAITERS, WORD, START, OWNER_NS, HEADER_WORDS } = native.LOCK
const { ENOENT, EBUSY, EACCES, EPERM } = constants.errno

/** One look at who maps what: /proc/PID/maps of every process we can read. */
interface Mappers {
  /** "major:minor:inode" -> pids; System V segments as "sysv:shmid". */
  byFile: Map<string, Set<number>>
  /** Processes whose maps we could not read, with their uid. */
  unreadable: { pid: number; uid: number }[]
  commands: Map<number, string | null>
}

function scanMaps(): Mappers {
  const byFile = new Map<string, Set<number>>()
  const unreadable: { pid: number; uid: number }[] = []
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    let text: string
    try {
      text = fs.readFileSync(`/proc/${pid}/maps`, 'latin1')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EACCES' || code === 'EPERM') unreadable.push({ pid, uid: uidOf(pid) })
      continue
    }
    for (const line of text.split('\n')) {
      // address perms offset dev inode path
      const m = /^\S+ \S+ \S+ ([0-9a-f]+):([0-9a-f]+) (\d+) +(.*)$/.exec(line)
      if (m === null || m[3] === '0') continue
      const key = m[4].startsWith('/SYSV') ? `sysv:${m[3]}` : `${parseInt(m[1], 16)}:${parseInt(m[2], 16)}:${m[3]}`
      let pids = byFile.get(key)
      if (pids === undefined) byFile.set(key, (pids = new Set()))
      pids.add(pid)
    }
  }
  return { byFile, unreadable, commands: new Map() }
}

function uidOf(pid: number): number {
  try {
    const m = /^Uid:\s+\d+\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'))
    return m === null ? -1 : Number(m[1])
  } catch {
    return -1
  }
}

function command(mappers: Mappers, pid: number): string | null {
  if (!mappers.commands.has(pid)) {
    // argv[0]'s base name: /proc/PID/comm is the main thread's name, which Node 24 sets to 'MainThread'.
    let comm: string | null = null
    try {
      const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0')[0].split(' ')[0]
      comm = argv0.slice(argv0.lastIndexOf('/') + 1) || null
    } catch {}
    if (comm === null) {
      try {
        comm = fs.readFileSync(`/proc/${pid}/comm`, 'latin1').trim()
      } catch {}
    }
    mappers.commands.set(pid, comm)
  }
  return mappers.commands.get(pid) ?? null
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir)
  } catch {
    return []
  }
}

let users: Map<number, string> | undefined
function userName(uid: number): string | null {
  if (users === undefined) {
    users = new Map()
    try {
      for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const f = line.split(':')
        if (f.length > 2) users.set(Number(f[2]), f[0])
      }
    } catch {}
  }
  return users.get(uid) ?? null
}

/**
 * A process with this pid runs now (and, given its start time, is that
 * process, not a younger one that reuses its pid): /proc/PID/stat, as the
 * lock word's liveness check reads it. Its pid is of the pid namespace it was
 * recorded in.
 */
function alive(pid: number, start = 0): boolean {
  let stat
  try {
    stat = processStat(pid)
  } catch {
    return true // unreadable (hidepid): it exists
  }
  if (stat === undefined || stat.state === 'Z' || stat.state === 'X') return false
  return start === 0 || stat.start === start
}

/** Linux's encoding of a device number into major and minor. */
function devKey(dev: number, ino: number): string {
  const major = ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff)
  const minor = (dev & 0xff) | ((dev >>> 12) & ~0xff)
  return `${major}:${minor}:${ino}`
}

/** The first bytes of a file, or the error code that kept us from them. */
function readHeader(file: string, size: number): Buffer | string {
  let fd: number
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EIO'
  }
  try {
    // The lock's page too: its words are what inspect() reports.
    const b = Buffer.alloc(Math.min(size, native.LOCK.HEADER_SIZE + HEADER_BYTES))
    fs.readSync(fd, b, 0, b.length, 0)
    return b
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EIO'
  } finally {
    fs.closeSync(fd)
  }
}

/** A description read from header bytes; a partial read (fewer than the descriptor's bytes) is none. */
function describe(bytes: Buffer | undefined): descriptor.Reading | undefined {
  if (bytes === undefined || bytes.length < HEADER_BYTES) return undefined
  return descriptor.read(bytes.subarray(0, HEADER_BYTES))
}

interface Found {
  info: ObjectInfo
  /** The header bytes read (lock page and descriptor), if any. */
  header?: Buffer
  layout: number | null
}

function usersOf(mappers: Mappers, key: string, info: Pick<ObjectInfo, 'uid' | 'mode'>): [ProcessInfo[], boolean] {
  const pids = [...(mappers.byFile.get(key) ?? [])].sort((a, b) => a - b)
  const list = pids.map((pid) => ({ pid, command: command(mappers, pid) }))
  // A process we cannot see into could map it if it may open it: its owner, or anyone when the mode lets group or others in.
  const uncertain = mappers.unreadable.some((p) => p.uid !== 0 && (p.uid === info.uid || (info.mode & 0o066) !== 0))
  return [list, uncertain]
}

function fromDescriptor(info: ObjectInfo, r: descriptor.Reading | undefined): number | null {
  if (r?.state !== 'complete' || r.type === undefined) return null
  info.type = r.type
  info.ipcKit = true
  info.created = new Date(r.created).toISOString()
  info.creator = { pid: r.pid, alive: alive(r.pid, r.start) }
  return r.layout
}

/** A file in /dev/shm or under a folder. */
function fileObject(
  mappers: Mappers,
  kind: 'posix' | 'file',
  file: string,
  name: string,
  semaphore: boolean,
): Found | undefined {
  let st: fs.Stats
  try {
    st = fs.lstatSync(file)
  } catch {
    return undefined
  }
  if (!st.isFile()) return undefined
  const info: ObjectInfo = {
    type: semaphore ? 'semaphore' : 'shm',
    ipcKit: false,
    kind,
    name,
    path: file,
    id: null,
    size: st.size,
    mode: st.mode & 0o7777,
    uid: st.uid,
    owner: userName(st.uid),
    created: st.birthtimeMs > 0 ? st.birthtime.toISOString() : null,
    creator: null,
    users: [],
    attached: null,
    usersUncertain: false,
    inUse: false,
    error: null,
  }
  ;[info.users, info.usersUncertain] = usersOf(mappers, devKey(st.dev, st.ino), info)
  let header: Buffer | undefined
  let layout: number | null = null
  if (!semaphore && st.size >= HEADER_BYTES) {
    const got = readHeader(file, st.size)
    if (typeof got === 'string') {
      info.error = got
      info.type = 'unknown'
    } else header = got
    layout = fromDescriptor(info, describe(header))
  }
  return { info, header, layout }
}

function sysvTable(file: string): Record<string, number>[] {
  let text: string
  try {
    text = fs.readFileSync(file, 'latin1')
  } catch {
    return []
  }
  const lines = text.trim().split('\n')
  const heads = lines[0].trim().split(/\s+/)
  return lines.slice(1).map((line) => {
    const values = line.trim().split(/\s+/)
    const row: Record<string, number> = {}
    heads.forEach((h, i) => (row[h] = h === 'perms' ? parseInt(values[i], 8) : Number(values[i])))
    return row
  })
}

function sysvSegments(mappers: Mappers): Found[] {
  return sysvTable('/proc/sysvipc/shm').map((row) => {
    const key = row.key >>> 0
    const info: ObjectInfo = {
      type: 'shm',
      ipcKit: false,
      kind: 'sysv',
      name: key,
      path: null,
      id: row.shmid,
      size: row.size,
      mode: row.perms & 0o777,
      uid: row.uid,
      owner: userName(row.uid),
      created: new Date(row.ctime * 1000).toISOString(),
      creator: { pid: row.cpid, alive: alive(row.cpid) },
      users: [],
      attached: row.nattch,
      usersUncertain: false,
      inUse: false,
      error: null,
    }
    ;[info.users] = usersOf(mappers, `sysv:${row.shmid}`, info)
    let header: Buffer | undefined
    let layout: number | null = null
    if (key !== 0 && row.size >= HEADER_BYTES) {
      // A brief attach: System V segments cannot be read otherwise.
      try {
        const map = IPCBuffer.sysv(key, { create: false })
        try {
          header = Buffer.alloc(Math.min(map.length, native.LOCK.HEADER_SIZE + HEADER_BYTES))
          header.set(map.subarray(0, header.length))
        } finally {
          map.close()
        }
      } catch (err) {
        info.error = (err as { code?: string }).code ?? 'EIO'
        info.type = 'unknown'
      }
      layout = fromDescriptor(info, describe(header))
    }
    return { info, header, layout }
  })
}

function sysvSemaphores(): Found[] {
  return sysvTable('/proc/sysvipc/sem').map((row) => ({
    info: {
      type: 'semaphore',
      ipcKit: false,
      kind: 'sysv',
      name: row.key >>> 0,
      path: null,
      id: row.semid,
      size: null,
      mode: row.perms & 0o777,
      uid: row.uid,
      owner: userName(row.uid),
      created: new Date(row.ctime * 1000).toISOString(),
      creator: null,
      users: [],
      attached: null,
      usersUncertain: false,
      inUse: false,
      error: null,
    },
    layout: null,
  }))
}

function dirsOf(dir: unknown): string[] {
  if (dir === undefined) return []
  const list = Array.isArray(dir) ? dir : [dir]
  for (const d of list)
    if (typeof d !== 'string' || d.length === 0)
      throw invalidType('options.dir', 'a folder path or an array of them', dir)
  return list as string[]
}

function options<T extends object>(raw: unknown): T {
  if (raw === undefined) return {} as T
  if (raw === null || typeof raw !== 'object') throw invalidType('options', 'of type object', raw)
  return raw as T
}

/** Reads the lock word at `at` in `bytes` (the header of `info`'s object). */
function lockAt(info: ObjectInfo, bytes: Buffer | undefined, at: number): LockInfo | undefined {
  if (bytes === undefined || bytes.length < at + 4 * HEADER_WORDS) return undefined
  const word = bytes.readUInt32LE(at + 4 * WORD)
  const start = bytes.readUInt32LE(at + 4 * START)
  const tag = bytes.readUInt32LE(at + 4 * OWNER_NS)
  const tid = word & OWNER_MASK
  if (tid === 0) return { held: false, waiters: (word & WAITERS) !== 0, holder: null }
  // Judged as a waiter would: from /proc in our pid namespace, by the holder's token on the object's file in another.
  const file = info.kind === 'sysv' ? undefined : (info.name as string)
  const [live, sameNs] = native.ownerAlive(word, start, tag, file, info.kind === 'posix')
  let pid: number | null = null
  if (sameNs) {
    try {
      const m = /^Tgid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${tid}/status`, 'latin1'))
      if (m !== null) pid = Number(m[1])
    } catch {}
  }
  return {
    held: true,
    waiters: (word & WAITERS) !== 0,
    holder: { tid, pid, alive: live, sameNamespace: sameNs, heldForMs: null },
  }
}

/** Settles inUse, once users and locks are known. */
function settle(found: Found): Found {
  const { info } = found
  const held = lockAt(info, found.header, 0)
  info.inUse =
    info.users.length > 0 || (info.attached ?? 0) > 0 || (held?.held === true && held.holder?.alive !== false)
  return found
}

/** The name a prefix is matched against. */
function shortName(info: ObjectInfo): string {
  if (typeof info.name === 'number') return '0x' + info.name.toString(16).padStart(8, '0')
  return info.kind === 'file' ? path.basename(info.name) : info.name.slice(1)
}

function prefixOf(value: unknown): string {
  if (value === undefined) return ''
  if (typeof value !== 'string') throw invalidType('options.prefix', 'of type string', value)
  return value
}

function collect(all: boolean, dirs: string[], prefix: string, mappers = scanMaps()): Found[] {
  const found: Found[] = []
  for (const entry of safeReaddir(SHM_DIR).sort()) {
    const semaphore = entry.startsWith('sem.')
    const f = fileObject(
      mappers,
      'posix',
      path.join(SHM_DIR, entry),
      '/' + (semaphore ? entry.slice(4) : entry),
      semaphore,
    )
    if (f !== undefined) found.push(f)
  }
  for (const dir of dirs) {
    for (const entry of safeReaddir(dir).sort()) {
      const f = fileObject(mappers, 'file', path.resolve(dir, entry), path.resolve(dir, entry), false)
      // A file is only an ipc-kit object by its header; --all shows the rest.
      if (f !== undefined) found.push(f)
    }
  }
  found.push(...sysvSegments(mappers), ...sysvSemaphores())
  return found
    .filter((f) => shortName(f.info).startsWith(prefix))
    .map(settle)
    .filter((f) => all || f.info.type !== 'shm')
}

/** Every ipc-kit object on this machine (with `all`, every POSIX and System V object). Reads only. */
export function list(options_?: ListOptions): ObjectInfo[] {
  const opts = options<ListOptions>(options_)
  return collect(opts.all === true, dirsOf(opts.dir), prefixOf(opts.prefix)).map((f) => f.info)
}

/**
 * Finds one object by name: '/x' or 'x' (POSIX shared memory, else the POSIX
 * semaphore of that name), '/dev/shm/...' (that file), a path with a '/'
 * elsewhere or starting with '.' (a file), or a System V key (a number, or a
 * decimal or 0x-hex string: the segment, else the semaphore set).
 */
function find(name: unknown, mappers: Mappers): Found {
  if (typeof name === 'number' || (typeof name === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(name))) {
    const key = Number(name) >>> 0
    if (!Number.isInteger(Number(name)) || Number(name) < 0 || Number(name) > 0xffffffff)
      throw invalidValue('name', name, 'is not a System V key')
    const hit = [...sysvSegments(mappers), ...sysvSemaphores()].find((f) => f.info.name === key)
    if (hit !== undefined) return settle(hit)
    throw new IPCError(-ENOENT, 'open', key, 'no System V segment or semaphore set has this key')
  }
  if (typeof name !== 'string' || name.length === 0)
    throw invalidType('name', 'a POSIX name, a file path or a System V key', name)
  let found: Found | undefined
  if (name.startsWith(SHM_DIR + '/')) {
    const entry = name.slice(SHM_DIR.length + 1)
    const semaphore = entry.startsWith('sem.')
    found = fileObject(mappers, 'posix', name, '/' + (semaphore ? entry.slice(4) : entry), semaphore)
  } else if (name.startsWith('.') || name.indexOf('/', 1) >= 0) {
    found = fileObject(mappers, 'file', path.resolve(name), path.resolve(name), false)
  } else {
    const bare = name.startsWith('/') ? name.slice(1) : name
    found =
      fileObject(mappers, 'posix', path.join(SHM_DIR, bare), '/' + bare, false) ??
      fileObject(mappers, 'posix', path.join(SHM_DIR, 'sem.' + bare), '/' + bare, true)
  }
  if (found === undefined) throw new IPCError(-ENOENT, 'open', name, 'no such shared object')
  return settle(found)
}

/** Everything `list()` says of one object, plus its lock's holder, a semaphore's value, a channel's stats. Reads only. */
export function inspect(name: string | number, options_?: object): ObjectDetails {
  options(options_)
  const found = find(name, scanMaps())
  const details: ObjectDetails = { ...found.info, layout: found.layout }
  const { info, header } = found
  if (info.type === 'mutex' || info.type === 'guarded-buffer') details.lock = lockAt(info, header, 0)
  if (info.type === 'channel') {
    const send = lockAt(info, header, 0)
    const receive = lockAt(info, header, native.LOCK.HEADER_SIZE)
    if (send !== undefined && receive !== undefined) details.locks = { send, receive }
    details.stats = openedStats(info)
  }
  if (info.type === 'map') {
    details.lock = lockAt(info, header, 0)
    details.stats = mapCounters(header)
  }
  if (info.type === 'semaphore') details.value = semaphoreValue(info)
  return details
}

function openedStats(info: ObjectInfo): ChannelStats | undefined {
  try {
    // Opening an existing channel writes nothing; stats() takes no lock.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Channel } = require('./channel') as typeof import('./channel')
    const ch = Channel.open(info.name, { kind: info.kind, create: false })
    try {
      return ch.stats()
    } finally {
      ch.close()
    }
  } catch (err) {
    info.error ??= (err as { code?: string }).code ?? 'EIO'
    return undefined
  }
}

/** A SharedMap's counters, read from its header without its lock (stats() takes it): a snapshot, maybe mid-write. */
function mapCounters(header: Buffer | undefined): Record<string, number> | undefined {
  if (header === undefined || header.length < M.PAGE) return undefined
  const i32 = new Int32Array(header.buffer, header.byteOffset, M.PAGE >>> 2)
  const f64 = new Float64Array(header.buffer, header.byteOffset, M.PAGE >>> 3)
  return {
    entries: i32[M.H_ENTRIES],
    bytes: i32[M.H_LIVE],
    free: i32[M.H_FREE],
    evictions: f64[M.F_EVICTIONS],
    expired: f64[M.F_EXPIRED],
    recoveries: f64[M.F_RECOVERIES],
  }
}

function semaphoreValue(info: ObjectInfo): number | undefined {
  if (info.name === 0) return undefined
  try {
    const sem =
      info.kind === 'sysv'
        ? Semaphore.sysv(info.name as number, { create: false })
        : Semaphore.posix(info.name as string, { create: false })
    try {
      return sem.value
    } finally {
      sem.close()
    }
  } catch (err) {
    info.error ??= (err as { code?: string }).code ?? 'EIO'
    return undefined
  }
}

function unlinkFound(info: ObjectInfo): void {
  if (info.kind === 'file' || (info.kind === 'posix' && info.path !== null)) {
    try {
      fs.unlinkSync(info.path as string)
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      throw new IPCError(-(constants.errno[e.code as keyof typeof constants.errno] ?? EACCES), 'unlink', info.name)
    }
  } else if (info.type === 'semaphore') {
    Semaphore.unlink('sysv', info.name as number)
  } else {
    IPCBuffer.unlink('sysv', info.name as number)
  }
}

/**
 * Removes one object, as its class's unlink() would (processes that have it
 * open keep it until they close it). One that a live process uses is EBUSY
 * unless `force`.
 */
export function remove(name: string | number, options_?: RemoveOptions): ObjectInfo {
  const opts = options<RemoveOptions>(options_)
  const { info } = find(name, scanMaps())
  if (info.inUse && opts.force !== true) {
    const who = info.users.map((u) => `${u.pid}${u.command ? ` (${u.command})` : ''}`).join(', ')
    throw new IPCError(
      -EBUSY,
      'unlink',
      info.name,
      `in use${who ? ` by ${who}` : ''} (force, ipc-kit rm --force, removes it anyway)`,
    )
  }
  unlinkFound(info)
  return info
}

/**
 * Removes every ipc-kit object (one carrying ipc-kit's header) that no live
 * process maps, attaches or holds; returns them. With `dryRun`, removes
 * nothing. An object whose users cannot all be seen is left alone.
 */
export function gc(options_?: GcOptions): ObjectInfo[] {
  const opts = options<GcOptions>(options_)
  const idle = collect(false, dirsOf(opts.dir), prefixOf(opts.prefix))
    .map((f) => f.info)
    .filter((i) => i.ipcKit && !i.inUse && !i.usersUncertain)
  if (opts.dryRun === true) return idle
  const removed: ObjectInfo[] = []
  for (const info of idle) {
    // Looked at again just before: a process may have opened it since.
    let again: Found
    try {
      again = find(info.kind === 'sysv' ? info.name : (info.path as string), scanMaps())
    } catch {
      continue
    }
    if (again.info.inUse) continue
    try {
      unlinkFound(again.info)
      removed.push(again.info)
    } catch (err) {
      const errno = (err as IPCError).errno
      if (errno !== -ENOENT && errno !== -EACCES && errno !== -EPERM) throw err
    }
  }
  return removed
}
