import { constants } from 'node:os'
import { IPCError, closedError, invalidType, invalidValue } from './errors'
import { sem as native, type Handle } from './native'
import * as check from './validate'
import { WaitQueue } from './wait-queue'
import { SEM_OVERFLOW, SEM_TAKEN, SEM_WAKE, type WasmOps } from './fast-path/module'
import { releaseSlot, semLayoutKnown, slotFor, type Slot } from './fast-path/slots'

export type SemaphoreKind = 'posix' | 'sysv'

export interface SemaphoreOptions {
  /** The count of a semaphore this call creates (ignored when it opens one). Default 0. */
  initial?: number
  /** true: open or create (the default when `initial` is given); 'exclusive': EEXIST if present; false: ENOENT if absent. */
  create?: boolean | 'exclusive'
  /** Permission bits of a created semaphore, whatever the umask. Default 0o600. */
  mode?: number
}

export interface SysvSemaphoreOptions extends SemaphoreOptions {
  /** SEM_UNDO on every operation: the kernel reverses this process's operations when it exits. */
  undo?: boolean
}

export interface WaitOptions {
  /** Milliseconds: none waits forever, 0 is a try; a timed-out wait rejects with ETIMEDOUT. */
  timeout?: number
  /** Aborting rejects the wait with the signal's reason. */
  signal?: AbortSignal
}

const KIND_CODE: Record<SemaphoreKind, number> = native.KIND
const { CREATE, EXCLUSIVE } = native.OPEN
const { ETIMEDOUT, EOVERFLOW } = constants.errno

/** The largest count of a POSIX semaphore (SEM_VALUE_MAX). */
export const SEM_VALUE_MAX: number = native.SEM_VALUE_MAX
/** The largest count of a System V semaphore (SEMVMX). */
export const SEMVMX: number = native.SEMVMX

interface Opened {
  kind: SemaphoreKind
  name: string | number
  undo: boolean
  created: boolean
  semid: number
  handle: Handle
}

// Private construction: only this module holds the token.
const FROM_FACTORY = Symbol('Semaphore.fromFactory')

/**
 * A counting semaphore shared between processes: POSIX named (sem_open) or
 * System V (semget). Waits run on a dedicated thread, never on the event loop.
 */
export class Semaphore {
  /** 'posix' or 'sysv'. */
  readonly kind: SemaphoreKind
  /** The POSIX name ('/name') or the System V key. */
  readonly name: string | number
  /** System V: SEM_UNDO is set on every operation. */
  readonly undo: boolean
  /** This call created the semaphore (rather than opening an existing one). */
  readonly created: boolean
  readonly #semid: number
  #handle: Handle | undefined
  readonly #waits: WaitQueue
  /** POSIX: the semaphore's page aliased into WebAssembly memory (lib/fast-path/), for tryWait and post. */
  readonly #slot: Slot | undefined
  readonly #ops: WasmOps | undefined
  readonly #at: number

