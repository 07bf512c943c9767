import { constants } from 'node:os'
import { IPCError, closedError, invalidType, type Subject } from './errors'
import type { IPCBuffer, SharedKind } from './ipc-buffer'
import { openTyped } from './descriptor'
import { HEADER_SIZE, LockWord } from './lock-word'
import { mutex as native, type Handle } from './native'
import { Pending } from './pending'
import * as check from './validate'
import { WaitQueue, type WaitHandle } from './wait-queue'

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

const { WAITERS } = native.LOCK
/** @internal The layout version of a Mutex's (and a GuardedBuffer's) header page. */
export const LAYOUT = 1
const { NOT_ACQUIRED, OWNER_DIED } = native.OUTCOME
const { ETIMEDOUT, EDEADLK } = constants.errno

// Mutex#state bits.
const HELD = 1 // this object holds the lock
const QUEUED = 2 // acquires of this object wait in its queue
const CLOSED = 4
const DIED = 8 // the hold was taken over from a dead holder

/** Maps the name's header page: what `new Mutex(name)` does. */
function openHeader(name: unknown, raw: unknown): IPCBuffer {
  const opts = check.options<MutexOptions>(raw)
  const create = check.create(opts.create, true)
  const mode = check.mode(opts.mode, 'options.mode')
  // An existing object is checked before anything is written (a GuardedBuffer's lock is a Mutex too).
  return openTyped(name, opts.kind, {
    type: 'mutex',
    accepts: ['mutex', 'guarded-buffer'],
    layout: LAYOUT,
    size: HEADER_SIZE,
    create,
    mode,
  })
}

// Private construction: only this module holds the token.
const ADOPT = Symbol('Mutex.adopt')

/** @internal Makes a Mutex over the first page of `map`, which stays the caller's to close. */
export function mutexOver(map: IPCBuffer): Mutex {
  return Reflect.construct(Mutex, [ADOPT, map]) as Mutex
}

/** An acquire waiting in this Mutex's queue. */
interface Waiter {
  readonly pending: Pending<() => void>
  /** Cancels the contended wait while this waiter is at the head. */
  active?: WaitHandle
}

/**
 * A lock shared by every process (and thread) that opens its name, with the
 * API of async-mutex. If its holder dies, the next waiter takes it over and
 * sees `ownerDied === true`.
 */
export class Mutex {
  readonly #map: IPCBuffer
  readonly #owned: boolean
  readonly #lock: LockWord
  readonly #subject: Subject
  /** HELD | QUEUED | CLOSED | DIED; 0: the fast paths may take the lock. */
  #state = 0
  readonly #queue: Waiter[] = []
  /** Contended acquires, on the waiter engine's thread: a wait resolves ACQUIRED or OWNER_DIED. */
  #contended: WaitQueue | undefined
  /** The native side of #contended (the handoff in native/mutex/mutex_binding.h). */
  #source: Handle | undefined

  constructor(name: string | number, options?: MutexOptions)
  constructor(first: unknown, second?: unknown) {
    const owned = first !== ADOPT
    const map = owned ? openHeader(first, second) : (second as IPCBuffer)
    try {
      this.#lock = new LockWord(map)
    } catch (err) {
      if (owned) map.close()
      throw err
    }
    this.#map = map
    this.#owned = owned
    this.#subject = map.name
  }

  /** true while this Mutex holds the lock after taking it from an owner that died. */
  get ownerDied(): boolean {
    return (this.#state & (HELD | DIED)) === (HELD | DIED)
  }

  /** Whether any process (this one included) holds the lock. */
  isLocked(): boolean {
    this.#check()
    return this.#lock.isLocked()
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
      throw new IPCError(-EDEADLK, 'futex', this.#subject)
    }
    if (this.#take()) return true
    if (ms === 0) return false
    if (this.#lock.heldByThisThread()) throw new IPCError(-EDEADLK, 'futex', this.#subject)
    const got = this.#lock.acquireSync(ms)
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
      const waiter: Waiter = {
        pending: new Pending(resolve, reject, {
          timeout: ms,
          signal,
          onTimeout: () => this.#drop(waiter, this.#timedOut()),
          onAbort: () => this.#drop(waiter, signal!.reason),
        }),
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
    const word = this.#lock.clear()
    this.#state = 0
    if (word !== this.#lock.mine) this.#afterRelease(word)
  }

  #releaseHeld(): void {
    if ((this.#state & HELD) === 0) return
    const word = this.#lock.clear()
    this.#state &= ~(HELD | DIED)
    this.#afterRelease(word)
  }

  #afterRelease(word: number): void {
    if (word & WAITERS) this.#lock.wake()
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
    // A lock the waiter engine took for a wait we never received goes back.
    if (this.#source !== undefined) native.retire(this.#source)
    this.release()
    this.#state |= CLOSED
    this.#lock.close()
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
    if (!this.#lock.take()) return false
    this.#state |= HELD
    return true
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
    return new IPCError(-ETIMEDOUT, 'futex', this.#subject)
  }

  /** Settles `waiter` with `reason` and takes it out of the queue. */
  #drop(waiter: Waiter, reason: unknown): void {
    const index = this.#queue.indexOf(waiter)
    if (index < 0) return
    if (waiter.active !== undefined) {
      // At the head, in a contended wait: aborting it settles the waiter (or
      // loses the race to an acquire, and then the waiter gets the lock).
      waiter.active.cancel?.(reason)
      return
    }
    this.#queue.splice(index, 1)
    this.#dequeued()
    waiter.pending.reject(reason)
  }

  /** A waiter has left the queue. */
  #dequeued(): void {
    if (this.#queue.length === 0) this.#state &= ~QUEUED
  }

  /** Gives the lock to the first waiter: now if it is free, else after a wait off this thread. */
  #serve(): void {
    const head = this.#queue[0]
    if (head === undefined || this.#state & HELD || head.active !== undefined) return
    if (this.#take()) {
      this.#queue.shift()
      this.#dequeued()
      head.pending.resolve(this.#releaser())
      return
    }
    const active: WaitHandle = {}
    head.active = active
    let waiting: Promise<number>
    try {
      this.#contended ??= this.#openContended()
      waiting = this.#contended.wait(head.pending.left(), undefined, active)
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
          this.#dequeued()
          head.pending.resolve(this.#releaser())
        } else {
          this.release() // closed meanwhile
        }
      },
      (err) => {
        head.active = undefined
        if (this.#queue[0] === head) {
          this.#queue.shift()
          this.#dequeued()
          head.pending.reject(err instanceof IPCError && err.errno === -ETIMEDOUT ? this.#timedOut() : err)
        }
        if (this.#state & CLOSED) return
        this.#serve()
      },
    )
  }

  #openContended(): WaitQueue {
    return new WaitQueue({
      open: (onSettled) => {
        const { queue, source } = this.#lock.waitQueue(onSettled)
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
