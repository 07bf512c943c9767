// One side of a Channel (its senders or its receivers): the side's lock, the
// event word its members sleep on, and this object's queue of pending
// asynchronous operations.
import { constants } from 'node:os'
import { IPCError } from './errors'
import type { IPCBuffer } from './ipc-buffer'
import { mutexOver, type Mutex } from './mutex'
import { wait as words, type Handle } from './native'
import type { Pending } from './pending'
import { WaitQueue } from './wait-queue'

/** A pending asynchronous operation of this object (send, reserve, receive). */
export interface Op {
  readonly kind: number
  /** Sends: the record type and payload (bytes, or text whose UTF-8 length is `length`); reserve: `length`. */
  type: number
  data: Uint8Array | string
  length: number
  /** Its promise, deadline and abort listener. */
  pending: Pending<unknown>
  /** Aborts what this op waits for (the lock, or the event word) when it ends; undefined when only close() can end it. */
  readonly cancel: AbortController | undefined
  done: boolean
}

const INT32_MAX = 0x7fffffff
const { ETIMEDOUT } = constants.errno
const { CHANGED } = words.WORD

export class Side {
  /** Taken synchronously only (tryAcquire, acquireSync): never has a queue of its own. */
  readonly lock: Mutex
  /** The same lock for waits off the event loop; a second object, so its queue never blocks `lock`. */
  #asyncLock: Mutex | undefined
  readonly #page: IPCBuffer
  readonly #h: Int32Array
  readonly #event: number
  readonly #sleepers: number
  readonly #subject: string | number | undefined
  /** Pending asynchronous operations of this object, oldest first. */
  readonly ops: Op[] = []
  /** A pump is serving `ops`. */
  running = false
  /** How long the pump looks again on the event loop before sleeping, in ms (Channel adapts it). */
  pollMs = 0
  /** Waits that did not poll since polling last stopped paying. */
  pollSkipped = 0
  /** The lock stays held by this object past a call: a reserved slot or a received view (see hold()). */
  held: Mutex | undefined
  #queue: WaitQueue | undefined
  #source: Handle | undefined
  /** The value the next wait sleeps on. */
  #expected = 0
  /** The lock words (in #locks, at #guards) under which every change this side sleeps for is made, and their holders' parked words. */
  readonly #locks: Int32Array
  readonly #guards: number[]
  readonly #guardsParked: number[]
  /** This side's parked word (in the header): 1 while `held` is set. */
  readonly #parked: number

  /**
   * `locks` views both lock pages (from the header's start); `guards` are the
   * indices in it of the locks held by whoever changes this side's event word
   * (the wake-up's guards), `guardsParked` those of their holders' parked
   * words, and `parked` is this side's own.
   */
  constructor(
    page: IPCBuffer,
    header: Int32Array,
    event: number,
    sleepers: number,
    parked: number,
    locks: Int32Array,
    guards: number[],
    guardsParked: number[],
  ) {
    this.#page = page
    this.#h = header
    this.#event = event
    this.#sleepers = sleepers
    this.#parked = parked
    this.#subject = page.name
    this.#locks = locks
    this.#guards = guards
    this.#guardsParked = guardsParked
    this.lock = mutexOver(page)
  }

