import { constants } from 'node:os'
import { IPCError, invalidType, invalidValue, outOfRange } from './errors'
import { IPCBuffer, type SharedKind } from './ipc-buffer'
import { openTyped, retype } from './descriptor'
import { HEADER_SIZE } from './lock-word'
import { LAYOUT, Mutex, mutexOver, type AcquireOptions } from './mutex'
import * as check from './validate'

export interface GuardedOptions {
  /** Data bytes; needed to create. Without it an existing object is mapped whole. */
  size?: number
  /** 'posix' (default), 'file' (name is a path) or 'sysv' (name is a key). */
  kind?: SharedKind
  /** true (default): open or create; 'exclusive': EEXIST if present; false: ENOENT if absent. */
  create?: boolean | 'exclusive'
  /** Permission bits of a created object. Default 0o600. */
  mode?: number
}

const { EINVAL, ETIMEDOUT } = constants.errno

// Private construction: only this module holds the token.
const OPENED = Symbol('GuardedBuffer.opened')

/**
 * Shared bytes and the lock that guards them, under one name: the object
 * holds the lock's page, then the data. Every process that opens the name
 * gets both; `new Mutex(name)` on the same name is the same lock.
 */
export class GuardedBuffer {
  /** The data: exactly `size` bytes of the shared object, after the lock's page. */
  readonly buffer: IPCBuffer
  /** The lock that guards `buffer`. */
  readonly mutex: Mutex
  readonly #map: IPCBuffer

  /** Use GuardedBuffer.open(). */
  private constructor(token: symbol, map: IPCBuffer) {
    if (token !== OPENED) throw new TypeError('Illegal constructor: use GuardedBuffer.open()')
    this.#map = map
    this.mutex = mutexOver(map)
    this.buffer = IPCBuffer(map, map.length - HEADER_SIZE, HEADER_SIZE)
  }

  static open(name: string | number, options?: GuardedOptions): GuardedBuffer {
    const opts = check.options<GuardedOptions>(options)
    let size: number | undefined
    if (opts.size !== undefined) {
      size = check.size(opts.size, 'options.size')
      if (size > check.SIZE_MAX - HEADER_SIZE)
        throw outOfRange('options.size', `<= ${check.SIZE_MAX - HEADER_SIZE}`, size)
    }
    const create = check.create(opts.create, size !== undefined)
    if (create === 'exclusive' && size === undefined)
      throw invalidValue('options.size', opts.size, "is required to create ('exclusive')")
    const mode = check.mode(opts.mode, 'options.mode')
    // Without a size an existing object is mapped whole (one of HEADER_SIZE bytes has no data: EINVAL below).
    const map = openTyped(name, opts.kind, {
      type: 'guarded-buffer',
      accepts: ['guarded-buffer', 'mutex'],
      layout: LAYOUT,
      size: HEADER_SIZE + (size ?? 0),
      create: size === undefined && create !== false ? false : create,
      mode,
    })
    if (map.length <= HEADER_SIZE) {
      map.close()
      throw new IPCError(
        -EINVAL,
        'mmap',
        map.name,
        `the object has no data after the lock's ${HEADER_SIZE}-byte page: pass options.size`,
      )
    }
    // A Mutex's page that now has data after it is a guarded buffer.
    retype(map, 'mutex', 'guarded-buffer')
    try {
      return new GuardedBuffer(OPENED, map)
    } catch (err) {
      map.close()
      throw err
    }
  }

  /** Runs `fn(buffer)` holding the lock (waiting off the event loop); releases it however fn ends; returns its result. */
  async withLock<T>(fn: (buffer: IPCBuffer) => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    if (typeof fn !== 'function') throw invalidType('fn', 'of type function', fn)
    const release = await this.mutex.acquire(options)
    try {
      return await fn(this.buffer)
    } finally {
      release()
    }
  }

  /** Runs `fn(buffer)` holding the lock, blocking this thread to take it. */
  withLockSync<T>(fn: (buffer: IPCBuffer) => T, timeout?: number): T {
    if (typeof fn !== 'function') throw invalidType('fn', 'of type function', fn)
    if (!this.mutex.acquireSync(timeout)) throw new IPCError(-ETIMEDOUT, 'futex', this.#map.name)
    try {
      return fn(this.buffer)
    } finally {
      this.mutex.release()
    }
  }

  /** Takes the lock; resolves with a release function (or call unlock()). */
  lock(options?: AcquireOptions): Promise<() => void> {
    return this.mutex.acquire(options)
  }

  unlock(): void {
    this.mutex.release()
  }

  /** Releases the lock if held, rejects pending acquires, unmaps; `buffer` reads empty afterwards. Idempotent. */
  close(): void {
    this.mutex.close()
    this.#map.close()
  }

  /** Removes the name: the bytes and their lock. Open mappings stay usable until closed. */
  unlink(): void {
    this.#map.unlink()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}
