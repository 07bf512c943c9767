import { constants } from 'node:os'
import { serialize, deserialize } from 'node:v8'
import { IPCError, closedError, invalidType, outOfRange } from './errors'
import { IPCBuffer, type SharedKind } from './ipc-buffer'
import { openTyped } from './descriptor'
import { openNamed } from './lock-word'
import type { Mutex } from './mutex'
import { mutex, shm, wait as words } from './native'
import * as check from './validate'
import * as L from './channel-layout'
import { Side, type Op } from './channel-side'
import { Pending } from './pending'
import { copyOut } from './copy-out'
import { NOT_PLAIN, decodePlain, encodePlain } from './value-codec'

export interface ChannelOptions {
  /** Ring bytes, rounded up to a power of two (256 B .. 1 GiB). Default 1 MiB when this call creates the channel. */
  capacity?: number
  /** 'posix' (default for a string), 'file' (name is a path) or 'sysv' (default for a number). */
  kind?: SharedKind
  /** true (default): open or create; 'exclusive': EEXIST if present; false: ENOENT if absent. */
  create?: boolean | 'exclusive'
  /** Permission bits of a created channel. Default 0o600. */
  mode?: number
  /**
   * Largest payload in bytes (set by the creator), at most capacity - 8.
   * Default capacity / 2 - 8: a message that size fits an empty ring at once,
   * wherever the ring's positions are; a larger one may wait until a receiver
   * has passed the ring's end.
   */
  maxMessage?: number
}

export interface ChannelWaitOptions {
  /** ms; undefined waits forever, 0 is a try. Rejects with IPCError 'ETIMEDOUT'. */
  timeout?: number
  /** Aborting rejects with `signal.reason`. */
  signal?: AbortSignal
}

export interface ReceiveOptions extends ChannelWaitOptions {
  /** false: resolve with a view into the ring (a ReceivedMessage) instead of a copy. Default true. */
  copy?: boolean
}

export interface ChannelStats {
  /** Messages in the ring now. */
  messages: number
  /** Ring bytes in use now (records, their headers and padding). */
  bytes: number
  capacity: number
  maxMessage: number
  /** Senders and receivers asleep in every process (advisory: one killed asleep stays counted). */
  sendersWaiting: number
  receiversWaiting: number
  sealed: boolean
}

/** A message received with `{ copy: false }`: its bytes stay in the ring until release(). */
export interface ReceivedMessage {
  /** The payload's bytes in the ring (empty after release()). */
  readonly buffer: Buffer
  /** 'bytes' (sent as Buffer/Uint8Array), 'string' (UTF-8) or 'value' (v8.serialize). */
  readonly type: 'bytes' | 'string' | 'value'
  /** The message decoded into memory of its own, as receive() would return it. */
  readonly value: unknown
  /** Takes the message out of the ring and lets other receivers go on. Idempotent. */
  release(): void
}

/** Room reserved in the ring: write into `buffer`, then commit() or abort(). */
export interface ReservedSlot {
  /** `n` writable bytes in the ring (empty after commit or abort). */
  readonly buffer: Buffer
  /** Publishes the bytes (the first `length` of them; default all) as one message. */
  commit(length?: number): void
  /** Gives the room back: nothing is sent. */
  abort(): void
}

const { ETIMEDOUT, EDEADLK, EINVAL, EBADMSG } = constants.errno
const { GUARDED } = words.WORD

// Op kinds.
const SEND = 1
const RESERVE = 2
const RECEIVE = 3
const VIEW = 4

// What #put returns.
const PUT = 1
const FULL = 0
const SEALED = -1

/** #takenType of a message #takeHeld has decoded already. */
const DECODED = 0

/** #takeHeld's answer when the ring holds no message. */
const EMPTY: unknown = Symbol('empty')

/** Polls before sleeping: a peer on another core usually answers within them. */
const SPIN = 500
/** How long an asynchronous wait looks again on later turns of the event loop before sleeping. */
const POLL_MS = 0.05
const MIN_POLL_MS = 0.005
const PROBE_EVERY = 16
/** Tries of a side's lock before waiting for it. */
const LOCK_TRIES = 256
const DEFAULT_CAPACITY = 1 << 20
const PAGE = Math.max(4096, shm.PAGE_SIZE)
const HEADER_BYTES = 2 * PAGE
/** Indices of the senders' and the receivers' lock words in an Int32Array over both lock pages. */
const SEND_LOCK = mutex.LOCK.WORD
const RECV_LOCK = PAGE / 4 + mutex.LOCK.WORD

// What #waitGuardsSync found.
const GUARDS_FREE = 0
const GUARDS_TIMED_OUT = 1
/** A guard is held by this thread (a slot or view of this or another object): it cannot be waited for. */
const GUARDS_MINE = 2

const TYPE_NAMES = ['', 'bytes', 'string', 'value'] as const

/**
 * Messages between processes through shared memory: any number of senders
 * and receivers open one name; each message reaches exactly one receiver, in
 * the order its sender sent it.
 */
export class Channel {
  readonly #map: IPCBuffer
  readonly #h: Int32Array
  /** The ring as a plain Buffer (fast methods), and as int32 words (record headers). */
  readonly #ring: Buffer
  readonly #r32: Int32Array
  readonly #cap: number
  readonly #mask: number
  readonly #max: number
  readonly #send: Side
  readonly #recv: Side
  /** The sides whose locks guard each side's sleep: every change a sleeper waits for is made under one of them. */
  readonly #sendGuards: Side[]
  readonly #recvGuards: Side[]
  readonly #subject: string | number | undefined
  #closed = false
  /** The window of a reserved slot or a received view, detached when it ends. */
  #sendWindow: ArrayBuffer | undefined
  #recvWindow: ArrayBuffer | undefined
  /** Set by #oldest: the oldest message's position, ring offset, length and type (#decode reads the type; DECODED once #takeHeld decoded it). */
  #head = 0
  #length = 0
  #takenType = 0
  /** Set by #encode: the record type and what to write (#scratch: valid until the next #encode). */
  #type = 0
  #data: Uint8Array | string = ''
  #scratch = false
  /** Set with #attempt's SLEEP: the event word's value to sleep on. */
  #sleepValue = 0
  /** Set by #fit: where the record goes, and the WRAP bytes before it (#oldest sets #at too). */
  #at = 0
  #pad = 0
  /** This object's id among the channel's objects (never 0): HEAD_BY and TAIL_BY name the last to store. */
  readonly #id: number
  /** Receiving: TAIL as this object last read it, and HEAD as it last stored it (see #tail). */
  #tailSeen = 0
  #headMine = 0
  /** Sending: HEAD as this object last read it, and TAIL as it last stored it (see #free). */
  #headSeen = 0
  #tailMine = 0