  /**
   * Keeps `lock` (this side's, held) past the call, for a reserved slot or a
   * received view, and parks: sleepers of either side need not wait for this
   * lock while the word says so, as its holder changes nothing before unhold().
   */
  hold(lock: Mutex): void {
    this.held = lock
    Atomics.store(this.#h, this.#parked, 1)
  }

  /** Ends hold() (the lock stays held): call it before changing the ring. */
  unhold(): void {
    if (this.held === undefined) return // ended by close()
    Atomics.store(this.#h, this.#parked, 0)
    this.held = undefined
  }

  /** Whether this side's lock holder (in any process) has parked. */
  get parked(): boolean {
    return Atomics.load(this.#h, this.#parked) !== 0
  }

  /** After taking the lock over from a holder that died: its parked word no longer speaks for the holder. */
  tookOver(): void {
    Atomics.store(this.#h, this.#parked, 0)
  }

  /** Takes the lock, waiting off the event loop; resolves with the Mutex object that holds it. */
  async lockAsync(signal: AbortSignal | undefined): Promise<Mutex> {
    this.#asyncLock ??= mutexOver(this.#page)
    await this.#asyncLock.acquire({ signal })
    return this.#asyncLock
  }

  /**
   * The event word's value now, to sleep on: the caller checks its condition
   * afterwards, and any change after this read ends the sleep.
   */
  observe(): number {
    return Atomics.load(this.#h, this.#event)
  }

  /**
   * After a change this side's sleepers wait for: counts it in the event word
   * (+2) and, if a sleeper announced itself (bit 0), clears the bit and wakes.
   */
  changed(): void {
    const h = this.#h
    const old = Atomics.add(h, this.#event, 2)
    if ((old & 1) === 0) return
    Atomics.compareExchange(h, this.#event, old + 2, (old + 2) & ~1)
    words.wordWake(h, this.#event, INT32_MAX)
  }

  /**
   * Before a change this side's sleepers wait for (under the lock that guards
   * their sleep): wakes them now if one announced itself, so that a changer
   * killed between its change and changed() has woken them already. One load
   * when nobody sleeps.
   */
  beforeChange(): void {
    if ((Atomics.load(this.#h, this.#event) & 1) !== 0) this.changed()
  }

  /** Wakes every sleeper (seal, or a lock taken over from a holder that died, which may owe a wake-up). */
  wakeAll(): void {
    Atomics.add(this.#h, this.#event, 2)
    words.wordWake(this.#h, this.#event, INT32_MAX)
  }

  /**
   * Blocks this thread until the event word (bit 0 aside) leaves `value` or
   * `ms` pass (Infinity: no limit), unless (`guarded`) a guard is held after
   * the announcement: then returns WORD.GUARDED at once, and the caller waits
   * for that lock (whose holder's death the Mutex reports) instead.
   */
  sleepSync(value: number, ms: number, guarded: boolean): number {
    const h = this.#h
    Atomics.add(h, this.#sleepers, 1)
    try {
      const limit = ms === Infinity ? -1 : ms
      return guarded
        ? words.wordWaitSync(h, this.#event, value, limit, this.#locks, this.#guards, this.#guardsParked)
        : words.wordWaitSync(h, this.#event, value, limit)
    } finally {
      Atomics.sub(h, this.#sleepers, 1)
    }
  }

  /**
   * Resolves when the event word (bit 0 aside) leaves `value` or `signal`
   * aborts (WORD.CHANGED: look again), or with WORD.GUARDED as sleepSync. Never rejects.
   */
  async sleep(value: number, signal: AbortSignal | undefined): Promise<number> {
    const h = this.#h
    this.#queue ??= this.#openQueue()
    this.#expected = value
    // The native queue opens with the first wait, and then takes #expected.
    if (this.#source !== undefined) words.wordExpect(this.#source, value)
    Atomics.add(h, this.#sleepers, 1)
    try {
      return await this.#queue.wait(undefined, signal)
    } catch {
      return CHANGED // aborted: the caller settles its op
    } finally {
      Atomics.sub(h, this.#sleepers, 1)
    }
  }

  /** Members of this side asleep now, in every process (advisory: one killed asleep stays counted). */
  get sleeping(): number {
    return Atomics.load(this.#h, this.#sleepers)
  }

  /** Stops every wait of this object; after it, nothing touches the mapping on this side's behalf. */
  close(reason: () => Error): void {
    this.#queue?.close(reason)
    this.#queue = undefined
    this.#source = undefined
    const held = this.held
    if (held !== undefined) {
      this.unhold()
      held.release()
    }
    this.#asyncLock?.close()
    this.lock.close()
  }

  #openQueue(): WaitQueue {
    return new WaitQueue({
      open: (onSettled) => {
        const { queue, source } = words.wordQueue(
          this.#h,
          this.#event,
          onSettled,
          this.#locks,
          this.#guards,
          this.#guardsParked,
        )
        this.#source = source
        words.wordExpect(source, this.#expected)
        return queue
      },
      timedOut: () => new IPCError(-ETIMEDOUT, 'futex', this.#subject),
      failed: (errno) => new IPCError(-errno, 'futex', this.#subject),
    })
  }
}
