import { constants } from 'node:os'
import { IPCError, closedError, invalidValue } from './errors'
import { shm, type Handle } from './native'
import { construct, type FormMakers } from './ipc-buffer-forms'
import { bytes, mountOf } from './mounts'
import * as check from './validate'

export type Kind = 'memory' | 'posix' | 'file' | 'sysv'
export type SharedKind = Exclude<Kind, 'memory'>

export interface OpenOptions {
  /** Bytes; needed to create, and a larger size grows an existing object. */
  size?: number
  /** true: open or create (the default when size is given); 'exclusive': EEXIST if present; false: ENOENT if absent. */
  create?: boolean | 'exclusive'
  /** Permission bits of a created object, whatever the umask. Default 0o600. */
  mode?: number
  /** Open read-only and map copy-on-write: see others' writes, keep our own private. */
  readonly?: boolean
}

const KIND_CODE: Record<SharedKind, number> = shm.KIND
const { CREATE, EXCLUSIVE, READONLY } = shm.OPEN
// IPCError takes errno negative, as Node's fs errors carry it.
const EINVAL = -constants.errno.EINVAL
const ENOSPC = -constants.errno.ENOSPC
const EWOULDBLOCK = -constants.errno.EWOULDBLOCK
// How long an open waits for another program's flock before EWOULDBLOCK (native/shm).
const LOCK_WAIT_S = shm.LOCK_WAIT_MS / 1000

/** One mapping (or private block) shared by a buffer and its aliases. */
interface Region {
  readonly kind: Kind
  readonly name: string | number | undefined
  readonly root: ArrayBuffer
  readonly handle?: Handle
  /** Process-private memory this module allocated, which close() may detach. */
  readonly owned: boolean
  /** System V segment id: unlink() removes this very segment. */
  readonly shmid: number
  closed: boolean
}

interface State {
  readonly region: Region
  /** Default encoding of toString() and write(). */
  encoding?: BufferEncoding
}

// Kept outside the instances so an IPCBuffer has the shape of any Uint8Array.
const states = new WeakMap<object, State>()

function stateOf(buf: object): State {
  const state = states.get(buf)
  if (state === undefined) throw new TypeError('Illegal invocation: not an IPCBuffer')
  return state
}

/**
 * A Buffer whose bytes may live in shared memory. Build one with the
 * factories (IPCBuffer.posix/file/sysv) or the legacy call forms.
 */
class IPCBufferImpl extends Buffer {
  /** 'memory', 'posix', 'file' or 'sysv'. */
  get kind(): Kind {
    return stateOf(this).region.kind
  }

  /** The POSIX name ('/name'), file path or System V key; undefined for memory. */
  get name(): string | number | undefined {
    return stateOf(this).region.name
  }

  /** Writes the bytes back to the object (msync); blocking. */
  flush(): void {
    const { region } = stateOf(this)
    if (region.closed) throw closedError('IPCBuffer')
    if (region.handle !== undefined) shm.flush(region.handle, region.name as string)
  }

  /** msync on libuv's threadpool. */
  async flushAsync(): Promise<void> {
    const { region } = stateOf(this)
    if (region.closed) throw closedError('IPCBuffer')
    if (region.handle !== undefined) await shm.flushAsync(region.handle, region.name as string)
  }

  /** Removes the name; this mapping stays usable until closed. */
  unlink(): void {
    const { region } = stateOf(this)
    if (region.kind === 'sysv') shm.removeSysv(region.shmid, region.name as number)
    else if (region.kind !== 'memory') shm.unlink(KIND_CODE[region.kind], region.name as string)
  }

  /**
   * Unmaps now. This buffer, its aliases and every view of the memory read as
   * empty afterwards, and writes into them do nothing. Idempotent.
   */
  close(): void {
    const state = states.get(this)
    if (state === undefined || state.region.closed) return
    const { region } = state
    region.closed = true
    if (region.handle !== undefined) shm.close(region.handle, region.root)
    else if (region.owned) shm.detach(region.root)
  }

  [Symbol.dispose](): void {
    this.close()
  }

  override toString(encoding?: BufferEncoding, start?: number, end?: number): string {
    encoding ??= states.get(this)?.encoding
    return super.toString(encoding, start, end)
  }

  override write(string: string, ...rest: unknown[]): number {
    const encoding = states.get(this)?.encoding
    if (encoding !== undefined && !rest.some((arg) => typeof arg === 'string')) {
      // write(s), write(s, offset), write(s, offset, length): append the default
      if (rest.length === 0) rest.push(0)
      if (rest.length === 1) rest.push(this.length - (rest[0] as number))
      rest.push(encoding)
    }
    return (Buffer.prototype.write as (...args: unknown[]) => number).call(this, string, ...rest)
  }