  private constructor(map: IPCBuffer, cap: number, max: number) {
    this.#map = map
    this.#subject = map.name
    this.#h = new Int32Array(map.buffer, map.byteOffset, L.HEADER_WORDS)
    this.#cap = cap
    this.#mask = cap - 1
    this.#max = max
    this.#ring = Buffer.from(map.buffer, map.byteOffset + HEADER_BYTES, cap)
    this.#r32 = new Int32Array(map.buffer, map.byteOffset + HEADER_BYTES, cap >> 2)
    let id = 0
    while (id === 0) id = (Atomics.add(this.#h, L.OBJECTS, 1) + 1) | 0
    this.#id = id
    // Senders wait for room, made by receivers (their lock) or the seal (the senders' lock);
    // receivers wait for messages, published by senders and the seal (the senders' lock).
    const locks = new Int32Array(map.buffer, map.byteOffset, HEADER_BYTES / 4)
    this.#send = new Side(
      map,
      this.#h,
      L.SEND_EVENT,
      L.SEND_SLEEPERS,
      L.SEND_PARKED,
      locks,
      [RECV_LOCK, SEND_LOCK],
      [L.RECV_PARKED, L.SEND_PARKED],
    )
    this.#recv = new Side(
      IPCBuffer(map, PAGE, PAGE),
      this.#h,
      L.RECV_EVENT,
      L.RECV_SLEEPERS,
      L.RECV_PARKED,
      locks,
      [SEND_LOCK],
      [L.SEND_PARKED],
    )
    this.#sendGuards = [this.#recv, this.#send]
    this.#recvGuards = [this.#send]
    this.#send.pollMs = this.#recv.pollMs = POLL_MS
  }

  /** Opens (or creates) the channel called `name`. */
  static open(name: string | number, options?: ChannelOptions): Channel {
    const opts = check.options<ChannelOptions>(options)
    let cap: number | undefined
    if (opts.capacity !== undefined) cap = capacityOf(opts.capacity)
    const create = check.create(opts.create, true)
    const mode = check.mode(opts.mode, 'options.mode')
    let max: number | undefined
    if (opts.maxMessage !== undefined) {
      max = check.integer(opts.maxMessage, 'options.maxMessage', 1, (cap ?? DEFAULT_CAPACITY) - L.RECORD_HEADER)
    }
    // An existing channel keeps its capacity: it is mapped whole, and grown below only if its ring says so.
    let map = openTyped(name, opts.kind, {
      type: 'channel',
      accepts: ['channel'],
      layout: L.LAYOUT_VERSION,
      size: HEADER_BYTES + (cap ?? DEFAULT_CAPACITY),
      minimum: HEADER_BYTES + L.MIN_CAPACITY,
      create,
      mode,
    })
    try {
      const [have, most] = initialise(map, cap ?? DEFAULT_CAPACITY, max)
      if (map.length < HEADER_BYTES + have) {
        // Created by another process with a larger ring, grown after we mapped.
        map.close()
        map = openNamed(name, opts.kind, { size: HEADER_BYTES + have, create: false })
      }
      return new Channel(map, have, most)
    } catch (err) {
      map.close()
      throw err
    }
  }

  /** Ring bytes. */
  get capacity(): number {
    return this.#cap
  }

  /** Largest payload a sender may send, in bytes. */
  get maxMessage(): number {
    return this.#max
  }

  /** The POSIX name, file path or System V key. */
  get name(): string | number | undefined {
    return this.#subject
  }

  // ---- sending ------------------------------------------------------------

  /** Sends `value` now if there is room; false when the ring is full. Never waits. */
  trySend(value: unknown): boolean {
    const length = this.#encode(value)
    this.#check()
    const side = this.#send
    if (side.ops.length > 0 || side.held !== undefined || !side.lock.tryAcquire()) return false
    return this.#sent(this.#putHeld(side.lock, this.#type, this.#data, length))
  }

