import { IPCError, closedError, invalidType, invalidValue, type Subject } from './errors'
import { IPCBuffer, type OpenOptions, type SharedKind } from './ipc-buffer'
import { mutex as native, type Handle } from './native'
import * as check from './validate'
import { WaitQueue } from './wait-queue'
import { releaseSlot, slotForBuffer, type Slot, type WasmOps } from './wasm-atomics'

export interface MutexOptions {
  /** Where the lock lives: 'posix' (default for a string), 'file' (a path) or 'sysv' (default for a number). */
  kind?: SharedKind
  /** true (default): open or create; 'exclusive': EEXIST if present; false: ENOENT if absent. */
  create?: boolean | 'exclusive'
  /** Permission bits of a created lock. Default 0o600. */
  mode?: number
}

export interface AcquireOptions {
  /** ms; undefined waits forever, 0 is a try. Rejects with IPCError 'ETIMEDOUT'. */
  timeout?: number
  /** Aborting rejects the acquire with `signal.reason`. */
  signal?: AbortSignal
}

// The lock's header page (native/mutex/lock_word.h).
const { WORD, START, MAGIC, HOME_NS, HEADER_WORDS, MAGIC_VALUE, OWNER_MASK, FOREIGN, WAITERS } = native.LOCK
const { NOT_ACQUIRED, OWNER_DIED } = native.OUTCOME
/** Bytes before a GuardedBuffer's data: the lock's page. */
export const HEADER_SIZE: number = native.LOCK.HEADER_SIZE

// Mutex#state bits.
const HELD = 1 // this object holds the lock
const QUEUED = 2 // acquires of this object wait in its queue
const CLOSED = 4
const DIED = 8 // the hold was taken over from a dead holder

const ETIMEDOUT = -110
const EDEADLK = -35
const EINVAL = -22

/** Who this JavaScript thread is in a lock word: its thread id and start time. */
interface Identity {
  tid: number
  start: number
  pidns: number
}
let self: Identity | undefined

function identity(): Identity {
  if (self === undefined) {
    const [tid, start, pidns] = native.identity()
    self = { tid, start, pidns }
  }
  return self
}

/**
 * @internal Opens the shared object a lock (or a GuardedBuffer) lives in:
 * `kind` defaults to 'posix' for a string name and 'sysv' for a number.
 */
export function openNamed(name: unknown, kind: unknown, open: OpenOptions): IPCBuffer {
  kind ??= typeof name === 'number' ? 'sysv' : 'posix'
  if (kind === 'posix') return IPCBuffer.posix(name as string, open)
  if (kind === 'file') return IPCBuffer.file(name as string, open)
  if (kind === 'sysv') return IPCBuffer.sysv(name as number, open)
  throw invalidValue('options.kind', kind, "must be 'posix', 'file' or 'sysv'")
}

/** Maps the name's header page: what `new Mutex(name)` does. */
function openHeader(name: unknown, raw: unknown): IPCBuffer {
  const opts = check.options<MutexOptions>(raw)
  const create = check.create(opts.create, true)
  const mode = check.mode(opts.mode, 'options.mode')
  // A size of one page never shrinks an existing object (a GuardedBuffer's, say): it maps its header.
  return openNamed(name, opts.kind, { size: HEADER_SIZE, create, mode })
}

/** A mapping someone else opened (a GuardedBuffer): the Mutex uses its first page. */
class Adopted {
  constructor(readonly map: IPCBuffer) {}
}

/** @internal Makes a Mutex over the first page of `map`, which stays the caller's to close. */
export function mutexOver(map: IPCBuffer): Mutex {
  return new Mutex(new Adopted(map) as unknown as string)
}

interface Waiter {
  resolve(release: () => void): void
  reject(reason: unknown): void
  /** performance.now() deadline; Infinity: none. */
  deadline: number
  signal?: AbortSignal
  onAbort?: () => void
  timer?: NodeJS.Timeout
  /** Aborts the contended wait while this waiter is at the head. */
  active?: AbortController
}

