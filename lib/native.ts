// Loads the addon (a prebuild or the local build) and nothing else.
import { join } from 'node:path'
import { makeSystemError } from './errors'

/** @internal An opaque native handle. */
export type Handle = { readonly __brand: 'native handle' }

/** @internal */
export interface Mapped {
  buffer: Buffer
  handle: Handle
  /** The object's own size, which may exceed the mapped length. */
  size: number
  created: boolean
  /** System V segment id (-1 for the other kinds). */
  id: number
}

/** @internal The codes `open` takes (native/common/open_codes.h). */
export interface OpenCodes {
  readonly CREATE: number
  readonly EXCLUSIVE: number
}

/** @internal */
export interface ShmBinding {
  readonly PAGE_SIZE: number
  /** How long an open that must grow an object waits for another process's flock on it. */
  readonly LOCK_WAIT_MS: number
  readonly KIND: { readonly posix: number; readonly file: number; readonly sysv: number }
  readonly OPEN: OpenCodes & { readonly READONLY: number }
  open(kind: number, id: string | number, flags: number, mode: number, size: number): Mapped
  close(handle: Handle, buffer: ArrayBuffer): boolean
  detach(buffer: ArrayBuffer): void
  /** A new ArrayBuffer over `length` bytes of `buffer` from `offset`, which detach() empties alone; it keeps `buffer` alive. */
  window(buffer: ArrayBuffer, offset: number, length: number): ArrayBuffer
  flush(handle: Handle, subject: string | number): void
  flushAsync(handle: Handle, subject: string | number): Promise<void>
  unlink(kind: number, id: string | number): void
  removeSysv(shmid: number, key: number): void
  exists(kind: number, id: string | number): boolean
  /** Maps the pages of mapping `handle` from `sourceOffset` over `target`+`targetOffset` (page-aligned). */
  aliasInto(handle: Handle, sourceOffset: number, target: ArrayBuffer, targetOffset: number, length: number): void
  /** Private zero pages at `target`+`targetOffset` again. */
  unalias(target: ArrayBuffer, targetOffset: number, length: number): void
}

/** @internal The waiter engine's generic queue operations (native/wait/waiter.h): the `wait` namespace. */
export interface WaitBinding {
  /** Queues a wait; timeoutMs < 0 waits forever. Returns its id. */
  add(queue: Handle, timeoutMs: number): number
  /** true: the wait was still queued and will never settle. */
  cancel(queue: Handle, id: number): boolean
  /**
   * Blocks while view[index] (bit 0 aside) === expected, up to timeoutMs (< 0: forever).
   * With guards (lock words in `guards` at `indices`, at most two), does not
   * sleep while one is held, unless its holder parked (its word at the same
   * place of `parked` reads 1; -1: none). Returns a WORD outcome.
   */
  wordWaitSync(
    view: Int32Array,
    index: number,
    expected: number,
    timeoutMs: number,
    guards?: Int32Array,
    indices?: number[],
    parked?: number[],
  ): number
  /** Wakes up to `count` threads (of any process) waiting on view[index]; returns how many. */
  wordWake(view: Int32Array, index: number, count: number): number
  /**
   * A queue of waits that settle once view[index] differs from the value given
   * to wordExpect (value WORD.CHANGED), or, with guards, once one is held
   * when the wait would sleep (WORD.GUARDED).
   */
  wordQueue(
    view: Int32Array,
    index: number,
    onSettled: OnSettled,
    guards?: Int32Array,
    indices?: number[],
    parked?: number[],
  ): { queue: Handle; source: Handle }
  wordExpect(source: Handle, value: number): void
  /** Stops the queue; returns the ids of the waits that will never settle. */
  close(queue: Handle): number[]
  /** Tells the engine's threads about the cancel and close calls made since the last call; true: call again later (a thread could not be told yet). */
  notify(): boolean
  /** Futex sources share threads (futex_waitv); false: one thread per source (IPC_KIT_FUTEX_WAITV=0 or an older kernel). */
  readonly SHARED_THREADS: boolean
  /** Futex words one thread sleeps on. */
  readonly GROUP_WORDS: number
  /** Outcomes of a word wait (native/wait/word_wait_binding.cc). */
  readonly WORD: { readonly TIMED_OUT: number; readonly CHANGED: number; readonly GUARDED: number }
}

/** @internal Called on the JavaScript thread as each wait of a queue settles: err 0 (value from the attempt) or a positive errno. */
export type OnSettled = (id: number, err: number, value: number) => void

/** @internal */
export interface SemOpened {
  handle: Handle
  created: boolean
  /** System V set id (-1 for POSIX). */
  id: number
}