  /**
   * Sends `value`, blocking this thread while the ring is full, up to `timeout`
   * ms (undefined: forever). false on timeout, and then nothing was sent.
   */
  sendSync(value: unknown, timeout?: number): boolean {
    const length = this.#encode(value)
    const side = this.#send
    // The common case: nothing queued, the lock free, room in the ring.
    if (
      timeout === undefined &&
      !this.#closed &&
      side.ops.length === 0 &&
      side.held === undefined &&
      side.lock.tryAcquire()
    ) {
      if (this.#sent(this.#putHeld(side.lock, this.#type, this.#data, length))) return true
    }
    const type = this.#type
    const data = this.#data
    const ms = check.timeout(timeout)
    this.#check()
    if (side.ops.length > 0 || side.held !== undefined) {
      // This object's earlier sends (or its reserved slot) go first, and need the event loop.
      if (ms === 0) return false
      throw new IPCError(
        -EDEADLK,
        'futex',
        this.#subject,
        'this Channel has asynchronous sends pending or a slot reserved',
      )
    }
    const deadline = ms === undefined ? Infinity : performance.now() + ms
    const needed = length < 0 ? Buffer.byteLength(data as string) : length
    const size = L.recordSize(needed)
    for (;;) {
      if (!this.#lockSync(side, deadline)) return false
      if (this.#sent(this.#putHeld(side.lock, type, data, needed))) return true
      const left = deadline - performance.now()
      if (left <= 0) return false
      if (!this.#spinForRoom(size)) {
        const ev = side.observe()
        if (!this.#roomFor(size)) this.#sleepSync(side, ev, deadline)
      }
    }
  }

  /** Sends `value`, waiting (off the event loop) while the ring is full. */
  send(value: unknown, options?: ChannelWaitOptions): Promise<void> {
    let length: number
    try {
      length = this.#encode(value)
      const side = this.#send
      if (
        options === undefined &&
        !this.#closed &&
        side.ops.length === 0 &&
        side.held === undefined &&
        side.lock.tryAcquire()
      ) {
        if (this.#sent(this.#putHeld(side.lock, this.#type, this.#data, length))) return Promise.resolve()
      }
      this.#check()
      if (length < 0) length = Buffer.byteLength(this.#data as string)
    } catch (err) {
      return Promise.reject(err)
    }
    const data = this.#scratch && this.#type === L.VALUE ? Buffer.from(this.#data as Uint8Array) : this.#data
    return this.#enqueue(this.#send, SEND, options, this.#type, data, length) as Promise<void>
  }

  /** true when #put published; false when full; throws once sealed. */
  #sent(got: number): boolean {
    if (got === SEALED) throw sealedError()
    return got === PUT
  }

  /**
   * Reserves `n` bytes in the ring, waiting while it is full: write the
   * message into `slot.buffer`, then `slot.commit()` (or `slot.abort()`).
   * Until then this channel's other senders wait: commit promptly.
   */
  reserve(n: number, options?: ChannelWaitOptions): Promise<ReservedSlot> {
    try {
      check.integer(n, 'n', 0, this.#max)
      this.#check()
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#enqueue(this.#send, RESERVE, options, L.BYTES, '', n) as Promise<ReservedSlot>
  }

  // ---- receiving ----------------------------------------------------------

  /** The next message if there is one now: `{ value }`, else undefined. Never waits. */
  tryReceive(): { value: unknown } | undefined {
    this.#check()
    const side = this.#recv
    if (side.held !== undefined || !this.#nonEmpty() || !side.lock.tryAcquire()) return undefined
    const got = this.#takeHeld(side.lock)
    return got === EMPTY ? undefined : { value: this.#decode(got) }
  }

  /**
   * The next message, blocking this thread while the ring is empty, up to
   * `timeout` ms: `{ value }`, or undefined on timeout or when the channel is
   * sealed and drained.
   */
  receiveSync(timeout?: number): { value: unknown } | undefined {
    const side = this.#recv
    // The common cases: a message there, or one within the spin (a request
    // answered), and the lock free: no clock read, no validation.
    if (
      timeout === undefined &&
      !this.#closed &&
      side.held === undefined &&
      (this.#nonEmpty() || this.#spinForMessage()) &&
      side.lock.tryAcquire()
    ) {
      const got = this.#takeHeld(side.lock)
      if (got !== EMPTY) return { value: this.#decode(got) }
    }
    const ms = check.timeout(timeout)
    this.#check()
    if (side.held !== undefined) {
      if (ms === 0) return undefined
      throw new IPCError(-EDEADLK, 'futex', this.#subject, 'this Channel holds a received view: release() it first')
    }
    const deadline = ms === undefined ? Infinity : performance.now() + ms
    for (;;) {
      if (this.#nonEmpty()) {
        if (!this.#lockSync(side, deadline)) return undefined
        const got = this.#takeHeld(side.lock)
        if (got !== EMPTY) return { value: this.#decode(got) }
      }
      if (Atomics.load(this.#h, L.SEALED) !== 0 && !this.#nonEmpty()) return undefined
      if (deadline !== Infinity && deadline <= performance.now()) return undefined
      if (!this.#spinForMessage()) {
        const ev = side.observe()
        if (!this.#nonEmpty() && Atomics.load(this.#h, L.SEALED) === 0) this.#sleepSync(side, ev, deadline)
      }
    }
  }

  /**
   * Resolves with the next message, waiting (off the event loop) while the
   * ring is empty. Rejects with code 'ERR_IPC_SEALED' once the channel is
   * sealed and drained. With `{ copy: false }` it resolves with a view into
   * the ring (a ReceivedMessage) that holds back this channel's other
   * receivers until released.
   */
  receive(options: ReceiveOptions & { copy: false }): Promise<ReceivedMessage>
  receive(options?: ReceiveOptions): Promise<unknown>
  receive(options?: ReceiveOptions): Promise<unknown> {
    let kind = RECEIVE
    try {
      const side = this.#recv
      if (
        options === undefined &&
        !this.#closed &&
        side.ops.length === 0 &&
        side.held === undefined &&
        this.#nonEmpty() &&
        side.lock.tryAcquire()
      ) {
        const got = this.#takeHeld(side.lock)
        if (got !== EMPTY) return Promise.resolve(this.#decode(got))
      }
      this.#check()
      if (options !== undefined && check.options<ReceiveOptions>(options).copy !== undefined) {
        if (typeof options.copy !== 'boolean') throw invalidType('options.copy', 'of type boolean', options.copy)
        if (!options.copy) kind = VIEW
      }
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#enqueue(this.#recv, kind, options, 0, '', 0)
  }

  /** `for await (const v of ch)`: every message until the channel is sealed and drained (or the loop breaks). */
  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    return {
      next: (): Promise<IteratorResult<unknown>> => {
        const side = this.#recv
        if (
          !this.#closed &&
          side.ops.length === 0 &&
          side.held === undefined &&
          this.#nonEmpty() &&
          side.lock.tryAcquire()
        ) {
          const got = this.#takeHeld(side.lock)
          if (got !== EMPTY) return Promise.resolve({ value: this.#decode(got), done: false })
        }
        return this.receive({}).then(
          (value) => ({ value, done: false }),
          (err) => {
            if ((err as { code?: string }).code === 'ERR_IPC_SEALED') return { value: undefined, done: true }
            throw err
          },
        )
      },
      return: (): Promise<IteratorResult<unknown>> => Promise.resolve({ value: undefined, done: true }),
    }
  }

  // ---- the rest -----------------------------------------------------------

  /**
   * No more sends, by anyone: later sends throw (or reject with) code
   * 'ERR_IPC_SEALED', waiting ones reject with it; receivers drain what is
   * left, then receive() rejects with it and `for await` ends. Permanent.
   */
  seal(): void {
    this.#check()
    // Under the senders' lock, as every change sleepers wait for (see #sleepSync);
    // a sender in the middle of its send (or a reserved slot) is waited for.
    const side = this.#send
    let lock: Mutex | undefined
    if (side.held === undefined) {
      try {
        this.#lockSync(side, Infinity)
        lock = side.lock
      } catch (err) {
        // Held by this thread (another Channel object's slot): held all the same.
        if (!(err instanceof IPCError && err.errno === -EDEADLK)) throw err
      }
    }
    // A slot of this thread's stays held, but not parked while the seal changes the ring.
    const parked = lock === undefined && Atomics.exchange(this.#h, L.SEND_PARKED, 0) !== 0
    this.#recv.beforeChange()
    this.#send.beforeChange()
    Atomics.store(this.#h, L.SEALED, 1)
    this.#recv.wakeAll()
    this.#send.wakeAll()
    if (parked) Atomics.store(this.#h, L.SEND_PARKED, 1)
    lock?.release()
  }

  /** Whether the channel is sealed. */
  get sealed(): boolean {
    this.#check()
    return Atomics.load(this.#h, L.SEALED) !== 0
  }

  /** What the ring holds now; `messages` walks the ring (cost grows with it). */
  stats(): ChannelStats {
    this.#check()
    const h = this.#h
    let head = 0
    let tail = 0
    let messages = 0
    for (let attempt = 0; attempt < 100; attempt++) {
      head = Atomics.load(h, L.HEAD)
      tail = Atomics.load(h, L.TAIL)
      messages = this.#count(head, tail)
      if (messages >= 0 && Atomics.load(h, L.HEAD) === head) break
    }
    return {
      messages: Math.max(messages, 0),
      bytes: (tail - head) >>> 0,
      capacity: this.#cap,
      maxMessage: this.#max,
      sendersWaiting: this.#send.sleeping,
      receiversWaiting: this.#recv.sleeping,
      sealed: Atomics.load(h, L.SEALED) !== 0,
    }
  }

  /**
   * Rejects this object's pending operations (code 'ERR_IPC_CLOSED'), aborts
   * its reserved slot, gives back its received view unconsumed, and unmaps.
   * Idempotent. The channel and its messages stay (see unlink).
   */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const side of [this.#send, this.#recv]) {
      for (const op of side.ops.slice()) this.#settle(side, op, closedError('Channel'))
      side.ops.length = 0
    }
    this.#endWindow(true)
    this.#endWindow(false)
    this.#send.close(() => closedError('Channel'))
    this.#recv.close(() => closedError('Channel'))
    this.#map.close()
  }

  /** Removes the channel's name; processes that have it open keep using it. */
  unlink(): void {
    this.#map.unlink()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  // ---- internals ----------------------------------------------------------

  #check(): void {
    if (this.#closed) throw closedError('Channel')
  }

  /**
   * Sets #type and #data (the bytes or the text to write) for `value`, and
   * returns the payload's length: -1 for a string whose UTF-8 length is not
   * known yet. (Fields, not a returned tuple: nothing allocated per send.)
   */
  #encode(value: unknown): number {
    if (typeof value === 'string') {
      this.#type = L.STRING
      this.#data = value
      // UTF-8 takes at least one byte per UTF-16 unit and at most three.
      if (value.length > this.#max) throw tooLarge(value.length, this.#max)
      if (value.length * 3 <= this.#max) return -1
      const length = Buffer.byteLength(value)
      if (length > this.#max) throw tooLarge(length, this.#max)
      return length
    }
    if (value instanceof Uint8Array) {
      if (value.length > this.#max) throw tooLarge(value.length, this.#max)
      this.#type = L.BYTES
      this.#data = value
      return value.length
    }
    // A plain value is encoded into a scratch Buffer (copied if the send is queued).
    const plain = encodePlain(value)
    const bytes = plain ?? serialize(value)
    if (bytes.length > this.#max) throw tooLarge(bytes.length, this.#max)
    this.#type = L.VALUE
    this.#data = bytes
    this.#scratch = plain !== undefined
    return bytes.length
  }

  /** Writes one record, holding the senders' lock, and releases the lock. PUT, FULL or SEALED. */
  #putHeld(lock: Mutex, type: number, data: Uint8Array | string, length: number): number {
    const got = this.#put(type, data, length)
    lock.release()
    return got
  }

  /**
   * Appends a record if it fits (the senders' lock is held): PUT, FULL or
   * SEALED. The record is written, then published by one store of TAIL: a
   * sender killed before that store leaves nothing visible.
   */
  #put(type: number, data: Uint8Array | string, length: number): number {
    if (length < 0) {
      const text = data as string
      // A string of unknown UTF-8 length: write it straight in when it surely fits.
      const h = this.#h
      if (h[L.SEALED] !== 0) return SEALED
      const tail = h[L.TAIL]
      const off = tail & this.#mask
      const most = L.RECORD_HEADER + text.length * 3
      if (most <= this.#cap - off && most <= this.#free(tail, most)) {
        const written = this.#ring.write(text, off + L.RECORD_HEADER, 'utf8')
        this.#publish(tail, off, 0, type, written)
        return PUT
      }
      length = Buffer.byteLength(text)
    }
    const got = this.#fit(length)
    if (got !== PUT) return got
    const start = this.#at + L.RECORD_HEADER
    if (typeof data === 'string') this.#ring.write(data, start, 'utf8')
    else this.#ring.set(data, start)
    this.#publish(this.#h[L.TAIL], this.#at, this.#pad, type, length)
    return PUT
  }

  /**
   * Finds room for a record of `length` payload bytes (the senders' lock is
   * held): PUT with #at (its ring offset) and #pad (bytes of a WRAP record
   * before it, already written), or FULL or SEALED.
   */
  #fit(length: number): number {
    const h = this.#h
    if (h[L.SEALED] !== 0) return SEALED
    const cap = this.#cap
    const tail = h[L.TAIL]
    const off = tail & this.#mask
    const toEnd = cap - off
    const need = L.recordSize(length)
    const free = this.#free(tail, need <= toEnd ? need : toEnd + need)
    if (need <= toEnd) {
      if (need > free) return FULL
      this.#at = off
      this.#pad = 0
      return PUT
    }
    if (toEnd > free) return FULL
    this.#r32[off >> 2] = 0
    this.#r32[(off >> 2) + 1] = L.WRAP
    if (toEnd + need > free) {
      // It fits neither before the end nor, yet, after it: hand the end over
      // now (a WRAP record alone), so it fits at the start once receivers make room.
      this.#recv.beforeChange()
      this.#storeTail((tail + toEnd) | 0)
      this.#recv.changed()
      return FULL
    }
    this.#at = 0
    this.#pad = toEnd
    return PUT
  }

  /** Writes the record's header and publishes it (and the WRAP before it) with one store of TAIL. */
  #publish(tail: number, off: number, pad: number, type: number, length: number): void {
    const r32 = this.#r32
    r32[off >> 2] = length
    r32[(off >> 2) + 1] = type
    this.#recv.beforeChange()
    this.#storeTail((tail + pad + L.recordSize(length)) | 0)
    this.#recv.changed()
  }

  /** Whether a record of `need` bytes fits now (before or after the ring's end). */
  #roomFor(need: number): boolean {
    const h = this.#h
    const tail = Atomics.load(h, L.TAIL)
    const free = this.#cap - ((tail - Atomics.load(h, L.HEAD)) >>> 0)
    const toEnd = this.#cap - (tail & this.#mask)
    return Atomics.load(h, L.SEALED) !== 0 || (need <= toEnd ? need <= free : toEnd <= free)
  }

  #nonEmpty(): boolean {
    const head = Atomics.load(this.#h, L.HEAD)
    return this.#tail(head) !== head
  }

  /**
   * TAIL, for a receiver (under the receivers' lock, or as a hint before
   * taking it), given HEAD: the value this object read last if the last store
   * of HEAD was this object's (so the records up to it are published and not
   * taken yet), else a fresh read. While the ring holds many messages, a
   * receiver then reads the senders' cache line only once per batch, not per
   * message (the line moves between the cores each time it is read after a store).
   */
  #tail(head: number): number {
    if (head === this.#headMine && this.#h[L.HEAD_BY] === this.#id) {
      const unread = (this.#tailSeen - head) >>> 0
      if (unread !== 0 && unread <= this.#cap) return this.#tailSeen
    }
    return (this.#tailSeen = Atomics.load(this.#h, L.TAIL))
  }

  /**
   * Free ring bytes, for a sender holding the senders' lock, given TAIL: from
   * HEAD as this object read it last if the last store of TAIL was this
   * object's (it published only within the room that HEAD left, and HEAD only
   * grows, so the room is at least that), unless that is less than `want`;
   * else from a fresh read of HEAD.
   */
  #free(tail: number, want: number): number {
    if (tail === this.#tailMine && this.#h[L.TAIL_BY] === this.#id) {
      const free = this.#cap - ((tail - this.#headSeen) >>> 0)
      if (free >= want) return free
    }
    this.#headSeen = Atomics.load(this.#h, L.HEAD)
    return this.#cap - ((tail - this.#headSeen) >>> 0)
  }

  /** Stores TAIL (the senders' lock is held), as this object's store. */
  #storeTail(tail: number): void {
    const h = this.#h
    if (h[L.TAIL_BY] !== this.#id) Atomics.store(h, L.TAIL_BY, this.#id)
    Atomics.store(h, L.TAIL, (this.#tailMine = tail))
  }

  /** Stores HEAD (the receivers' lock is held), as this object's store. */
  #storeHead(head: number): void {
    const h = this.#h
    if (h[L.HEAD_BY] !== this.#id) Atomics.store(h, L.HEAD_BY, this.#id)
    Atomics.store(h, L.HEAD, (this.#headMine = head))
  }

  /** Polls a little for room; true when there is some. */
  #spinForRoom(need: number): boolean {
    for (let i = 0; i < SPIN; i++) if (this.#roomFor(need)) return true
    return false
  }

  /** Polls a little for a message (or the seal); true when there is one. */
  #spinForMessage(): boolean {
    const h = this.#h
    const head = Atomics.load(h, L.HEAD)
    for (let i = 0; i < SPIN; i++) {
      if (Atomics.load(h, L.TAIL) !== head || h[L.SEALED] !== 0) return true
    }
    return false
  }

  /** Takes the senders' or receivers' lock for a synchronous call, until `deadline`. */
  #lockSync(side: Side, deadline: number): boolean {
    // Holders hold it for a copy's time: a few tries usually get it without sleeping.
    if (this.#spinLock(side)) return true
    if (deadline === Infinity) side.lock.acquireSync()
    else {
      const left = deadline - performance.now()
      if (left <= 0 || !side.lock.acquireSync(left)) return false
    }
    this.#tookOver(side, side.lock)
    return true
  }

  /**
   * After a blocking take of a lock: one taken over from a holder that died
   * may have been changing the ring, past its change and short of its
   * wake-up (or of a sleeper's, its bit 0 cleared): wakes every sleeper.
   */
  #tookOver(side: Side, lock: Mutex): void {
    if (!lock.ownerDied) return
    side.tookOver()
    this.#recv.wakeAll()
    this.#send.wakeAll()
  }

  /**
   * Sleeps on `side`'s event word while it holds `value`, until `deadline`.
   * No sleep is cut short by a timer: a waker killed between its change and
   * its wake-up is covered by the guards. The sleeper announces itself (bit
   * 0), then reads the locks every such change is made under; if one is held
   * by a holder that has not parked (Side.hold), it waits for that lock
   * instead (a Mutex learns of its holder's death) and returns for the
   * caller to look again. If all were free, whoever changes
   * the ring later takes the lock after that read, and so sees bit 0 in its
   * beforeChange(): it wakes the sleeper before its change, dead or alive after it.
   */
  #sleepSync(side: Side, value: number, deadline: number): void {
    if (side.sleepSync(value, Math.max(0, deadline - performance.now()), true) !== GUARDED) return
    if (this.#waitGuardsSync(side, deadline) === GUARDS_MINE) {
      // This thread holds it, and is alive while it waits: sleep unguarded.
      side.sleepSync(value, Math.max(0, deadline - performance.now()), false)
    }
  }

  /** Waits (blocking, until `deadline`) for each lock guarding `side`'s sleep that is held now, and lets it go. */
  #waitGuardsSync(side: Side, deadline: number): number {
    for (const guard of side === this.#send ? this.#sendGuards : this.#recvGuards) {
      if (!guard.lock.isLocked() || guard.parked) continue
      if (guard.held !== undefined) return GUARDS_MINE
      try {
        if (!this.#lockSync(guard, deadline)) return GUARDS_TIMED_OUT
      } catch (err) {
        if (err instanceof IPCError && err.errno === -EDEADLK) return GUARDS_MINE
        throw err
      }
      guard.lock.release()
    }
    return GUARDS_FREE
  }

  /** #sleepSync's wait for the guards, off the event loop, for `op`. */
  async #waitGuards(side: Side, op: Op): Promise<void> {
    for (const guard of side === this.#send ? this.#sendGuards : this.#recvGuards) {
      if (op.done || this.#closed || !guard.lock.isLocked() || guard.parked) continue
      try {
        const lock = await guard.lockAsync(op.cancel?.signal)
        this.#tookOver(guard, lock)
        lock.release()
      } catch {
        // aborted (the op ended) or closed: the pump looks again
      }
    }
  }

  /**
   * Finds the oldest message (the receivers' lock is held): skips WRAP
   * records (storing HEAD past them, which frees room), checks the record,
   * and sets #head, #at and #length. false when the ring holds no message.
   * A corrupt record releases the lock and throws EBADMSG.
   */
  #oldest(lock: Mutex): boolean {
    const h = this.#h
    const r32 = this.#r32
    const from = h[L.HEAD]
    const tail = this.#tail(from)
    let head = from
    while (head !== tail && r32[((head & this.#mask) >> 2) + 1] === L.WRAP)
      head = (head + this.#cap - (head & this.#mask)) | 0
    if (head !== from) {
      this.#send.beforeChange()
      this.#storeHead(head)
      this.#send.changed()
    }
    if (head === tail) return false
    const off = head & this.#mask
    const length = r32[off >> 2]
    const type = r32[(off >> 2) + 1]
    const size = L.recordSize(length)
    if (type < L.BYTES || type > L.VALUE || length < 0 || size > this.#cap - off || size > (tail - head) >>> 0) {
      lock.release()
      throw new IPCError(-EBADMSG, 'receive', this.#subject, `a record at position ${head >>> 0} is corrupt`)
    }
    this.#head = head
    this.#at = off
    this.#length = length
    this.#takenType = type
    return true
  }

  /**
   * Takes the oldest message (the receivers' lock is held) and releases the
   * lock. Returns its payload (a copy of its own, or the text) or EMPTY.
   * HEAD advances only after the copy: a receiver killed before leaves the
   * message to the next one.
   */
  #takeHeld(lock: Mutex): unknown {
    if (!this.#oldest(lock)) {
      lock.release()
      return EMPTY
    }
    const start = this.#at + L.RECORD_HEADER
    const end = start + this.#length
    let out: unknown
    if (this.#takenType === L.STRING) out = this.#ring.toString('utf8', start, end)
    else if (this.#takenType === L.VALUE && (out = decodePlain(this.#ring, start, end)) !== NOT_PLAIN) {
      // A plain value, read in place (it views nothing in the ring): #decode passes it on.
      this.#takenType = DECODED
    } else {
      out = copyOut(this.#ring, start, end, this.#r32)
    }
    this.#send.beforeChange()
    this.#storeHead((this.#head + L.recordSize(this.#length)) | 0)
    this.#send.changed()
    lock.release()
    return out
  }

  /** The value of what #takeHeld returned (v8.deserialize, for values it did not decode, runs outside the lock). */
  #decode(payload: unknown): unknown {
    return this.#takenType === L.VALUE ? deserialize(payload as Buffer) : payload
  }

  /** Messages between head and tail, or -1 if the ring moved under the walk. */
  #count(head: number, tail: number): number {
    const r32 = this.#r32
    let n = 0
    while (head !== tail) {
      const off = head & this.#mask
      const type = r32[(off >> 2) + 1]
      if (type === L.WRAP) {
        head = (head + this.#cap - off) | 0
        continue
      }
      const size = L.recordSize(r32[off >> 2])
      if (size > (tail - head) >>> 0 || type < L.BYTES || type > L.VALUE) return -1
      head = (head + size) | 0
      n++
    }
    return n
  }

  // ---- asynchronous operations ------------------------------------------

  #enqueue(
    side: Side,
    kind: number,
    options: ChannelWaitOptions | undefined,
    type: number,
    data: Uint8Array | string,
    length: number,
  ): Promise<unknown> {
    let ms: number | undefined
    let signal: AbortSignal | undefined
    try {
      const opts = check.options<ChannelWaitOptions>(options)
      ms = check.timeout(opts.timeout, 'options.timeout')
      signal = check.abortSignal(opts.signal)
    } catch (err) {
      return Promise.reject(err)
    }
    if (signal?.aborted) return Promise.reject(signal.reason)
    return new Promise((resolve, reject) => {
      // Only an op with a deadline or a signal can end while it waits (besides
      // close(), which ends the waits itself): only it pays for an abort listener
      // per wait (Node's AbortSignal listeners cost microseconds each).
      const cancel = (ms !== undefined && ms > 0) || signal !== undefined ? new AbortController() : undefined
      const op: Op = { kind, type, data, length, pending: undefined!, cancel, done: false }
      op.pending = new Pending(resolve, reject, {
        timeout: ms,
        signal,
        onTimeout: () => this.#settle(side, op, this.#timedOut()),
        onAbort: () => this.#settle(side, op, signal!.reason),
      })
      if (ms === 0) {
        // One attempt, now: behind this object's earlier operations there is none.
        const first = side.ops.length === 0 && side.held === undefined
        side.ops.push(op)
        if (first) this.#attempt(side, op)
        this.#settle(side, op, this.#timedOut())
        return
      }
      side.ops.push(op)
      void this.#pump(side)
    })
  }

  #timedOut(): IPCError {
    return new IPCError(-ETIMEDOUT, 'futex', this.#subject)
  }

  /** Ends `op`: settles it (unless already done) and takes it out of the queue. */
  #settle(side: Side, op: Op, reason: unknown, value?: unknown): void {
    if (op.done) return
    op.done = true
    const i = side.ops.indexOf(op)
    if (i >= 0) side.ops.splice(i, 1)
    op.cancel?.abort()
    if (reason === undefined) op.pending.resolve(value)
    else op.pending.reject(reason)
  }

  /**
   * Serves `side`'s queue in order: each op takes the lock (a few tries, then
   * waiting off the event loop), tries, and while the ring is full (or empty)
   * sleeps on the side's event word (guarded, as #sleepSync).
   */
  async #pump(side: Side): Promise<void> {
    if (side.running) return
    side.running = true
    try {
      while (side.ops.length > 0 && !this.#closed && side.held === undefined) {
        const op = side.ops[0]
        let next = this.#attempt(side, op)
        if (next === BUSY) {
          let lock: Mutex
          try {
            lock = await side.lockAsync(op.cancel?.signal)
          } catch (err) {
            if (!this.#closed) this.#settle(side, op, err)
            continue
          }
          this.#tookOver(side, lock)
          if (op.done || this.#closed) {
            lock.release()
            continue
          }
          next = side === this.#send ? this.#sendHeld(op, lock) : this.#receiveHeld(op, lock)
        }
        if (next !== SLEEP || (await this.#poll(side, op))) continue
        const got = await side.sleep(this.#sleepValue, op.cancel?.signal)
        if (got === GUARDED && !op.done && !this.#closed) await this.#waitGuards(side, op)
      }
    } finally {
      side.running = false
    }
  }

  /**
   * Before sleeping through the waiter engine (a thread's wake-up, then the
   * event loop's: tens of µs), looks at the event word again on the next
   * turns of the event loop for up to POLL_MS: a peer that answers within it
   * (a request's response, a receiver catching up) is seen at once, and the
   * event loop keeps serving everything else meanwhile. true when the word
   * moved or `op` ended: the caller tries again. Adaptive, as the engine's
   * spin: each poll that sees nothing halves the next one's time (down to
   * none: a machine with more busy processes than cores, where the peer is
   * not running anyway); a poll that succeeds restores it, and while it is
   * off every PROBE_EVERY-th wait polls again in full, to notice when
   * polling pays again.
   */
  async #poll(side: Side, op: Op): Promise<boolean> {
    if (side.pollMs < MIN_POLL_MS) {
      if (++side.pollSkipped < PROBE_EVERY) return false
      side.pollSkipped = 0
      side.pollMs = POLL_MS
    }
    const value = this.#sleepValue | 1
    const until = performance.now() + side.pollMs
    do {
      await nextTurn()
      if (op.done || this.#closed || side.held !== undefined || (side.observe() | 1) !== value) {
        side.pollMs = POLL_MS
        return true
      }
    } while (performance.now() < until)
    side.pollMs /= 2
    return false
  }

  /** One try of `op`: DONE (settled, or holding a slot or view), AGAIN, BUSY (another holds the lock), or SLEEP (on #sleepValue). */
  #attempt(side: Side, op: Op): number {
    if (side === this.#send) {
      if (!this.#spinLock(side)) return BUSY
      return this.#sendHeld(op, side.lock)
    }
    const h = this.#h
    if (!this.#nonEmpty()) {
      if (Atomics.load(h, L.SEALED) !== 0) {
        this.#settle(side, op, sealedError())
        return DONE
      }
      if (!this.#spinForMessage()) {
        const ev = side.observe()
        if (!this.#nonEmpty() && Atomics.load(h, L.SEALED) === 0) return this.#sleep(ev)
      }
      return AGAIN
    }
    if (!this.#spinLock(side)) return BUSY
    return this.#receiveHeld(op, side.lock)
  }

  #sendHeld(op: Op, lock: Mutex): number {
    const side = this.#send
    const reserve = op.kind === RESERVE
    let got = reserve ? this.#fit(op.length) : this.#put(op.type, op.data, op.length)
    if (got === FULL) {
      // Observe, then look again: room made after the first look either
      // shows now or changes the event word we sleep on.
      const ev = side.observe()
      got = reserve ? this.#fit(op.length) : this.#put(op.type, op.data, op.length)
      if (got === FULL) {
        lock.release()
        return this.#sleep(ev)
      }
    }
    if (got === SEALED) {
      lock.release()
      this.#settle(side, op, sealedError())
    } else if (reserve) {
      side.hold(lock) // until commit or abort
      this.#settle(side, op, undefined, this.#slot(op.length, lock))
    } else {
      lock.release()
      this.#settle(side, op, undefined)
    }
    return DONE
  }

  #receiveHeld(op: Op, lock: Mutex): number {
    const side = this.#recv
    if (op.kind === VIEW) {
      const view = this.#view(lock)
      if (view === undefined) return AGAIN
      side.hold(lock) // until release
      this.#settle(side, op, undefined, view)
      return DONE
    }
    const got = this.#takeHeld(lock)
    if (got === EMPTY) return AGAIN
    this.#settle(side, op, undefined, this.#decode(got))
    return DONE
  }

  #sleep(value: number): number {
    this.#sleepValue = value
    return SLEEP
  }

  /** Takes `side`'s lock without leaving the event loop: a few tries (its holders hold it briefly). */
  #spinLock(side: Side): boolean {
    for (let i = 0; i < LOCK_TRIES; i++) if (side.lock.tryAcquire()) return true
    return false
  }

  // ---- zero copy ----------------------------------------------------------

  /** The slot #fit found room for (the senders' lock is held until commit or abort). */
  #slot(n: number, lock: Mutex): ReservedSlot {
    const tail = this.#h[L.TAIL]
    const off = this.#at
    const pad = this.#pad
    const window = shm.window(this.#map.buffer, this.#map.byteOffset + HEADER_BYTES + off + L.RECORD_HEADER, n)
    this.#sendWindow = window
    const buffer = Buffer.from(window)
    let done = false
    const end = (length: number): void => {
      done = true
      this.#endWindow(true)
      this.#send.unhold()
      if (length >= 0) this.#publish(tail, off, pad, L.BYTES, length)
      lock.release()
      void this.#pump(this.#send)
    }
    return {
      buffer,
      commit: (length?: number) => {
        if (done) throw slotEndedError()
        // close() gave the room back: nothing is sent.
        if (this.#closed) throw closedError('Channel')
        end(length === undefined ? n : check.integer(length, 'length', 0, n))
      },
      abort: () => {
        if (!done && !this.#closed) end(-1)
      },
    }
  }

  /** A view of the oldest message (the receivers' lock is held, and stays held until release), or undefined. */
  #view(lock: Mutex): ReceivedMessage | undefined {
    if (!this.#oldest(lock)) {
      lock.release()
      return undefined
    }
    const head = this.#head
    const off = this.#at
    const length = this.#length
    const type = this.#takenType
    const size = L.recordSize(length)
    const start = off + L.RECORD_HEADER
    const window = shm.window(this.#map.buffer, this.#map.byteOffset + HEADER_BYTES + start, length)
    this.#recvWindow = window
    const buffer = Buffer.from(window)
    let done = false
    let decoded: { value: unknown } | undefined
    const release = (): void => {
      if (done) return
      done = true
      this.#endWindow(false)
      this.#recv.unhold()
      if (!this.#closed) {
        this.#send.beforeChange()
        this.#storeHead((head + size) | 0)
        this.#send.changed()
      }
      lock.release()
      void this.#pump(this.#recv)
    }
    return {
      buffer,
      type: TYPE_NAMES[type] as 'bytes' | 'string' | 'value',
      get value(): unknown {
        if (decoded === undefined) {
          if (done) throw slotEndedError()
          if (type === L.STRING) decoded = { value: buffer.toString('utf8') }
          else if (type === L.VALUE) {
            const plain = decodePlain(buffer, 0, buffer.length)
            decoded = { value: plain !== NOT_PLAIN ? plain : deserialize(Buffer.from(buffer)) }
          } else decoded = { value: Buffer.from(buffer) }
        }
        return decoded.value
      },
      release,
    }
  }

  /** Detaches the window of the slot (send) or view (receive): every view of it reads empty. */
  #endWindow(send: boolean): void {
    const window = send ? this.#sendWindow : this.#recvWindow
    if (window === undefined) return
    if (send) this.#sendWindow = undefined
    else this.#recvWindow = undefined
    shm.detach(window)
  }
}

// #attempt's answers.
const DONE = 0
const AGAIN = 1
const BUSY = 2
const SLEEP = 3

/** Resolves on the event loop's next turn (after pending I/O callbacks). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

function capacityOf(value: unknown): number {
  const n = check.integer(value, 'options.capacity', 1, L.MAX_CAPACITY)
  let cap = L.MIN_CAPACITY
  while (cap < n) cap *= 2
  return cap
}

/** Fills in a fresh header, or reads an existing one: [capacity, maxMessage]. */
function initialise(map: IPCBuffer, cap: number, max: number | undefined): [number, number] {
  if (map.length < HEADER_BYTES + L.MIN_CAPACITY) {
    throw new IPCError(-EINVAL, 'mmap', map.name, 'the object is too small to be a channel')
  }
  const h = new Int32Array(map.buffer, map.byteOffset, L.HEADER_WORDS)
  // Each field is set once, by the first opener to reach it; the others adopt it.
  const magic = Atomics.load(h, L.MAGIC)
  if (magic !== 0 && magic !== L.MAGIC_VALUE) {
    throw new IPCError(-EINVAL, 'open', map.name, 'the object exists and is not an ipc-kit channel')
  }
  Atomics.compareExchange(h, L.LAYOUT, 0, L.LAYOUT_VERSION)
  Atomics.compareExchange(h, L.CAPACITY, 0, Math.min(cap, map.length - HEADER_BYTES))
  const have = Atomics.load(h, L.CAPACITY)
  Atomics.compareExchange(
    h,
    L.MAX_MESSAGE,
    0,
    max !== undefined && max <= have - L.RECORD_HEADER ? max : have / 2 - L.RECORD_HEADER,
  )
  const most = Atomics.load(h, L.MAX_MESSAGE)
  Atomics.compareExchange(h, L.MAGIC, 0, L.MAGIC_VALUE)
  if (
    Atomics.load(h, L.LAYOUT) !== L.LAYOUT_VERSION ||
    have < L.MIN_CAPACITY ||
    (have & (have - 1)) !== 0 ||
    have > L.MAX_CAPACITY
  ) {
    throw new IPCError(-EINVAL, 'open', map.name, 'the channel was made by an incompatible version of ipc-kit')
  }
  return [have, most]
}

function tooLarge(length: number, max: number): RangeError {
  return outOfRange('value', `at most ${max} bytes long (the channel's maxMessage)`, `${length} bytes`)
}

function sealedError(): Error {
  const err = new Error('the channel is sealed') as Error & { code: string }
  err.code = 'ERR_IPC_SEALED'
  return err
}

function slotEndedError(): Error {
  const err = new Error('the slot or message was already committed, aborted or released') as Error & { code: string }
  err.code = 'ERR_IPC_RELEASED'
  return err
}
