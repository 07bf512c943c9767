// The lock-word protocol on a lock's header page (native/mutex/lock_word.h
// defines the layout; the addon exports it). This side takes and frees the
// word without a system call, by the fast path's WebAssembly module or by
// Atomics; waiting and waking are the addon's. The Mutex (mutex.ts) keeps its
// own state and queue on top of it.
import { constants } from 'node:os'
import { IPCError, invalidValue } from './errors'
import type { WasmOps } from './fast-path/module'
import { releaseSlot, slotForBuffer, type Slot } from './fast-path/slots'
import { IPCBuffer, type OpenOptions } from './ipc-buffer'
import { mutex as native, type Handle, type OnSettled } from './native'

const { WORD, START, MAGIC, HOME_NS, HEADER_WORDS, MAGIC_VALUE, OWNER_MASK, FOREIGN } = native.LOCK
const { EINVAL } = constants.errno

/** @internal Bytes before a GuardedBuffer's data: the lock's page. */
export const HEADER_SIZE: number = native.LOCK.HEADER_SIZE

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

/** @internal The lock word at the start of `map`, as this thread writes and reads it. */
export class LockWord {
  /** The header's words (WORD, START, MAGIC, HOME_NS, ...). */
  readonly view: Int32Array
  /** Our word (thread id | FOREIGN) and start time, as written into the header. */
  readonly mine: number
  readonly start: number
  /** Outside the lock's home pid namespace: we judge no owner's liveness, and no one judges ours. */
  readonly foreign: boolean
  /** The header page aliased into the fast path's WebAssembly memory. */
  readonly #slot: Slot | undefined
  readonly #ops: WasmOps | undefined
  readonly #at: number

  /** Marks the header as a lock (or throws EINVAL if it holds something else). */
  constructor(map: IPCBuffer) {
    this.view = new Int32Array(map.buffer, map.byteOffset, HEADER_WORDS)
    const magic = Atomics.compareExchange(this.view, MAGIC, 0, MAGIC_VALUE)
    if (magic !== 0 && magic !== MAGIC_VALUE) {
      throw new IPCError(-EINVAL, 'open', map.name, 'the object exists and is not an ipc-kit lock')
    }
    const me = identity()
    // The first opener's pid namespace is the lock's home; owners outside it are
    // flagged FOREIGN and no one judges their liveness (their pids mean nothing here).
    const home = Atomics.compareExchange(this.view, HOME_NS, 0, me.pidns | 0)
    this.foreign = me.pidns === 0 || (home !== 0 && home !== (me.pidns | 0))
    this.mine = me.tid | (this.foreign ? FOREIGN : 0)
    this.start = me.start | 0
    this.#slot = slotForBuffer(this, map.buffer, map.byteOffset)
    this.#ops = this.#slot?.ops
    this.#at = (this.#slot?.at ?? 0) + 4 * WORD
  }

  /** One compare-and-swap from free to ours; the start time follows. No system call. */
  take(): boolean {
    if (this.#ops !== undefined) return this.#ops.lock(this.#at, this.mine, this.start) === 0
    const view = this.view
    if (Atomics.compareExchange(view, WORD, 0, this.mine) !== 0) return false
    // Until this store a waiter sees start 0 and presumes the owner alive.
    view[START] = this.start
    return true
  }

  /** Frees the word; returns what it held (WAITERS: someone sleeps on it, wake() them). */
  clear(): number {
    if (this.#ops !== undefined) return this.#ops.unlock(this.#at)
    const view = this.view
    view[START] = 0
    return Atomics.exchange(view, WORD, 0)
  }

  isLocked(): boolean {
    return Atomics.load(this.view, WORD) !== 0
  }

  /** The word names this very thread (a blocking wait would never end). */
  heldByThisThread(): boolean {
    const word = Atomics.load(this.view, WORD)
    const start = Atomics.load(this.view, START)
    return (word & OWNER_MASK) === (this.mine & OWNER_MASK) && (start === 0 || start === this.start)
  }

  /** Blocks this thread up to `ms` (undefined: forever); returns an OUTCOME. */
  acquireSync(ms: number | undefined): number {
    return native.acquireSync(this.view, this.mine >>> 0, this.start >>> 0, this.foreign, ms ?? -1)
  }

  /** Wakes one sleeper, after clear() returned WAITERS. */
  wake(): void {
    native.wake(this.view)
  }

  /** A waiter-engine queue of contended acquires and its source (the handoff in native/mutex/mutex_binding.h). */
  waitQueue(onSettled: OnSettled): { queue: Handle; source: Handle } {
    return native.waitQueue(this.view, this.mine >>> 0, this.start >>> 0, this.foreign, onSettled)
  }

  /** Gives the fast path's slot back (before the header is unmapped). */
  close(): void {
    if (this.#slot !== undefined) releaseSlot(this.#slot)
  }
}