  static posix(name: string, options?: OpenOptions): IPCBuffer {
    return openShared('posix', check.shmName(name), options)
  }

  static file(path: string, options?: OpenOptions): IPCBuffer {
    return openShared('file', check.filePath(path), options)
  }

  static sysv(key: number, options?: OpenOptions): IPCBuffer {
    return openShared('sysv', check.sysvKey(key), options)
  }

  /** Removes a named object. Throws ENOENT if there is none. */
  static unlink(kind: SharedKind, id: string | number): void {
    const [code, subject] = identify(kind, id)
    shm.unlink(code, subject)
  }

  static exists(kind: SharedKind, id: string | number): boolean {
    const [code, subject] = identify(kind, id)
    return shm.exists(code, subject)
  }
}

/**
 * @internal Maps `length` bytes of `buf`'s shared memory, from its start, once
 * more over `target` at `targetOffset` (a slot of the fast path, lib/fast-path/).
 */
export function aliasInto(buf: IPCBuffer, target: ArrayBuffer, targetOffset: number, length: number): void {
  const { region } = stateOf(buf)
  if (region.handle === undefined || region.closed) throw new TypeError('not an open shared IPCBuffer')
  shm.aliasInto(region.handle, buf.byteOffset, target, targetOffset, length)
}

function identify(kind: unknown, id: unknown): [number, string | number] {
  switch (kind) {
    case 'posix':
      return [KIND_CODE.posix, check.shmName(id, 'id')]
    case 'file':
      return [KIND_CODE.file, check.filePath(id, 'id')]
    case 'sysv':
      return [KIND_CODE.sysv, check.sysvKey(id, 'id')]
    default:
      throw invalidValue('kind', kind, "must be 'posix', 'file' or 'sysv'")
  }
}

function make(root: ArrayBuffer, offset: number, length: number, state: State): IPCBuffer {
  const buf = Reflect.construct(Uint8Array, [root, offset, length], IPCBufferImpl) as IPCBuffer
  states.set(buf, state)
  return buf
}

function memory(size: number, encoding?: BufferEncoding): IPCBuffer {
  // A fresh ArrayBuffer, never Buffer's shared pool: close() detaches it.
  const root = new ArrayBuffer(size)
  const region: Region = { kind: 'memory', name: undefined, root, owned: true, shmid: -1, closed: false }
  return make(root, 0, size, { region, encoding })
}

function openShared(kind: SharedKind, id: string | number, raw: unknown): IPCBuffer {
  const opts = check.options<OpenOptions>(raw)
  const size = opts.size === undefined ? 0 : check.size(opts.size, 'options.size')
  const readonly = check.boolean(opts.readonly, 'options.readonly')
  const create = check.create(opts.create, size > 0 && !readonly)
  const mode = check.mode(opts.mode, 'options.mode')
  if (create === 'exclusive' && size === 0) {
    throw invalidValue('options.size', opts.size, "is required to create ('exclusive')")
  }
  if (readonly && create !== false) {
    throw invalidValue('options.create', create, 'cannot be combined with readonly: a readonly open never creates')
  }
  if (readonly && kind === 'sysv') {
    throw invalidValue(
      'options.readonly',
      readonly,
      'is not supported for System V segments: they cannot be mapped copy-on-write',
    )
  }
  const flags = (create ? CREATE : 0) | (create === 'exclusive' ? EXCLUSIVE : 0) | (readonly ? READONLY : 0)
  let mapped
  try {
    mapped = shm.open(KIND_CODE[kind], id, flags, mode, size)
  } catch (err) {
    throw explain(err, kind, id, size)
  }
  const region: Region = {
    kind,
    name: id,
    root: mapped.buffer.buffer as ArrayBuffer,
    handle: mapped.handle,
    owned: true,
    shmid: mapped.id,
    closed: false,
  }
  if (readonly && size > mapped.size) {
    shm.close(mapped.handle, region.root)
    throw new IPCError(
      EINVAL,
      'mmap',
      id,
      `the object has ${mapped.size} bytes, fewer than options.size, and a readonly open cannot grow it`,
    )
  }
  return make(region.root, 0, mapped.buffer.length, { region })
}

/** Adds what the bare errno cannot say for the failures users meet. */
function explain(err: unknown, kind: SharedKind, id: string | number, size: number): unknown {
  if (!(err instanceof IPCError)) return err
  if (err.errno === ENOSPC && kind !== 'sysv') return noSpace(err, kind, id as string, size)
  if (err.errno === EWOULDBLOCK && err.syscall === 'flock') {
    return new IPCError(
      EWOULDBLOCK,
      'flock',
      id,
      `another process has held a lock (flock) on the object for ${LOCK_WAIT_S} s, so it cannot be grown now`,
    )
  }
  if (err.errno !== EINVAL) return err
  if (err.syscall === 'mmap') {
    return new IPCError(EINVAL, 'mmap', id, 'the object is empty: pass options.size to grow it')
  }
  if (kind === 'sysv' && err.syscall === 'shmget' && size > 0) {
    return new IPCError(
      EINVAL,
      'shmget',
      id,
      `the segment is smaller than ${size} bytes, and System V segments cannot grow`,
    )
  }
  return err
}

