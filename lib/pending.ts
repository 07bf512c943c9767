// One waiting promise's bookkeeping, shared by every queue of waits (WaitQueue,
// Mutex): its deadline and timer, its abort listener, and settling only once.
// What a timeout or an abort means is the owner's business (onTimeout, onAbort).

/** @internal */
export interface PendingOptions {
  /** ms; undefined: no deadline. A timer runs only for timeout > 0. */
  timeout: number | undefined
  signal: AbortSignal | undefined
  /** The deadline has passed (never called early). */
  onTimeout(): void
  /** The signal aborted. */
  onAbort(): void
}

// setTimeout's longest delay; a longer one would fire at once.
const MAX_DELAY = 0x7fffffff

/** @internal A promise's resolve and reject, its deadline, timer and abort listener. */
export class Pending<T> {
  /** performance.now() deadline; Infinity: none. */
  readonly deadline: number
  readonly #resolve: (value: T) => void
  readonly #reject: (reason: unknown) => void
  readonly #signal: AbortSignal | undefined
  readonly #onAbort: (() => void) | undefined
  #timer: NodeJS.Timeout | undefined
  #settled = false

  constructor(resolve: (value: T) => void, reject: (reason: unknown) => void, options: PendingOptions) {
    this.#resolve = resolve
    this.#reject = reject
    const { timeout, signal } = options
    this.deadline = timeout === undefined ? Infinity : performance.now() + timeout
    if (timeout !== undefined && timeout > 0) {
      // Timers may fire a little early: re-armed until the deadline has really passed.
      const expire = (): void => {
        const left = this.deadline - performance.now()
        if (left > 0) this.#timer = setTimeout(expire, Math.min(Math.ceil(left), MAX_DELAY))
        else options.onTimeout()
      }
      this.#timer = setTimeout(expire, Math.min(timeout, MAX_DELAY))
    }
    this.#signal = signal
    if (signal !== undefined) {
      this.#onAbort = () => options.onAbort()
      signal.addEventListener('abort', this.#onAbort, { once: true })
    }
  }

  /** ms left before the deadline (0 once it passed); undefined: none. */
  left(): number | undefined {
    return this.deadline === Infinity ? undefined : Math.max(0, this.deadline - performance.now())
  }

  resolve(value: T): void {
    if (this.#finish()) this.#resolve(value)
  }

  reject(reason: unknown): void {
    if (this.#finish()) this.#reject(reason)
  }

  /** Stops the timer and the listener; false if already settled. */
  #finish(): boolean {
    if (this.#settled) return false
    this.#settled = true
    clearTimeout(this.#timer)
    if (this.#onAbort !== undefined) this.#signal!.removeEventListener('abort', this.#onAbort)
    return true
  }
}
