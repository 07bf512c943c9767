// The self-description at bytes 64..127 of an object's header page: what the
// object is (mutex, guarded buffer, channel, map), its layout version, when
// and by whom it was made. Its creator writes it once, completion last; every
// opener checks it, and the `ipc-kit` command reads it.
//
//   word 16  MAGIC    'IPCK' once complete (stored last)
//   word 17  CLAIM    'WRIT' while a writer fills it in
//   word 18  TYPE     TYPE_CODE
//   word 19  LAYOUT   the object type's layout version
//   word 20  PID      the creator's pid (its namespace's)
//   word 21  START    the creator's start time (low 32 bits of /proc/PID/stat field 22)
//   bytes 88..95      creation time, ms since the epoch (float64)
//   bytes 96..127     reserved, zero
import { constants } from 'node:os'
import { IPCError } from './errors'
import type { IPCBuffer, OpenOptions } from './ipc-buffer'
import { openNamed } from './lock-word'
import { processStat } from './proc-stat'

export type ObjectType = 'mutex' | 'guarded-buffer' | 'channel' | 'map'

/** @internal Where the descriptor lives in the header page. */
export const OFFSET = 64
export const LENGTH = 64
const MAGIC = 16
const CLAIM = 17
const TYPE = 18
const LAYOUT = 19
const PID = 20
const START = 21
const CREATED_BYTE = 88
const MAGIC_VALUE = 0x4b435049 // 'IPCK'
const CLAIM_VALUE = 0x54495257 // 'WRIT'

const TYPE_CODE: Record<ObjectType, number> = { mutex: 1, 'guarded-buffer': 2, channel: 3, map: 4 }
/** @internal How messages name each type. */
export const TYPE_NAME: Record<ObjectType, string> = {
  mutex: 'mutex',
  'guarded-buffer': 'guarded buffer',
  channel: 'channel',
  map: 'shared map',
}
const TYPE_OF = new Map<number, ObjectType>(Object.entries(TYPE_CODE).map(([k, v]) => [v, k as ObjectType]))

/** How long an opener waits for another process to finish making an object it found blank. */
export const SETTLE_MS = 250

const { EINVAL, ENOENT, EEXIST } = constants.errno

/** @internal What a header page says about its object. */
export type Reading =
  | {
      state: 'complete'
      type: ObjectType | undefined
      typeCode: number
      layout: number
      created: number
      pid: number
      start: number
    }
  /** Every byte zero, or only a descriptor being written: a creator is (or was) at work. */
  | { state: 'blank' }
  /** Not ipc-kit's: bytes without the descriptor. */
  | { state: 'foreign' }

function words(map: Uint8Array): Int32Array {
  return new Int32Array(map.buffer, map.byteOffset, (OFFSET + LENGTH) / 4)
}

/** true if bytes [from, to) of `b` are all zero (memcmp in chunks). */
function zero(b: Uint8Array, from: number, to: number): boolean {
  const chunk = 65536
  for (let at = from; at < to; at += chunk) {
    const end = Math.min(to, at + chunk)
    if (Buffer.compare(Buffer.from(b.buffer, b.byteOffset + at, end - at), ZEROS.subarray(0, end - at)) !== 0)
      return false
  }
  return true
}
const ZEROS = Buffer.alloc(65536)

/** @internal Reads the descriptor of `map` (the object's first bytes), writing nothing. */
export function read(map: Uint8Array): Reading {
  if (map.length < OFFSET + LENGTH) return zero(map, 0, map.length) ? { state: 'blank' } : { state: 'foreign' }
  const w = words(map)
  for (;;) {
    const magic = Atomics.load(w, MAGIC)
    if (magic === MAGIC_VALUE) {
      const code = w[TYPE]
      const created = Buffer.from(map.buffer, map.byteOffset, OFFSET + LENGTH).readDoubleLE(CREATED_BYTE)
      return {
        state: 'complete',
        type: TYPE_OF.get(code),
        typeCode: code,
        layout: w[LAYOUT],
        created,
        pid: w[PID] >>> 0,
        start: w[START] >>> 0,
      }
    }
    // A writer at work: only its claim and fields are set, nothing else yet.
    const claim = Atomics.load(w, CLAIM)
    const claimed = claim === CLAIM_VALUE
    if (claimed ? zero(map, 0, OFFSET) && zero(map, OFFSET + LENGTH, map.length) : zero(map, 0, map.length))
      return { state: 'blank' }
    // A creator claims, fills in, completes, then writes the rest: a byte we saw
    // may be its work done since we looked at the claim and the magic.
    if (Atomics.load(w, MAGIC) === magic && Atomics.load(w, CLAIM) === claim) return { state: 'foreign' }
  }
}

let creator: { pid: number; start: number } | undefined

/** This process and its start time (0 without /proc). */
function me(): { pid: number; start: number } {
  if (creator === undefined) {
    let start = 0
    try {
      start = processStat('self')?.start ?? 0
    } catch {}
    creator = { pid: process.pid, start }
  }
  return creator
}

/** Fills in the descriptor of a blank header page, completion last. */
function write(map: Uint8Array, type: ObjectType, layout: number): void {
  const w = words(map)
  Atomics.store(w, CLAIM, CLAIM_VALUE)
  const { pid, start } = me()
  w[TYPE] = TYPE_CODE[type]
  w[LAYOUT] = layout
  w[PID] = pid
  w[START] = start | 0
  Buffer.from(map.buffer, map.byteOffset, OFFSET + LENGTH).writeDoubleLE(Date.now(), CREATED_BYTE)
  Atomics.store(w, MAGIC, MAGIC_VALUE)
}

