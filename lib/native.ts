// Loads the addon (a prebuild or the local build) and nothing else.
import { join } from 'node:path'
import { makeSystemError } from './errors'

/** An opaque native handle. */
export type Handle = { readonly __brand: 'native handle' }

export interface Mapped {
  buffer: Buffer
  handle: Handle
  /** The object's own size, which may exceed the mapped length. */
  size: number
  created: boolean
  /** System V segment id (-1 for the other kinds). */
  id: number
}

export interface ShmBinding {
  readonly PAGE_SIZE: number
  open(kind: number, id: string | number, flags: number, mode: number, size: number): Mapped
  close(handle: Handle, buffer: ArrayBuffer): boolean
  detach(buffer: ArrayBuffer): void
  flush(handle: Handle, subject: string | number): void
  flushAsync(handle: Handle, subject: string | number): Promise<void>
  unlink(kind: number, id: string | number): void
  removeSysv(shmid: number, key: number): void
  exists(kind: number, id: string | number): boolean
  /** Maps the shared pages at `source`+`sourceOffset` over `target`+`targetOffset` (page-aligned). */
  aliasInto(source: ArrayBuffer, sourceOffset: number, target: ArrayBuffer, targetOffset: number, length: number): void
  /** Private zero pages at `target`+`targetOffset` again. */
  unalias(target: ArrayBuffer, targetOffset: number, length: number): void
}

/** The waiter engine's functions (native/sem/waiter.h), on every module that makes queues. */
export interface WaitBinding {
  /** Queues a wait; timeoutMs < 0 waits forever. Returns its id. */
  waitAdd(queue: Handle, timeoutMs: number): number
  /** true: the wait was still queued and will never settle. */
  waitCancel(queue: Handle, id: number): boolean
  /** Stops the queue; returns the ids of the waits that will never settle. */
  waitClose(queue: Handle): number[]
}

export interface SemOpened {
  handle: Handle
  created: boolean
  /** System V set id (-1 for POSIX). */
  id: number
}

export interface SemBinding extends WaitBinding {
  readonly SEM_VALUE_MAX: number
  readonly SEMVMX: number
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
  aliasPosix(handle: Handle, target: ArrayBuffer, targetOffset: number): number
  /** Wakes up to `count` sleeping waiters, after posts made on the fast path. */
  wakePosix(handle: Handle, count: number, subject: string | number): void
  waitQueue(handle: Handle, onSettled: (id: number, err: number, value: number) => void): Handle
}

/** The Mutex's functions in the `sem` namespace (native/sem/mutex_binding.cc). */
export interface MutexBinding {
  /** [thread id, start time (low 32 bits), pid+time namespace id] of the calling thread. */
  mutexIdentity(): [number, number, number]
  /** Blocks until the lock is taken (1), taken from a dead owner (2) or timeoutMs passes (0). */
  mutexAcquireSync(header: Int32Array, mine: number, start: number, foreign: boolean, timeoutMs: number): number
  /** Wakes one waiter sleeping on the lock word. */
  mutexWake(header: Int32Array): void
  /**
   * A waiter-engine queue of contended acquires (waits settle with 1, taken, or 2, taken from a dead
   * holder) and its source, for mutexDelivered and mutexRetire.
   */
  mutexWaitQueue(header: Int32Array, mine: number, start: number, foreign: boolean, onSettled: (id: number, err: number, value: number) => void): { queue: Handle; source: Handle }
  /** JavaScript received the lock a wait settled with. */
  mutexDelivered(source: Handle): void
  /** true: the wait was cancelled and no other follows, the attempt in progress ends without the lock; false: before a wait. */
  mutexInterrupt(source: Handle, on: boolean): void
  /** After waitClose, before unmapping: the waiter thread touches the lock no more (gives back one nobody received). */
  mutexRetire(source: Handle): void
}

export interface Binding {
  setErrorFactory(factory: typeof makeSystemError): void
  shm: ShmBinding
  sem: SemBinding & MutexBinding
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = require('node-gyp-build') as (dir: string) => Binding

export const binding: Binding = load(join(__dirname, '..'))
binding.setErrorFactory(makeSystemError)
export const shm = binding.shm
export const sem = binding.sem
