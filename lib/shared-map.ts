import { constants } from 'node:os'
import { IPCError, closedError, invalidType, invalidValue, outOfRange } from './errors'
import type { IPCBuffer, SharedKind } from './ipc-buffer'
import { openDescribed } from './descriptor'
import { mutexOver, type Mutex } from './mutex'
import { copyOut } from './copy-out'
import {
  decodeKey,
  decodeValue,
  encodeKey,
  encodeValue,
  key,
  writeValue,
  type Bytes,
  type Encoded,
} from './shared-map-codec'
import { Heap } from './shared-map-heap'
import {
  B_LINK,
  DATA_MIN,
  EVICT_LRU,
  EVICT_NONE,
  E_EXPIRES,
  E_HASH,
  E_KEY,
  E_META,
  E_VALUE_LEN,
  FREE,
  F_EVICTIONS,
  GRANULE_SHIFT,
  F_EXPIRED,
  F_RECOVERIES,
  H_BUCKETS,
  H_CLOCK,
  H_DATA_END,
  H_DATA_START,
  H_ENTRIES,
  H_EVICTION,
  H_FREE,
  H_LAYOUT,
  H_LIVE,
  H_MAGIC,
  H_MAX_ENTRIES,
  H_MAX_VALUE,
  H_OPENS,
  H_READY,
  LAYOUT,
  MAGIC,
  MIN_BLOCK,
  PAGE,
  SIZE_LIMIT,
  STRIPES,
  STRIPE_BASE,
  TRAILER,
  VALUE_STRING,
  Views,
  blockSize,
  payloadOf,
  planGeometry,
  readGeometry,
  type Geometry,
} from './shared-map-layout'
import { recover, verify, type HeapReport } from './shared-map-recovery'
import * as check from './validate'

export interface SharedMapOptions {
  /** Bytes of the whole shared object; needed to create. Fixed at creation. */
  size?: number
  /** Most entries the map holds (default: only the bytes limit it). */
  maxEntries?: number
  /** Largest key + value of one entry, in bytes (default: a quarter of the data area). */
  maxEntrySize?: number
  /** 'lru' (default): evict the least recently used entries to make room; 'none': a set that does not fit throws ENOSPC. */
  eviction?: 'lru' | 'none'
  /** 'posix' (default for a string), 'file' (name is a path) or 'sysv' (name is a key). */
  kind?: SharedKind
  /** true (default when size is given): open or create; 'exclusive': EEXIST if present; false: ENOENT if absent. */
  create?: boolean | 'exclusive'
  /** Permission bits of a created map. Default 0o600. */
  mode?: number
}

export interface SetOptions {
  /** Milliseconds the entry lives; after that it is never returned and its space is reused. */
  ttl?: number
}

export interface SharedMapStats {
  /** Entries stored (entries past their ttl count until their space is reclaimed). */
  entries: number
  /** Bytes of the blocks that hold entries (keys, values and their headers). */
  bytes: number
  /** Bytes free in the data area. */
  free: number
  /** Bytes of the header, the index and the slack at the end. */
  overhead: number
  /** Bytes of the shared object: bytes + free + overhead. */
  total: number
  /** get() calls that found a value, across all processes. */
  hits: number
  /** get() calls that found none. */
  misses: number
  /** Entries removed to make room. */
  evictions: number
  /** Entries removed because their ttl had passed. */
  expired: number
  /** Times a writer repaired the map after another died holding its lock. */
  recoveries: number
}

export type SharedMapKey = string | Buffer

const { errno } = constants
const ENOSPC = -errno.ENOSPC
const EINVAL = -errno.EINVAL
const ETIMEDOUT = -errno.ETIMEDOUT
// Words of a process's stripe of counters (64-bit, low word first): lock-free
// get() attempts, misses, and discarded attempts (hits are the rest); and a
// word that has() and iteration add to only for the fence it makes.
const S_READS = 0
const S_MISSES = 2
const S_RETRIES = 4
const S_FENCE = 6
/** Lock-free attempts of a read before it takes the lock (writers keep changing its bucket). */
const READ_ATTEMPTS = 64
/** Entries (or windows) compared to pick the least recently used. */
const SAMPLES = 8
/** How long an opener waits for the creator to lay out a new map. */
const LAYOUT_WAIT_MS = 2000
const sleeper = new Int32Array(new SharedArrayBuffer(4))

/** What #lookup found: the entry's offset and, for a get, its value as read. */
const found = { at: 0, type: 0, raw: undefined as Buffer | string | undefined }

let internals: (m: SharedMap<unknown>) => { i32: Int32Array; geometry: Geometry; mutex: Mutex; heap: Heap }