/** @internal */
export interface SemBinding {
  readonly SEM_VALUE_MAX: number
  readonly SEMVMX: number
  readonly KIND: { readonly posix: number; readonly sysv: number }
  readonly OPEN: OpenCodes
  open(kind: number, id: string | number, flags: number, mode: number, initial: number, undo: boolean): SemOpened
  close(handle: Handle): void
  waitSync(handle: Handle, timeoutMs: number, subject: string | number): boolean
  tryWait(handle: Handle, subject: string | number): boolean
  post(handle: Handle, count: number, subject: string | number): void
  value(handle: Handle, subject: string | number): number
  unlink(kind: number, id: string | number): void
  removeSysv(semid: number, key: number): void
  /** glibc's sem_t layout was recognised: the fast path may work on the semaphore's memory. */
  readonly POSIX_LAYOUT_KNOWN: boolean
  /** Maps the semaphore's page over `target`+`targetOffset`; returns the semaphore's offset in the page. */
  aliasPosix(handle: Handle, name: string, target: ArrayBuffer, targetOffset: number): number
  /** Wakes up to `count` sleeping waiters, after posts made on the fast path. */
  wakePosix(handle: Handle, count: number, subject: string | number): void
  /** A queue of waits for one unit each (they settle with value 0). */
  waitQueue(handle: Handle, onSettled: OnSettled): Handle
}

/** @internal The lock's header layout and word bits (native/mutex/lock_word.h). */
export interface LockLayout {
  /** Indices of 32-bit words in the header. */
  readonly WORD: number
  readonly START: number
  readonly MAGIC: number
  /** The owner's tag: its pid namespace | HAS_TOKEN. */
  readonly OWNER_NS: number
  /** The header's last word: scratch for checking a token's descriptor. */
  readonly PROBE: number
  /** Words of the header that TypeScript views. */
  readonly HEADER_WORDS: number
  /** Bytes of the lock's page (before a GuardedBuffer's data). */
  readonly HEADER_SIZE: number
  /** What MAGIC holds once the object has been opened as a lock. */
  readonly MAGIC_VALUE: number
  readonly OWNER_MASK: number
  readonly FOREIGN: number
  readonly WAITERS: number
  readonly ABANDONED: number
  readonly HAS_TOKEN: number
}

/** @internal What acquireSync returns and what a wait of a mutex queue settles with. */
export interface LockOutcomes {
  readonly NOT_ACQUIRED: number
  readonly ACQUIRED: number
  readonly OWNER_DIED: number
}

/** @internal The `mutex` namespace (native/mutex/mutex_binding.h, which has the handoff's state table). */
export interface MutexBinding {
  readonly LOCK: LockLayout
  readonly OUTCOME: LockOutcomes
  /**
   * What the kernel tells waiters of an owner's death (native/mutex/owner_watch.h):
   * 'threads' (each thread's exit), 'processes' (a whole process's only: before
   * Linux 6.9, or IPC_KIT_PIDFD=process; a thread that ends alone marks its locks)
   * or 'none' (no pidfds, or IPC_KIT_PIDFD=0: waiters check every 200 ms).
   */
  readonly OWNER_WATCH: 'threads' | 'processes' | 'none'
  /**
   * The calling thread as it writes itself into the lock at `header`: [taker,
   * word, start time, tag]; with a liveness token on the object when `path`
   * names its file (a POSIX shm name if `posix`).
   */
  taker(header: Int32Array, path: string | undefined, posix: boolean): [Handle, number, number, number]
  /** Gives the taker's token up (after retire, before unmapping). */
  dropToken(taker: Handle): void
  /** Blocks until the lock is taken (ACQUIRED, OWNER_DIED) or timeoutMs passes (NOT_ACQUIRED); timeoutMs < 0: forever. */
  acquireSync(header: Int32Array, taker: Handle, timeoutMs: number): number
  /** Wakes one waiter sleeping on the lock word. */
  wake(header: Int32Array): void
  /** A waiter-engine queue of contended acquires (waits settle with ACQUIRED or OWNER_DIED) and its source. */
  waitQueue(header: Int32Array, taker: Handle, onSettled: OnSettled): { queue: Handle; source: Handle }
  /** JavaScript received the lock a wait settled with. */
  delivered(source: Handle): void
  /** After wait.close: a lock the engine took for a wait nobody received goes back. */
  retire(source: Handle): void
  /** [alive, sameNamespace]: alive is false only if the owner in {word, start, tag} is certainly dead (a waiter's judgement); path (POSIX name or file, undefined for System V) lets its token be tested. */
  ownerAlive(word: number, start: number, tag: number, path: string | undefined, posix: boolean): [boolean, boolean]
}

/** @internal */
export interface Binding {
  setErrorFactory(factory: typeof makeSystemError): void
  shm: ShmBinding
  sem: SemBinding
  mutex: MutexBinding
  wait: WaitBinding
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = require('node-gyp-build') as (dir: string) => Binding

/** @internal */
export const binding: Binding = load(join(__dirname, '..'))
binding.setErrorFactory(makeSystemError)
/** @internal */
export const shm = binding.shm
/** @internal */
export const sem = binding.sem
/** @internal */
export const mutex = binding.mutex
/** @internal */
export const wait = binding.wait