/** @internal What an opener asks of openTyped. */
export interface TypedOpen {
  /** What the caller makes of the object; also the type it gets when created. */
  type: ObjectType
  /** Types the caller may open as its own (a Mutex opens a GuardedBuffer's lock). */
  accepts: readonly ObjectType[]
  /** The type's layout version. */
  layout: number
  /** Bytes a created object gets, and an existing one grows to (unless `minimum` says less). */
  size: number
  /** Bytes an existing object of ours must have at least (it grows to this). Default: size. */
  minimum?: number
  create: boolean | 'exclusive'
  mode: number
}

const pause = new Int32Array(new SharedArrayBuffer(4))

/**
 * @internal Opens (or creates) the object `name` as `want.type` without
 * changing anything that is not ipc-kit's: it maps what exists, reads the
 * descriptor, and only then grows or initialises it. An object that says it is
 * something else, or is not ipc-kit's, is EINVAL and stays as it was; one that
 * is blank (a creator mid-way) is waited for up to SETTLE_MS, then taken as
 * ours (its creator died before describing it).
 */
export function openTyped(name: unknown, kind: unknown, want: TypedOpen): IPCBuffer {
  return openDescribed(name, kind, want).map
}

/** @internal openTyped, also saying whether this call made the object (or took a blank one): then it lays it out. */
export function openDescribed(name: unknown, kind: unknown, want: TypedOpen): { map: IPCBuffer; created: boolean } {
  const until = Date.now() + SETTLE_MS
  for (;;) {
    let map: IPCBuffer
    let created = false
    if (want.create === 'exclusive') {
      map = openNamed(name, kind, { size: want.size, create: 'exclusive', mode: want.mode })
      created = true
    } else {
      try {
        map = openNamed(name, kind, { create: false })
      } catch (err) {
        const e = err as IPCError
        if (e.errno === -ENOENT && want.create !== false) {
          try {
            map = openNamed(name, kind, { size: want.size, create: 'exclusive', mode: want.mode })
            created = true
          } catch (err2) {
            if ((err2 as IPCError).errno === -EEXIST) continue // made meanwhile: open it
            throw err2
          }
        } else if (e.errno === -EINVAL && e.syscall === 'mmap') {
          // Empty: a creator between making the name and sizing it.
          if (Date.now() < until) {
            Atomics.wait(pause, 0, 0, 2)
            continue
          }
          // Still empty: its creator died before sizing it. Sized here, then taken as blank below.
          map = openNamed(name, kind, { size: want.size, create: false })
        } else {
          throw err
        }
      }
    }
    try {
      if (created) {
        write(map, want.type, want.layout)
        return { map, created }
      }
      const r = read(map)
      if (r.state === 'foreign') {
        throw new IPCError(
          -EINVAL,
          'open',
          map.name,
          `the object exists and is not an ipc-kit ${TYPE_NAME[want.type]}: it was left unchanged`,
        )
      }
      if (r.state === 'blank') {
        if (Date.now() < until) {
          map.close()
          Atomics.wait(pause, 0, 0, 2)
          continue
        }
        // Its creator died between making it and describing it: ours, if it has the room a creator gives.
        if (map.length < (want.minimum ?? want.size)) {
          throw new IPCError(
            -EINVAL,
            'open',
            map.name,
            `the object is too small to be an ipc-kit ${TYPE_NAME[want.type]}: it was left unchanged`,
          )
        }
        if (map.length < want.size) map = grow(map, name, kind, want.size)
        write(map, want.type, want.layout)
        return { map, created: true }
      }
      if (r.type === undefined || !want.accepts.includes(r.type)) {
        const what =
          r.type === undefined
            ? `an ipc-kit object of an unknown type (${r.typeCode})`
            : `an ipc-kit ${TYPE_NAME[r.type]}`
        throw new IPCError(-EINVAL, 'open', map.name, `the object is ${what}, not a ${TYPE_NAME[want.type]}`)
      }
      if (r.layout !== want.layout) {
        throw new IPCError(
          -EINVAL,
          'open',
          map.name,
          `the ${TYPE_NAME[r.type]} was made by an incompatible version of ipc-kit (layout ${r.layout}, this one reads ${want.layout})`,
        )
      }
      const minimum = want.minimum ?? want.size
      if (map.length < minimum) map = grow(map, name, kind, minimum)
      return { map, created: false }
    } catch (err) {
      map.close()
      throw err
    }
  }
}

/** Maps the object again at `size` bytes (it grows; never shrinks) and closes the old mapping. */
function grow(map: IPCBuffer, name: unknown, kind: unknown, size: number): IPCBuffer {
  const bigger = openNamed(name, kind, { size, create: false } satisfies OpenOptions)
  map.close()
  return bigger
}

/** @internal Marks a Mutex's page that a GuardedBuffer grew as a guarded buffer. */
export function retype(map: Uint8Array, from: ObjectType, to: ObjectType): void {
  Atomics.compareExchange(words(map), TYPE, TYPE_CODE[from], TYPE_CODE[to])
}