// The mount's advice: where /dev/shm is small, containers are the usual reason.
const SHM_ADVICE =
  'in Docker, give the container more (docker run --shm-size=1g); in Kubernetes, mount an emptyDir volume with medium: Memory (and a sizeLimit) at /dev/shm'

/** ENOSPC from reserving the pages: which mount is full, what it has left, and what to do. */
function noSpace(err: IPCError, kind: 'posix' | 'file', id: string, size: number): IPCError {
  // glibc keeps POSIX shared memory in /dev/shm.
  const path = kind === 'posix' ? '/dev/shm' + id : id
  const mount = mountOf(path)
  let detail = `no space left for ${bytes(size)}`
  if (mount !== undefined) {
    detail += ` on ${mount.mountPoint} (${mount.type}, ${bytes(mount.free)} free of ${bytes(mount.size)})`
  }
  detail +=
    kind === 'posix' || mount?.mountPoint === '/dev/shm'
      ? `: ${SHM_ADVICE}`
      : ': free space there or choose another file system'
  return new IPCError(err.errno, err.syscall, id, detail)
}

/** `count` bytes of `parent` from `start`: the same memory, another window (and region). */
function alias(parent: Uint8Array, start: number, count: number, encoding: BufferEncoding | undefined): IPCBuffer {
  const parentState = states.get(parent)
  const region: Region = parentState?.region ?? {
    kind: 'memory',
    name: undefined,
    root: parent.buffer as ArrayBuffer,
    owned: false, // someone else's memory (maybe Buffer's pool): never detached by us
    shmid: -1,
    closed: false,
  }
  return make(parent.buffer as ArrayBuffer, parent.byteOffset + start, count, {
    region,
    encoding: encoding ?? parentState?.encoding,
  })
}

/** What the legacy call forms make (ipc-buffer-forms.ts reads the arguments). */
const makers: FormMakers = {
  memory,
  shared(kind, id, size, encoding) {
    const buf = openShared(kind, id, { size })
    stateOf(buf).encoding = encoding
    return buf
  },
  alias,
}

export interface IPCBuffer extends IPCBufferImpl {}

export interface IPCBufferConstructor {
  /** Process-private memory of `size` bytes; `encoding` is the default of toString/write. */
  (size: number, encoding?: BufferEncoding): IPCBuffer
  /** `'*name'`: POSIX shared memory; another string: a file path; a number: a System V key. */
  (size: number, target: string | number): IPCBuffer
  (size: number, encoding: BufferEncoding, target: string | number): IPCBuffer
  (string: string, encoding?: BufferEncoding): IPCBuffer
  /** An alias: `length` bytes of `parent` from `offset`, the same memory. */
  (parent: Uint8Array, length: number, encoding?: BufferEncoding, offset?: number): IPCBuffer
  (parent: Uint8Array, length: number, offset?: number): IPCBuffer
  new (size: number, encoding?: BufferEncoding): IPCBuffer
  new (size: number, target: string | number): IPCBuffer
  new (size: number, encoding: BufferEncoding, target: string | number): IPCBuffer
  new (string: string, encoding?: BufferEncoding): IPCBuffer
  new (parent: Uint8Array, length: number, encoding?: BufferEncoding, offset?: number): IPCBuffer
  new (parent: Uint8Array, length: number, offset?: number): IPCBuffer
  readonly prototype: IPCBuffer
  posix: typeof IPCBufferImpl.posix
  file: typeof IPCBufferImpl.file
  sysv: typeof IPCBufferImpl.sysv
  unlink: typeof IPCBufferImpl.unlink
  exists: typeof IPCBufferImpl.exists
}

/** Callable with or without `new`, in the legacy call forms too (ipc-buffer-forms.ts). */
export const IPCBuffer = new Proxy(IPCBufferImpl, {
  apply: (_target, _this, args: unknown[]) => construct(args, makers),
  construct: (_target, args: unknown[]) => construct(args, makers),
}) as unknown as IPCBufferConstructor

Object.defineProperty(IPCBufferImpl.prototype, 'constructor', { value: IPCBuffer, writable: true, configurable: true })
Object.defineProperty(IPCBufferImpl, 'name', { value: 'IPCBuffer' })
// Views made by subarray()/map() are plain Buffers over the same memory.
const bufferSpecies: unknown = Reflect.get(Buffer, Symbol.species)
Object.defineProperty(IPCBufferImpl, Symbol.species, { get: () => bufferSpecies })