  /** A string opens (or, with `initial`, creates) a POSIX semaphore; a number a System V one. */
  constructor(nameOrKey: string | number, initial?: number)
  constructor(first: unknown, second?: unknown) {
    const opened = first === FROM_FACTORY ? (second as Opened) : construct(first, second)
    this.kind = opened.kind
    this.name = opened.name
    this.undo = opened.undo
    this.created = opened.created
    this.#semid = opened.semid
    this.#handle = opened.handle
    this.#waits = new WaitQueue({
      open: (onSettled) => native.waitQueue(this.#live(), onSettled),
      timedOut: () => this.#failure(-ETIMEDOUT, 'timed out'),
      failed: (errno) => this.#failure(-errno),
    })
    let at = 0
    const handle = opened.handle
    if (this.kind === 'posix' && semLayoutKnown) {
      this.#slot = slotFor(this, (target, offset) => {
        at = offset + native.aliasPosix(handle, opened.name as string, target, offset)
      })
    }
    this.#ops = this.#slot?.ops
    this.#at = at
  }

  static posix(name: string, options?: SemaphoreOptions): Semaphore {
    return fromFactory(open('posix', check.posixName(name, 'name', 4), options, 'options.initial'))
  }

  static sysv(key: number, options?: SysvSemaphoreOptions): Semaphore {
    return fromFactory(open('sysv', check.sysvKey(key), options, 'options.initial'))
  }

  /** Removes a named semaphore. Throws ENOENT if there is none. */
  static unlink(kind: SemaphoreKind, id: string | number): void {
    if (kind === 'posix') native.unlink(KIND_CODE.posix, check.posixName(id, 'id', 4))
    else if (kind === 'sysv') native.unlink(KIND_CODE.sysv, check.sysvKey(id, 'id'))
    else throw invalidValue('kind', kind, "must be 'posix' or 'sysv'")
  }

  /**
   * Takes a unit, waiting on a dedicated thread. Rejects with IPCError
   * ETIMEDOUT after `timeout` ms, with the signal's reason when aborted, and
   * with ERR_IPC_CLOSED when the semaphore is closed first. A wait that
   * rejects takes no unit.
   */
  wait(options?: WaitOptions): Promise<void> {
    try {
      const opts = check.options<WaitOptions>(options)
      const timeout = check.timeout(opts.timeout, 'options.timeout')
      const signal = check.abortSignal(opts.signal)
      const handle = this.#live()
      if (signal?.aborted) return Promise.reject(signal.reason)
      // A unit at hand needs no thread, unless earlier waits of ours are queued for it.
      if (this.#waits.size === 0 && this.#tryTake(handle)) return Promise.resolve()
      if (timeout === 0) return Promise.reject(this.#failure(-ETIMEDOUT, 'no unit to take (timeout 0)'))
      return this.#waits.wait(timeout, signal).then(ignore)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Takes a unit, blocking this thread; false when `timeout` ms pass first. */
  waitSync(timeout?: number): boolean {
    const ms = check.timeout(timeout, 'timeout')
    const handle = this.#live()
    // A unit at hand is taken without calling into the addon (which would spin, then sleep).
    if (this.#ops !== undefined && this.#ops.semTryWait(this.#at) === SEM_TAKEN) return true
    return native.waitSync(handle, ms ?? -1, this.name)
  }

  /** Takes a unit if one is there, without waiting. */
  tryWait(): boolean {
    return this.#tryTake(this.#live())
  }

  /** Adds `count` units (0 up to SEM_VALUE_MAX, System V: SEMVMX). */
  post(count = 1): void {
    const handle = this.#live()
    if (this.#ops === undefined) {
      native.post(handle, check.integer(count, 'count', 0, this.kind === 'posix' ? SEM_VALUE_MAX : SEMVMX), this.name)
      return
    }
    if (count !== 1) check.integer(count, 'count', 0, SEM_VALUE_MAX)
    // As sem_post: count up unless that would pass the maximum, then wake sleepers if any.
    const posted = this.#ops.semPost(this.#at, count, SEM_VALUE_MAX)
    if (posted === SEM_WAKE && count > 0) native.wakePosix(handle, count, this.name)
    else if (posted === SEM_OVERFLOW) throw new IPCError(-EOVERFLOW, 'sem_post', this.name)
  }

  /** The current count. */
  get value(): number {
    return native.value(this.#live(), this.name)
  }

  /**
   * Rejects this process's pending waits with ERR_IPC_CLOSED (any unit taken
   * for them goes back) and lets the semaphore go. Idempotent.
   */
  close(): void {
    const handle = this.#handle
    if (handle === undefined) return
    this.#handle = undefined
    this.#waits.close(() => closedError('Semaphore'))
    if (this.#slot !== undefined) releaseSlot(this.#slot)
    native.close(handle)
  }

  /** Removes the name (POSIX) or the set (System V); open handles keep working until closed (POSIX). */
  unlink(): void {
    if (this.kind === 'posix') native.unlink(KIND_CODE.posix, this.name)
    else native.removeSysv(this.#semid, this.name as number)
  }

  [Symbol.dispose](): void {
    this.close()
  }

  /** A wait's failure; `errno` negative, as IPCError takes it. */
  #failure(errno: number, detail?: string): IPCError {
    return new IPCError(errno, this.kind === 'posix' ? 'sem_clockwait' : 'semtimedop', this.name, detail)
  }

  /** sem_trywait, on the semaphore's memory when the fast path is there. */
  #tryTake(handle: Handle): boolean {
    if (this.#ops !== undefined) return this.#ops.semTryWait(this.#at) === SEM_TAKEN
    return native.tryWait(handle, this.name)
  }

  #live(): Handle {
    if (this.#handle === undefined) throw closedError('Semaphore')
    return this.#handle
  }
}

function ignore(): void {}

function fromFactory(opened: Opened): Semaphore {
  return Reflect.construct(Semaphore, [FROM_FACTORY, opened]) as Semaphore
}

/** new Semaphore(nameOrKey, initial?) */
function construct(nameOrKey: unknown, initial: unknown): Opened {
  const options = initial === undefined ? {} : { initial }
  if (typeof nameOrKey === 'string')
    return open('posix', check.posixName(nameOrKey, 'nameOrKey', 4), options, 'initial')
  if (typeof nameOrKey === 'number') return open('sysv', check.sysvKey(nameOrKey, 'nameOrKey'), options, 'initial')
  throw invalidType('nameOrKey', 'of type string or number', nameOrKey)
}

function open(kind: SemaphoreKind, id: string | number, raw: unknown, initialArg: string): Opened {
  const opts = check.options<SysvSemaphoreOptions>(raw)
  const max = kind === 'posix' ? SEM_VALUE_MAX : SEMVMX
  const initial = opts.initial === undefined ? 0 : check.integer(opts.initial, initialArg, 0, max)
  const create = check.create(opts.create, opts.initial !== undefined)
  const mode = check.mode(opts.mode, 'options.mode')
  let undo = false
  if (kind === 'sysv') undo = check.boolean(opts.undo, 'options.undo')
  else if (opts.undo !== undefined)
    throw invalidValue('options.undo', opts.undo, 'is only supported by System V semaphores')
  const flags = (create ? CREATE : 0) | (create === 'exclusive' ? EXCLUSIVE : 0)
  const opened = native.open(KIND_CODE[kind], id, flags, mode, initial, undo)
  return { kind, name: id, undo, created: opened.created, semid: opened.id, handle: opened.handle }
}