/**
 * A lock shared by every process (and thread) that opens its name, with the
 * API of async-mutex. If its holder dies, the next waiter takes it over and
 * sees `ownerDied === true`.
 */
export class Mutex {
  readonly #map: IPCBuffer
  readonly #owned: boolean
  readonly #view: Int32Array
  readonly #subject: Subject
  /** Our word (thread id | FOREIGN) and start time, as written into the header. */
  readonly #mine: number
  readonly #start: number
  readonly #foreign: boolean
  /** HELD | QUEUED | CLOSED | DIED; 0: the fast paths may take the lock. */
  #state = 0
  readonly #queue: Waiter[] = []
  /** Contended acquires, on the waiter engine's thread: a wait resolves ACQUIRED or OWNER_DIED. */
  #contended: WaitQueue | undefined
  /** The native side of #contended (the handoff in native/mutex/mutex_binding.h). */
  #source: Handle | undefined
  /** The header page aliased into WebAssembly memory (lib/wasm-atomics.ts): the fast paths' lock word. */
  readonly #slot: Slot | undefined
  readonly #ops: WasmOps | undefined
  readonly #at: number

  constructor(name: string | number, options?: MutexOptions) {
    let map: IPCBuffer
    if ((name as unknown) instanceof Adopted) {
      map = (name as unknown as Adopted).map
      this.#owned = false
    } else {
      map = openHeader(name, options)
      this.#owned = true
    }
    this.#map = map
    this.#subject = map.name
    this.#view = new Int32Array(map.buffer, map.byteOffset, HEADER_WORDS)
    const magic = Atomics.compareExchange(this.#view, MAGIC, 0, MAGIC_VALUE)
    if (magic !== 0 && magic !== MAGIC_VALUE) {
      if (this.#owned) map.close()
      throw new IPCError(EINVAL, 'open', this.#subject, 'the object exists and is not an ipc-kit lock')
    }
    const me = identity()
    // The first opener's pid namespace is the lock's home; owners outside it are
    // flagged FOREIGN and no one judges their liveness (their pids mean nothing here).
    const home = Atomics.compareExchange(this.#view, HOME_NS, 0, me.pidns | 0)
    this.#foreign = me.pidns === 0 || (home !== 0 && home !== (me.pidns | 0))
    this.#mine = me.tid | (this.#foreign ? FOREIGN : 0)
    this.#start = me.start | 0
    this.#slot = slotForBuffer(this, map.buffer, map.byteOffset)
    this.#ops = this.#slot?.ops
    this.#at = this.#slot?.at ?? 0
  }

  /** true while this Mutex holds the lock after taking it from an owner that died. */
  get ownerDied(): boolean {
    return (this.#state & (HELD | DIED)) === (HELD | DIED)
  }

  /** Whether any process (this one included) holds the lock. */
  isLocked(): boolean {
    this.#check()
    return Atomics.load(this.#view, WORD) !== 0
  }

  /** Takes the lock if it is free and no acquire of this Mutex is waiting. No system call. */
  tryAcquire(): boolean {
    if (this.#state === 0) return this.#take()
    this.#check()
    return false
  }

  /**
   * Takes the lock, blocking this thread up to `timeout` ms (undefined: forever;
   * 0: a try). false on timeout. Uncontended, it makes no system call.
   */
  acquireSync(timeout?: number): boolean {
    // The uncontended path first: one compare-and-swap, no call into the addon.
    if (this.#state === 0 && timeout === undefined && this.#take()) return true
    return this.#acquireSyncSlow(timeout)
  }

  #acquireSyncSlow(timeout: unknown): boolean {
    const ms = check.timeout(timeout)
    this.#check()
    if (this.#state !== 0) {
      if (ms === 0) return false
      // Blocking here would stop the event loop that must release it.
      throw new IPCError(EDEADLK, 'futex', this.#subject)
    }
    if (this.#take()) return true
    if (ms === 0) return false
    if (this.#heldByThisThread()) throw new IPCError(EDEADLK, 'futex', this.#subject)
    const got = native.acquireSync(this.#view, this.#mine >>> 0, this.#start >>> 0, this.#foreign, ms ?? -1)
    if (got === NOT_ACQUIRED) return false
    this.#state = got === OWNER_DIED ? HELD | DIED : HELD
    return true
  }

  /**
   * Resolves with a release function once the lock is ours. Acquires of one
   * process are served in order; waiting happens off the JavaScript thread.
   */
  acquire(options?: AcquireOptions): Promise<() => void> {
    let ms: number | undefined
    let signal: AbortSignal | undefined
    try {
      const opts = check.options<AcquireOptions>(options)
      ms = check.timeout(opts.timeout, 'options.timeout')
      signal = check.abortSignal(opts.signal)
      this.#check()
    } catch (err) {
      return Promise.reject(err)
    }
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (this.#state === 0 && this.#take()) return Promise.resolve(this.#releaser())
    if (ms === 0) return Promise.reject(this.#timedOut())
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, deadline: ms === undefined ? Infinity : performance.now() + ms, signal }
      if (ms !== undefined) waiter.timer = setTimeout(() => this.#drop(waiter, this.#timedOut()), ms)
      if (signal !== undefined) {
        waiter.onAbort = () => this.#drop(waiter, signal.reason)
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      this.#queue.push(waiter)
      this.#state |= QUEUED
      if (this.#queue.length === 1 && (this.#state & HELD) === 0) this.#serve()
    })
  }

  /** Runs `fn` holding the lock; releases it however `fn` ends, and returns its result. */
  async runExclusive<T>(fn: () => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    if (typeof fn !== 'function') throw invalidType('fn', 'of type function', fn)
    const release = await this.acquire(options)
    try {
      return await fn()
    } finally {
      release()
    }
  }

  /** Releases the lock if this Mutex holds it; otherwise does nothing. */
  release(): void {
    if (this.#state !== HELD) return this.#releaseHeld()
    // The common case: held, nothing queued, nobody sleeping.
    const word = this.#clear()
    this.#state = 0
    if (word !== this.#mine) this.#afterRelease(word)
  }

  #releaseHeld(): void {
    if ((this.#state & HELD) === 0) return
    const word = this.#clear()
    this.#state &= ~(HELD | DIED)
    this.#afterRelease(word)
  }

  /** Frees the lock word; returns what it held (WAITERS: someone sleeps on it). */
  #clear(): number {
    if (this.#ops !== undefined) return this.#ops.unlock(this.#at)
    const view = this.#view
    view[START] = 0
    return Atomics.exchange(view, WORD, 0)
  }

  #afterRelease(word: number): void {
    if (word & WAITERS) native.wake(this.#view)
    if (this.#queue.length > 0) this.#serve()
  }

  /** Rejects this process's pending acquires of this Mutex (code 'ERR_IPC_CANCELED'). */
  cancel(): void {
    for (const waiter of this.#queue.slice()) this.#drop(waiter, canceledError())
  }

  /**
   * Rejects pending acquires, releases the lock if held, and unmaps. Later
   * calls throw ERR_IPC_CLOSED. Idempotent. The lock's name stays (see unlink).
   */
  close(): void {
    if (this.#state & CLOSED) return
    for (const waiter of this.#queue.slice()) this.#drop(waiter, closedError('Mutex'))
    this.#contended?.close(() => closedError('Mutex'))
    this.#contended = undefined
    // The waiter thread may still be inside an attempt on our mapping: wait it out.
    if (this.#source !== undefined) native.retire(this.#source)
    this.release()
    this.#state |= CLOSED
    if (this.#slot !== undefined) releaseSlot(this.#slot)
    if (this.#owned) this.#map.close()
  }

  /** Removes the lock's name; processes that have it open keep using it. */
  unlink(): void {
    this.#map.unlink()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  #check(): void {
    if (this.#state & CLOSED) throw closedError('Mutex')
  }

  /** The uncontended path: one compare-and-swap on the shared word. */
  #take(): boolean {
    if (this.#ops !== undefined) {
      if (this.#ops.lock(this.#at, this.#mine, this.#start) !== 0) return false
    } else {
      const view = this.#view
      if (Atomics.compareExchange(view, WORD, 0, this.#mine) !== 0) return false
      // Until this store a waiter sees start 0 and presumes the owner alive.
      view[START] = this.#start
    }
    this.#state |= HELD
    return true
  }

  #heldByThisThread(): boolean {
    const word = Atomics.load(this.#view, WORD)
    const start = Atomics.load(this.#view, START)
    return (word & OWNER_MASK) === (this.#mine & OWNER_MASK) && (start === 0 || start === this.#start)
  }

  #releaser(): () => void {
    let done = false
    return () => {
      if (done) return
      done = true
      this.release()
    }
  }

  #timedOut(): IPCError {
    return new IPCError(ETIMEDOUT, 'futex', this.#subject)
  }

  /** Settles `waiter` with `reason` and takes it out of the queue. */
  #drop(waiter: Waiter, reason: unknown): void {
    const index = this.#queue.indexOf(waiter)
    if (index < 0) return
    if (waiter.active !== undefined) {
      // At the head, in a contended wait: aborting it settles the waiter (or
      // loses the race to an acquire, and then the waiter gets the lock).
      waiter.active.abort(reason)
      return
    }
    this.#queue.splice(index, 1)
    this.#settled(waiter)
    waiter.reject(reason)
  }

  /** `waiter` has left the queue: stop its timer and abort listener. */
  #settled(waiter: Waiter): void {
    if (this.#queue.length === 0) this.#state &= ~QUEUED
    if (waiter.timer !== undefined) clearTimeout(waiter.timer)
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener('abort', waiter.onAbort)
  }

  /** Gives the lock to the first waiter: now if it is free, else after a wait off this thread. */
  #serve(): void {
    const head = this.#queue[0]
    if (head === undefined || this.#state & HELD || head.active !== undefined) return
    if (this.#take()) {
      this.#queue.shift()
      this.#settled(head)
      head.resolve(this.#releaser())
      return
    }
    const active = new AbortController()
    head.active = active
    const left = head.deadline === Infinity ? undefined : Math.max(0, head.deadline - performance.now())
    let waiting: Promise<number>
    try {
      this.#contended ??= this.#openContended()
      if (this.#source !== undefined) native.resume(this.#source)
      waiting = this.#contended.wait(left, active.signal)
    } catch (err) {
      waiting = Promise.reject(err) // e.g. no thread could be started: this waiter fails, the next tries again
    }
    waiting.then(
      (got) => {
        head.active = undefined
        if (this.#state & CLOSED) return // close() gave the lock back (retire)
        native.delivered(this.#source!)
        this.#state = (this.#state & ~DIED) | HELD | (got === OWNER_DIED ? DIED : 0)
        if (this.#queue[0] === head) {
          this.#queue.shift()
          this.#settled(head)
          head.resolve(this.#releaser())
        } else {
          this.release() // closed meanwhile
        }
      },
      (err) => {
        head.active = undefined
        if (this.#queue[0] === head) {
          this.#queue.shift()
          this.#settled(head)
          head.reject(err instanceof IPCError && err.errno === ETIMEDOUT ? this.#timedOut() : err)
        }
        if (this.#state & CLOSED) return
        this.#serve()
        // No wait follows: the waiter thread's attempt in progress must not take the lock for nobody.
        if (this.#queue[0]?.active === undefined && this.#source !== undefined) native.interrupt(this.#source)
      },
    )
  }

  #openContended(): WaitQueue {
    return new WaitQueue({
      open: (onSettled) => {
        const { queue, source } = native.waitQueue(this.#view, this.#mine >>> 0, this.#start >>> 0, this.#foreign, onSettled)
        this.#source = source
        return queue
      },
      timedOut: () => this.#timedOut(),
      failed: (errno) => new IPCError(-errno, 'futex', this.#subject),
    })
  }
}

/** An acquire rejected by cancel(). */
function canceledError(): Error {
  const err = new Error('the acquire was canceled') as Error & { code: string }
  err.code = 'ERR_IPC_CANCELED'
  return err
}
