// Promises over the native waiter engine (native/wait/waiter.h): each wait is
// served by one of the engine's threads, settles on this thread, and can time out, be
// aborted or be rejected by close(). Shared by every kind of cross-process wait.
import { constants } from 'node:os'
import { wait as binding, type Handle, type OnSettled } from './native'
import { Pending } from './pending'

/** @internal */
export interface WaitQueueOptions {
  /** Makes the native queue (sem.waitQueue, mutex.waitQueue); `onSettled` must reach waiter::NewQueue. */
  open(onSettled: OnSettled): Handle
  /** The error of a wait that timed out. */
  timedOut(): Error
  /** The error of a wait whose attempt failed with `errno` (positive). */
  failed(errno: number): Error
}

const { ETIMEDOUT } = constants.errno

// The engine's threads hear of cancelled and closed waits in one batch per
// burst (closing 10,000 waits wakes each thread once, not 10,000 times).
let notifyQueued = false
function notifyLater(): void {
  if (notifyQueued) return
  notifyQueued = true
  queueMicrotask(() => {
    notifyQueued = false
    // A thread blocked where only a signal reaches it, with the signal queue
    // full (RLIMIT_SIGPENDING): told again shortly.
    if (binding.notify()) setTimeout(notifyLater, 10).unref()
  })
}

/** @internal Filled by WaitQueue.wait: cancels that wait. */
export interface WaitHandle {
  cancel?: (reason: unknown) => void
}

/** @internal */
export class WaitQueue {
  readonly #options: WaitQueueOptions
  #queue: Handle | undefined
  readonly #pending = new Map<number, Pending<number>>()
  // Held here: the native queue holds it only weakly while idle, so that a
  // dropped WaitQueue can be collected and its thread stopped.
  readonly #onSettled = (id: number, err: number, value: number): void => this.#settle(id, err, value)

  constructor(options: WaitQueueOptions) {
    this.#options = options
  }

  /** Waits not yet settled. */
  get size(): number {
    return this.#pending.size
  }

  /**
   * Resolves with the attempt's value once the thread has acquired for this
   * wait. `timeout` in ms (undefined: forever); `signal` aborts with its reason.
   * `handle.cancel(reason)`, set here, rejects the wait with `reason` if it is
   * still queued: an abort without an AbortSignal, whose listener costs
   * microseconds per wait.
   */
  wait(timeout: number | undefined, signal?: AbortSignal, handle?: WaitHandle): Promise<number> {
    if (signal?.aborted) return Promise.reject(signal.reason)
    this.#queue ??= this.#options.open(this.#onSettled)
    const queue = this.#queue
    return new Promise<number>((resolve, reject) => {
      const id = binding.add(queue, timeout ?? -1)
      if (handle !== undefined)
        handle.cancel = (reason) => {
          if (this.#cancel(queue, id)) this.#take(id)?.reject(reason)
        }
      // The engine's thread times waits out too; the timer settles them here, punctually.
      // Only a wait still queued can time out or be aborted: one already served resolves.
      const pending = new Pending<number>(resolve, reject, {
        timeout,
        signal,
        onTimeout: () => {
          if (this.#cancel(queue, id)) this.#take(id)?.reject(this.#options.timedOut())
        },
        onAbort: () => {
          if (this.#cancel(queue, id)) this.#take(id)?.reject(signal!.reason)
        },
      })
      this.#pending.set(id, pending)
    })
  }

  /** Rejects every unsettled wait with `reason`; what they took goes back. Idempotent. */
  close(reason: () => Error): void {
    if (this.#queue === undefined) return
    const ids = binding.close(this.#queue)
    this.#queue = undefined
    notifyLater()
    for (const id of ids) this.#take(id)?.reject(reason())
  }

  #cancel(queue: Handle, id: number): boolean {
    if (!binding.cancel(queue, id)) return false
    notifyLater()
    return true
  }

  #take(id: number): Pending<number> | undefined {
    const pending = this.#pending.get(id)
    this.#pending.delete(id)
    return pending
  }

  #settle(id: number, err: number, value: number): void {
    const pending = this.#take(id)
    if (pending === undefined) return
    if (err === 0) pending.resolve(value)
    else pending.reject(err === ETIMEDOUT ? this.#options.timedOut() : this.#options.failed(err))
  }
}