/**
 * A hash map in shared memory: every process (and thread) that opens its
 * name reads and writes the same entries. Reads take no lock; writes take a
 * crash-safe lock, and a writer that dies at any instant leaves each key with
 * its old or its new value. It has the Map interface, so keyv and
 * cache-manager take it as a store.
 */
export class SharedMap<V = unknown> {
  readonly #map: IPCBuffer
  readonly #mutex: Mutex
  readonly #u8: Bytes
  readonly #i32: Int32Array
  readonly #f64: Float64Array
  readonly #heap: Heap
  readonly #g: Geometry
  readonly #mask: number
  readonly #maxSteps: number
  readonly #lastBlock: number
  readonly #stripe: number
  readonly #subject: string | number | undefined
  #closed = false

  static {
    internals = (m) => ({ i32: m.#i32, geometry: m.#g, mutex: m.#mutex, heap: m.#heap })
  }

  private constructor(map: IPCBuffer, mutex: Mutex) {
    this.#map = map
    this.#mutex = mutex
    this.#subject = map.name
    const views = new Views(map)
    this.#u8 = views.u8
    this.#i32 = views.i32
    this.#f64 = views.f64
    const g = readGeometry(this.#i32)
    this.#g = g
    this.#heap = new Heap(this.#i32, g)
    this.#mask = g.buckets - 1
    this.#maxSteps = (g.dataEnd - g.dataStart) / MIN_BLOCK
    this.#lastBlock = g.dataEnd - MIN_BLOCK
    // Each opening (a process, a thread, or another open in the same one)
    // takes the next stripe: the even ones first, then the odd ones, so that
    // the first openers' lines are not neighbours (CPUs fetch lines in pairs).
    const turn = (Atomics.add(this.#i32, H_OPENS, 1) >>> 0) % STRIPES
    this.#stripe = STRIPE_BASE + 16 * (((2 * turn) % STRIPES) | (turn >= STRIPES / 2 ? 1 : 0))
  }

  /**
   * Opens the map called `name`, creating it when `options.size` is given
   * (unless `create` says otherwise). A new map is laid out by its creator;
   * others opening the name meanwhile wait for it (up to 2 s).
   */
  static open<V = unknown>(name: string | number, options?: SharedMapOptions): SharedMap<V> {
    const opts = check.options<SharedMapOptions>(options)
    let size: number | undefined
    if (opts.size !== undefined) size = check.integer(opts.size, 'options.size', 1, SIZE_LIMIT)
    const maxEntries =
      opts.maxEntries === undefined ? 0 : check.integer(opts.maxEntries, 'options.maxEntries', 1, 0x7fffffff)
    const maxEntrySize =
      opts.maxEntrySize === undefined
        ? undefined
        : check.integer(opts.maxEntrySize, 'options.maxEntrySize', 1, SIZE_LIMIT)
    if (opts.eviction !== undefined && opts.eviction !== 'lru' && opts.eviction !== 'none') {
      throw invalidValue('options.eviction', opts.eviction, "must be 'lru' or 'none'")
    }
    const eviction = opts.eviction === 'none' ? EVICT_NONE : EVICT_LRU
    const create = check.create(opts.create, size !== undefined)
    const mode = check.mode(opts.mode, 'options.mode')
    let plan: ReturnType<typeof planGeometry> | undefined
    let maxPayload = 0
    if (size !== undefined) {
      plan = planGeometry(size, maxEntries || Math.floor(size / 256))
      const data = plan.dataEnd - plan.dataStart
      if (data < DATA_MIN) throw outOfRange('options.size', `at least ${plan.dataStart + DATA_MIN} for this map`, size)
      const largest = payloadOf(data)
      if (maxEntrySize !== undefined && maxEntrySize > largest) {
        throw outOfRange('options.maxEntrySize', `<= ${largest} for a map of ${size} bytes`, maxEntrySize)
      }
      maxPayload = maxEntrySize ?? payloadOf(Math.floor(data / 4))
    }
    if (create !== false && size === undefined) throw invalidValue('options.size', size, 'is needed to create a map')

    // Made here (or found blank and taken): this call lays it out; otherwise it waits for its creator's layout.
    const opened = openDescribed(name, opts.kind, {
      type: 'map',
      accepts: ['map'],
      layout: LAYOUT,
      size: size ?? 0,
      minimum: PAGE + DATA_MIN,
      create,
      mode,
    })
    const map = opened.map
    const creator = opened.created && plan !== undefined
    try {
      if (map.length < PAGE + DATA_MIN) {
        throw new IPCError(EINVAL, 'open', map.name, 'the object is too small to be a SharedMap')
      }
      const mutex = mutexOver(map)
      try {
        const i32 = new Int32Array(map.buffer, map.byteOffset, PAGE >>> 2)
        if (creator) {
          mutex.acquireSync()
          try {
            layOut(i32, plan!, maxPayload, maxEntries, eviction)
          } finally {
            mutex.release()
          }
        } else {
          awaitLayout(i32, map.name)
        }
        return new SharedMap<V>(map, mutex)
      } catch (err) {
        mutex.close()
        throw err
      }
    } catch (err) {
      map.close()
      throw err
    }
  }

  /** Entries stored (those past their ttl count until their space is reclaimed). */
  get size(): number {
    this.#check()
    return this.#i32[H_ENTRIES]
  }

  get [Symbol.toStringTag](): string {
    return 'SharedMap'
  }

  /** The value stored under `key` (a fresh copy), or undefined. Takes no lock. */
  get(k: SharedMapKey): V | undefined {
    this.#check()
    encodeKey(k)
    const hit = this.#lookup(true)
    if (!hit) {
      this.#count(S_MISSES)
      return undefined
    }
    return decodeValue(found.type, found.raw!) as V
  }

  /** Whether `key` has a value (one whose ttl has not passed). Takes no lock. */
  has(k: SharedMapKey): boolean {
    this.#check()
    encodeKey(k)
    return this.#lookup(false)
  }

  /**
   * Stores `value` under `key`. Options: `{ ttl }` in ms (a number alone is
   * taken as the ttl, as keyv and cache-manager pass it). Throws IPCError
   * ENOSPC if it does not fit and eviction is 'none' (nothing changed then).
   */
  set(k: SharedMapKey, value: V, options?: SetOptions | number): this {
    this.#check()
    const expires = expiryOf(options)
    const encoded = encodeValue(value)
    encodeKey(k)
    this.#checkSize(encoded.length)
    this.#lock()
    try {
      this.#setLocked(encoded, expires)
    } finally {
      this.#mutex.release()
    }
    return this
  }

  /** Removes `key`; true if it had a value. */
  delete(k: SharedMapKey): boolean {
    this.#check()
    encodeKey(k)
    this.#lock()
    try {
      const link = this.#find()
      if (link === 0) return false
      const at = Atomics.load(this.#i32, link)
      const live = !this.#expired(at)
      this.#unlink(link, at)
      if (!live) this.#f64[F_EXPIRED]++
      return live
    } finally {
      this.#mutex.release()
    }
  }

  /** Removes every entry. */
  clear(): void {
    this.#check()
    this.#lock()
    try {
      const { bucketBase, buckets } = this.#g
      const i32 = this.#i32
      for (let b = 0; b < buckets; b++) {
        const v = bucketBase + 2 * b
        if (i32[v + 1] === 0) continue
        Atomics.store(i32, v + 1, 0)
        Atomics.add(i32, v, 1)
      }
      this.#heap.reset()
      i32[H_ENTRIES] = 0
    } finally {
      this.#mutex.release()
    }
  }

  /**
   * Atomic read-modify-write across processes: calls `fn(current)` holding the
   * map's lock and stores what it returns (undefined deletes the key). `fn`
   * must be synchronous. The entry keeps its ttl unless `options.ttl` is given.
   * Returns the new value.
   */
  update(k: SharedMapKey, fn: (current: V | undefined) => V | undefined, options?: SetOptions | number): V | undefined {
    this.#check()
    if (typeof fn !== 'function') throw invalidType('fn', 'of type function', fn)
    let expires = options === undefined ? -1 : expiryOf(options)
    encodeKey(k)
    const keyCopy = k instanceof Uint8Array ? Buffer.from(key.bytes.subarray(0, key.length)) : k
    this.#lock()
    try {
      let current: V | undefined
      let link = this.#find()
      if (link !== 0) {
        const at = this.#i32[link]
        if (!this.#expired(at)) {
          current = this.#readLocked(at) as V
          if (expires === -1) expires = this.#f64[(at + E_EXPIRES) >>> 3]
        }
      }
      const next = fn(current)
      if (next !== null && typeof next === 'object' && typeof (next as { then?: unknown }).then === 'function') {
        throw invalidValue('fn', next, 'must return the new value synchronously, not a promise')
      }
      // fn may have used this map (a get): encode the key again.
      encodeKey(keyCopy)
      if (next === undefined) {
        link = this.#find()
        if (link !== 0) this.#unlink(link, this.#i32[link])
        return undefined
      }
      const encoded = encodeValue(next)
      encodeKey(keyCopy)
      this.#checkSize(encoded.length)
      this.#setLocked(encoded, expires === -1 ? 0 : expires)
      return next
    } finally {
      this.#mutex.release()
    }
  }

  /** Counters shared by every process, and where every byte goes: bytes + free + overhead === total. */
  stats(): SharedMapStats {
    this.#check()
    const i32 = this.#i32
    let hits = 0
    let misses = 0
    for (let s = 0; s < STRIPES; s++) {
      const at = STRIPE_BASE + 16 * s
      const word = (w: number): number => (i32[at + w] >>> 0) + (i32[at + w + 1] >>> 0) * 2 ** 32
      const missed = word(S_MISSES)
      hits += word(S_READS) - word(S_RETRIES) - missed
      misses += missed
    }
    this.#lock()
    try {
      const g = this.#g
      return {
        entries: i32[H_ENTRIES],
        bytes: i32[H_LIVE],
        free: i32[H_FREE],
        overhead: g.dataStart + (this.#map.length - g.dataEnd),
        total: this.#map.length,
        hits,
        misses,
        evictions: this.#f64[F_EVICTIONS],
        expired: this.#f64[F_EXPIRED],
        recoveries: this.#f64[F_RECOVERIES],
      }
    } finally {
      this.#mutex.release()
    }
  }

  forEach(fn: (value: V, key: SharedMapKey, map: this) => void, thisArg?: unknown): void {
    if (typeof fn !== 'function') throw invalidType('fn', 'of type function', fn)
    for (const [k, v] of this) fn.call(thisArg, v, k, this)
  }

  /**
   * Every entry, bucket by bucket; each bucket is read whole and consistent.
   * Entries written meanwhile may or may not be seen; none is seen twice
   * unless it was deleted and set again.
   */
  *entries(): IterableIterator<[SharedMapKey, V]> {
    this.#check()
    for (let b = 0; b < this.#g.buckets; b++) {
      if (this.#closed) return
      if (Atomics.load(this.#i32, this.#g.bucketBase + 2 * b + 1) === 0) continue
      for (const [k, type, raw] of this.#readBucket(b)) yield [k, decodeValue(type, raw) as V]
    }
  }

  *keys(): IterableIterator<SharedMapKey> {
    for (const [k] of this.entries()) yield k
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v
  }

  [Symbol.iterator](): IterableIterator<[SharedMapKey, V]> {
    return this.entries()
  }

  /** Unmaps the map; later calls throw ERR_IPC_CLOSED. Idempotent. The name stays (see unlink). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#mutex.close()
    this.#map.close()
  }

  /** Removes the name; processes that have the map open keep using it. */
  unlink(): void {
    this.#map.unlink()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  #check(): void {
    if (this.#closed) throw closedError('SharedMap')
  }

  #checkSize(valueLength: number): void {
    if (key.length + valueLength > this.#g.maxPayload) {
      throw outOfRange(
        'key and value',
        `at most ${this.#g.maxPayload} bytes together (options.maxEntrySize)`,
        `${key.length + valueLength} bytes`,
      )
    }
  }

  /** Takes the writers' lock; repairs the map if its last holder died holding it. */
  #lock(): void {
    if (!this.#mutex.acquireSync()) throw new IPCError(ETIMEDOUT, 'futex', this.#subject)
    if (this.#mutex.ownerDied) recover(this.#i32, this.#g, this.#heap)
  }

  /**
   * Adds 1 to a 64-bit counter of this process's stripe. As an atomic
   * read-modify-write it is also the fence a lock-free read needs before it
   * reads its bucket's version again: the reads before it are complete.
   */
  #count(which: number): void {
    const i32 = this.#i32
    const at = this.#stripe + which
    if (Atomics.add(i32, at, 1) === -1) Atomics.add(i32, at + 1, 1)
  }

  /**
   * Looks `key` up without a lock: reads its bucket's version, walks the
   * chain checking every offset and length, copies the value out (when
   * `copy`), and retries if the version moved meanwhile. What it read between
   * the two version reads may be garbage; it is then discarded.
   */
  #lookup(copy: boolean): boolean {
    const i32 = this.#i32
    const u8 = this.#u8
    const hash = key.hash
    const length = key.length
    const meta = length | (key.type << 16)
    const bucket = hash & this.#mask
    const version = this.#g.bucketBase + 2 * bucket
    const start = this.#g.dataStart
    const last = this.#lastBlock
    const end = this.#g.dataEnd
    const maxPayload = this.#g.maxPayload
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const before = Atomics.load(i32, version)
      let at = Atomics.load(i32, version + 1)
      let steps = 0
      let hit = false
      let sound = true
      while (at !== 0) {
        if (at < start || at > last || (at & 7) !== 0 || ++steps > this.#maxSteps) {
          sound = false
          break
        }
        if (i32[(at + E_HASH) >>> 2] === hash && (i32[(at + E_META) >>> 2] & 0xffffff) === meta) {
          const valueLength = i32[(at + E_VALUE_LEN) >>> 2]
          const from = at + E_KEY + length
          if (valueLength < 0 || valueLength > maxPayload || from + valueLength > end) {
            sound = false
            break
          }
          if (keyAt(u8, at + E_KEY, length)) {
            const expires = this.#f64[(at + E_EXPIRES) >>> 3]
            if (expires !== 0 && expires <= Date.now()) break
            hit = true
            if (copy) {
              const type = i32[(at + E_META) >>> 2] >>> 24
              found.type = type
              if (type === VALUE_STRING) {
                found.raw = u8.utf8Slice(from, from + valueLength)
              } else {
                found.raw = copyOut(u8, from, from + valueLength)
              }
            }
            found.at = at
            break
          }
        }
        at = i32[(at + B_LINK) >>> 2]
      }
      this.#count(copy ? S_READS : S_FENCE)
      const moved = Atomics.load(i32, version) !== before
      if (moved || !sound) {
        if (copy) this.#count(S_RETRIES)
        if (moved) continue
        break // the chain is damaged and no writer is changing it: read it under the lock
      }
      if (hit) this.#touch(found.at)
      return hit
    }
    if (copy) this.#count(S_READS)
    return this.#lookupLocked(copy)
  }

  /** The same lookup holding the lock, for a read that writers kept disturbing. */
  #lookupLocked(copy: boolean): boolean {
    this.#lock()
    try {
      const link = this.#find()
      if (link === 0) return false
      const at = this.#i32[link]
      if (this.#expired(at)) return false
      if (copy) {
        found.type = this.#i32[(at + E_META) >>> 2] >>> 24
        found.raw = this.#rawValue(at)
      }
      found.at = at
      return true
    } finally {
      this.#mutex.release()
    }
  }

  /**
   * Marks the entry at `at` as just used, for LRU: one store into the stamp of
   * its block's first granule, only when the clock has moved. The stamps sit
   * outside the data, so a stamp for a block freed meanwhile harms nothing.
   */
  #touch(at: number): void {
    const i32 = this.#i32
    const clock = i32[H_CLOCK]
    const stamp = this.#g.stampBase + ((at - this.#g.dataStart) >>> GRANULE_SHIFT)
    if (i32[stamp] !== clock) Atomics.store(i32, stamp, clock)
  }

  /** An entry's value, read under the lock. */
  #readLocked(at: number): unknown {
    return decodeValue(this.#i32[(at + E_META) >>> 2] >>> 24, this.#rawValue(at))
  }

  /** An entry's value bytes, copied out under the lock: a string, or a Buffer of its own. */
  #rawValue(at: number): Buffer | string {
    const i32 = this.#i32
    const meta = i32[(at + E_META) >>> 2]
    const from = at + E_KEY + (meta & 0xffff)
    const to = from + i32[(at + E_VALUE_LEN) >>> 2]
    return meta >>> 24 === VALUE_STRING ? this.#u8.utf8Slice(from, to) : copyOut(this.#u8, from, to)
  }

  /** Under the lock: the index of the word that links to `key`'s entry, or 0. */
  #find(): number {
    const i32 = this.#i32
    const hash = key.hash
    const meta = key.length | (key.type << 16)
    let link = this.#g.bucketBase + 2 * (hash & this.#mask) + 1
    for (let at = i32[link]; at !== 0; at = i32[link]) {
      if (
        i32[(at + E_HASH) >>> 2] === hash &&
        (i32[(at + E_META) >>> 2] & 0xffffff) === meta &&
        keyAt(this.#u8, at + E_KEY, key.length)
      ) {
        return link
      }
      link = (at + B_LINK) >>> 2
    }
    return 0
  }

  #expired(at: number): boolean {
    const expires = this.#f64[(at + E_EXPIRES) >>> 3]
    return expires !== 0 && expires <= Date.now()
  }

  /**
   * Takes the entry at `at` out of its chain (one atomic store), bumps the
   * bucket's version so readers that may still be inside it retry, then frees
   * its block: never before the bump.
   */
  #unlink(link: number, at: number): void {
    const i32 = this.#i32
    const bucket = i32[(at + E_HASH) >>> 2] & this.#mask
    Atomics.store(i32, link, i32[(at + B_LINK) >>> 2])
    Atomics.add(i32, this.#g.bucketBase + 2 * bucket, 1)
    this.#heap.release(at)
    i32[H_ENTRIES]--
  }

  /** Unlinks the entry at `at`, finding the word that links to it. */
  #remove(at: number): void {
    const i32 = this.#i32
    let link = this.#g.bucketBase + 2 * (i32[(at + E_HASH) >>> 2] & this.#mask) + 1
    while (i32[link] !== at) link = (i32[link] + B_LINK) >>> 2
    this.#unlink(link, at)
  }

  /**
   * Under the lock, `key` encoded: writes the entry into a new block, then
   * publishes it with one atomic store (replacing the old entry in its chain
   * or appending to it), bumps the bucket's version, and frees the old block.
   */
  #setLocked(value: Encoded, expires: number): void {
    const i32 = this.#i32
    const g = this.#g
    const size = blockSize(key.length, value.length)
    this.#expireSome()
    let link = this.#find()
    if (link === 0 && g.maxEntries !== 0 && i32[H_ENTRIES] >= g.maxEntries) this.#makeRoomForEntry()
    let at = this.#heap.alloc(size)
    if (at === 0) {
      at = this.#makeRoom(size)
      link = this.#find()
    }
    if (link === 0) {
      // The chain's last link: walk to it.
      link = g.bucketBase + 2 * (key.hash & this.#mask) + 1
      while (i32[link] !== 0) link = (i32[link] + B_LINK) >>> 2
    }
    const old = i32[link]
    const u8 = this.#u8
    i32[(at + B_LINK) >>> 2] = old === 0 ? 0 : i32[(old + B_LINK) >>> 2]
    i32[(at + E_HASH) >>> 2] = key.hash
    i32[(at + E_META) >>> 2] = key.length | (key.type << 16) | (value.type << 24)
    i32[(at + E_VALUE_LEN) >>> 2] = value.length
    this.#f64[(at + E_EXPIRES) >>> 3] = expires
    const bytes = key.bytes
    if (key.length <= 64) for (let i = 0, to = at + E_KEY; i < key.length; i++) u8[to + i] = bytes[i]
    else bytes.copy(u8, at + E_KEY, 0, key.length)
    writeValue(u8, at + E_KEY + key.length, value)
    const bucket = key.hash & this.#mask
    Atomics.store(i32, link, at)
    Atomics.add(i32, g.bucketBase + 2 * bucket, 1)
    if (old !== 0) this.#heap.release(old)
    else i32[H_ENTRIES]++
    const clock = Atomics.add(i32, H_CLOCK, 1) + 1
    Atomics.store(i32, g.stampBase + ((at - g.dataStart) >>> GRANULE_SHIFT), clock)
  }

  /** A random entry (of the first non-empty bucket from a random one), or 0 if the map is empty. */
  #randomEntry(): number {
    const i32 = this.#i32
    const { buckets, bucketBase } = this.#g
    if (i32[H_ENTRIES] === 0) return 0
    let b = (Math.random() * buckets) | 0
    for (let n = 0; n < buckets; n++, b = (b + 1) & this.#mask) {
      const head = i32[bucketBase + 2 * b + 1]
      if (head === 0) continue
      let length = 0
      for (let at = head; at !== 0; at = i32[(at + B_LINK) >>> 2]) length++
      let at = head
      for (let k = (Math.random() * length) | 0; k > 0; k--) at = i32[(at + B_LINK) >>> 2]
      return at
    }
    return 0
  }

  /** How long ago (in clock ticks) the entry at `at` was used; expired entries are the oldest. */
  #age(at: number): number {
    if (this.#expired(at)) return 0xffffffff
    const i32 = this.#i32
    const stamp = i32[this.#g.stampBase + ((at - this.#g.dataStart) >>> GRANULE_SHIFT)]
    return (i32[H_CLOCK] - stamp) >>> 0
  }

  /** Reclaims the expired entries of one random bucket: each write does a little of this. */
  #expireSome(): void {
    this.#expireBucket((Math.random() * this.#g.buckets) | 0)
  }

  /** Reclaims every expired entry; true if any was. */
  #expireAll(): boolean {
    let any = false
    for (let b = 0; b < this.#g.buckets; b++) any = this.#expireBucket(b) || any
    return any
  }

  /** Reclaims the expired entries of bucket `b`; true if any was. */
  #expireBucket(b: number): boolean {
    const i32 = this.#i32
    let any = false
    let link = this.#g.bucketBase + 2 * b + 1
    for (let at = i32[link]; at !== 0; at = i32[link]) {
      if (this.#expired(at)) {
        this.#unlink(link, at)
        this.#f64[F_EXPIRED]++
        any = true
      } else {
        link = (at + B_LINK) >>> 2
      }
    }
    return any
  }

  #noSpace(why: string): IPCError {
    return new IPCError(ENOSPC, 'set', this.#subject, `no space left in the map (${why}) and its eviction is 'none'`)
  }

  /** The entry count is at its limit: evict the least recently used of a sample, or throw ENOSPC. */
  #makeRoomForEntry(): void {
    if (this.#g.eviction === EVICT_NONE) {
      if (this.#expireAll() && this.#i32[H_ENTRIES] < this.#g.maxEntries) return
      throw this.#noSpace(`${this.#g.maxEntries} entries`)
    }
    let victim = 0
    let oldest = -1
    for (let s = 0; s < SAMPLES; s++) {
      const at = this.#randomEntry()
      const age = at === 0 ? -1 : this.#age(at)
      if (age > oldest) {
        oldest = age
        victim = at
      }
    }
    if (victim !== 0) this.#evict(victim)
  }

  #evict(at: number): void {
    const expired = this.#expired(at)
    this.#remove(at)
    if (expired) this.#f64[F_EXPIRED]++
    else this.#f64[F_EVICTIONS]++
  }

  /**
   * No free block holds `size` bytes: with 'lru', evict a run of neighbouring
   * blocks at least that long whose most recently used entry is the oldest of
   * a few sampled runs (expired entries count as oldest), then allocate there.
   * With 'none', reclaim expired entries or throw ENOSPC having changed nothing.
   */
  #makeRoom(size: number): number {
    if (this.#g.eviction === EVICT_NONE) {
      if (this.#expireAll()) {
        const at = this.#heap.alloc(size)
        if (at !== 0) return at
      }
      throw this.#noSpace(`${size} bytes needed, ${this.#i32[H_FREE]} free but not in one piece`)
    }
    for (;;) {
      let best: number[] | undefined
      let bestAge = -1
      for (let s = 0; s < SAMPLES; s++) {
        const start = this.#randomEntry()
        if (start === 0) break
        const run = this.#runFrom(start, size)
        if (run.age > bestAge) {
          bestAge = run.age
          best = run.entries
        }
      }
      if (best === undefined) throw new Error('SharedMap: no entry to evict, yet no free block is large enough')
      for (const at of best) this.#evict(at)
      const at = this.#heap.alloc(size)
      if (at !== 0) return at
    }
  }

  /**
   * The blocks next to each other from `start` (forwards, then backwards if the
   * data area ends first) covering `size` bytes: their entries, and the age
   * of the most recently used one.
   */
  #runFrom(start: number, size: number): { entries: number[]; age: number } {
    const i32 = this.#i32
    const entries: number[] = []
    let age = 0xffffffff
    let covered = 0
    const take = (at: number, word: number): void => {
      covered += word & ~7
      if ((word & FREE) === 0) {
        entries.push(at)
        age = Math.min(age, this.#age(at))
      }
    }
    let at = start
    while (covered < size && at < this.#g.dataEnd) {
      const word = i32[at >>> 2]
      take(at, word)
      at += word & ~7
    }
    at = start
    while (covered < size && at > this.#g.dataStart) {
      const word = i32[(at - TRAILER) >>> 2]
      at -= word & ~7
      take(at, word)
    }
    return { entries, age }
  }

  /** One bucket's entries read consistently (retrying while writers change it): [key, value type, raw value]. */
  #readBucket(b: number): Array<[SharedMapKey, number, Buffer | string]> {
    const i32 = this.#i32
    const u8 = this.#u8
    const version = this.#g.bucketBase + 2 * b
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const before = Atomics.load(i32, version)
      const out: Array<[SharedMapKey, number, Buffer | string]> = []
      let sound = true
      let steps = 0
      const now = Date.now()
      for (let at = Atomics.load(i32, version + 1); at !== 0; at = i32[(at + B_LINK) >>> 2]) {
        if (at < this.#g.dataStart || at > this.#lastBlock || (at & 7) !== 0 || ++steps > this.#maxSteps) {
          sound = false
          break
        }
        const meta = i32[(at + E_META) >>> 2]
        const keyLength = meta & 0xffff
        const valueLength = i32[(at + E_VALUE_LEN) >>> 2]
        const from = at + E_KEY + keyLength
        if (valueLength < 0 || valueLength > this.#g.maxPayload || from + valueLength > this.#g.dataEnd) {
          sound = false
          break
        }
        const expires = this.#f64[(at + E_EXPIRES) >>> 3]
        if (expires !== 0 && expires <= now) continue
        const type = meta >>> 24
        const raw =
          type === VALUE_STRING ? u8.utf8Slice(from, from + valueLength) : copyOut(u8, from, from + valueLength)
        out.push([decodeKey(u8, at + E_KEY, keyLength, (meta >>> 16) & 0xff), type, raw])
      }
      this.#count(S_FENCE)
      if (Atomics.load(i32, version) !== before) continue
      if (sound) return out
      break
    }
    // Writers kept changing it: read it holding the lock.
    this.#lock()
    try {
      const out: Array<[SharedMapKey, number, Buffer | string]> = []
      for (let at = i32[version + 1]; at !== 0; at = i32[(at + B_LINK) >>> 2]) {
        if (this.#expired(at)) continue
        const meta = i32[(at + E_META) >>> 2]
        out.push([decodeKey(u8, at + E_KEY, meta & 0xffff, (meta >>> 16) & 0xff), meta >>> 24, this.#rawValue(at)])
      }
      return out
    } finally {
      this.#mutex.release()
    }
  }
}

/** Whether the bytes at `at` are the key being looked up. */
function keyAt(u8: Buffer, at: number, length: number): boolean {
  const bytes = key.bytes
  if (length > 32) return bytes.compare(u8, at, at + length, 0, length) === 0
  for (let i = 0; i < length; i++) if (bytes[i] !== u8[at + i]) return false
  return true
}

/** The Date.now() deadline for a set's options, 0 for none. */
function expiryOf(options: SetOptions | number | undefined): number {
  let ttl: unknown
  if (typeof options === 'number') ttl = options
  else if (options !== undefined && options !== null) ttl = check.options<SetOptions>(options).ttl
  if (ttl === undefined) return 0
  if (typeof ttl !== 'number') throw invalidType('options.ttl', 'of type number', ttl)
  if (!(ttl > 0) || ttl === Infinity) {
    if (ttl === Infinity) return 0
    throw outOfRange('options.ttl', 'a number > 0 (milliseconds)', ttl)
  }
  return Date.now() + ttl
}

/** The creator writes the layout, under the lock, and publishes it with H_READY last. */
function layOut(
  i32: Int32Array,
  plan: ReturnType<typeof planGeometry>,
  maxPayload: number,
  maxEntries: number,
  eviction: number,
): void {
  if (Atomics.load(i32, H_READY) === 1) return
  i32[H_MAGIC] = MAGIC
  i32[H_LAYOUT] = LAYOUT
  i32[H_BUCKETS] = plan.buckets
  i32[H_DATA_START] = plan.dataStart
  i32[H_DATA_END] = plan.dataEnd
  i32[H_MAX_VALUE] = maxPayload
  i32[H_MAX_ENTRIES] = maxEntries
  i32[H_EVICTION] = eviction
  const full = new Int32Array(i32.buffer, i32.byteOffset, plan.dataEnd >>> 2)
  new Heap(full, readGeometry(full)).reset()
  i32[H_ENTRIES] = 0
  Atomics.store(i32, H_READY, 1)
}

/** An opener of an existing map waits (bounded) for its creator to lay it out, then checks it is one. */
function awaitLayout(i32: Int32Array, subject: string | number | undefined): void {
  const deadline = Date.now() + LAYOUT_WAIT_MS
  while (Atomics.load(i32, H_READY) !== 1) {
    if (i32[H_MAGIC] !== 0 && i32[H_MAGIC] !== MAGIC) break
    if (Date.now() > deadline) break
    Atomics.wait(sleeper, 0, 0, 1)
  }
  if (Atomics.load(i32, H_READY) !== 1 || i32[H_MAGIC] !== MAGIC) {
    throw new IPCError(EINVAL, 'open', subject, 'the object exists and is not a SharedMap')
  }
  if (i32[H_LAYOUT] !== LAYOUT) {
    throw new IPCError(
      EINVAL,
      'open',
      subject,
      `the map has layout ${i32[H_LAYOUT]}; this ipc-kit reads layout ${LAYOUT}`,
    )
  }
}

/** @internal Walks a map's blocks, free lists and index and checks them against its counters (tests). */
export function verifySharedMap(m: SharedMap<unknown>): HeapReport {
  const { i32, geometry, mutex, heap } = internals(m)
  if (!mutex.acquireSync()) throw new Error('unreachable')
  try {
    if (mutex.ownerDied) recover(i32, geometry, heap)
    return verify(i32, geometry)
  } finally {
    mutex.release()
  }
}
