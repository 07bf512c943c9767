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

const { WORD, START, OWNER_NS, MAGIC, HEADER_WORDS, MAGIC_VALUE, OWNER_MASK } = native.LOCK
const { EINVAL } = constants.errno

/** @internal Bytes before a GuardedBuffer's data: the lock's page. */
export const HEADER_SIZE: number = native.LOCK.HEADER_SIZE

// x86 makes stores visible in program order: a plain store of the start stamp
// follows the tag's. Elsewhere it is an atomic (release) store.
const STORES_IN_ORDER = process.arch === 'x64' || process.arch === 'ia32'

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
  /** The header's words (WORD, START, MAGIC, OWNER_NS, ...). */
  readonly view: Int32Array
  /** Our word (thread id | FOREIGN) and start stamp (start time mixed with the pid namespace), as written into the header. */
  readonly mine: number
  readonly start: number
  /** Our tag: pid namespace | HAS_TOKEN (native/mutex/lock_word.h), written between the word and the start stamp. */
  readonly tag: number
  /** This thread as the addon knows it, with its liveness token on the object. */
  readonly #taker: Handle
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
    // A token needs the object's file: POSIX shm and files have one, System V segments not.
    const path = map.kind === 'posix' || map.kind === 'file' ? (map.name as string) : undefined
    const [taker, mine, start, tag] = native.taker(this.view, path, map.kind === 'posix')
    this.#taker = taker
    this.mine = mine | 0
    this.start = start | 0
    this.tag = tag | 0
    this.#slot = slotForBuffer(this, map)
    this.#ops = this.#slot?.ops
    this.#at = (this.#slot?.at ?? 0) + 4 * WORD
  }

  /** One compare-and-swap from free to ours; the tag and start stamp follow. No system call. */
  take(): boolean {
    if (this.#ops !== undefined) return this.#ops.lock(this.#at, this.mine, this.start, this.tag) === 0
    const view = this.view
    if (Atomics.compareExchange(view, WORD, 0, this.mine) !== 0) return false
    // Until the start stamp is there a waiter presumes the owner alive; then it reads our tag.
    view[OWNER_NS] = this.tag
    if (STORES_IN_ORDER) view[START] = this.start
    else Atomics.store(view, START, this.start)
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
    // Our takes are complete (start written): a start of 0 is another thread's take in
    // progress, maybe with our id in another pid namespace; the tag tells namespaces apart.
    if ((word & OWNER_MASK) !== (this.mine & OWNER_MASK) || start !== this.start) return false
    return Atomics.load(this.view, OWNER_NS) === this.tag
  }

  /** Blocks this thread up to `ms` (undefined: forever); returns an OUTCOME. */
  acquireSync(ms: number | undefined): number {
    return native.acquireSync(this.view, this.#taker, ms ?? -1)
  }

  /** Wakes one sleeper, after clear() returned WAITERS. */
  wake(): void {
    native.wake(this.view)
  }

  /** A waiter-engine queue of contended acquires and its source (the handoff in native/mutex/mutex_binding.h). */
  waitQueue(onSettled: OnSettled): { queue: Handle; source: Handle } {
    return native.waitQueue(this.view, this.#taker, onSettled)
  }

  /** Gives the token and the fast path's slot back (after the waiter thread retired, before the header is unmapped). */
  close(): void {
    native.dropToken(this.#taker)
    if (this.#slot !== undefined) releaseSlot(this.#slot)
  }
}
