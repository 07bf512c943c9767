import { constants } from 'node:os'
import { getSystemErrorMap, getSystemErrorName } from 'node:util'

/** What a system error was about: a POSIX name or file path, or a System V key. */
export type Subject = string | number | undefined

/**
 * A failed system call, shaped like Node's own fs errors: `code` ('ENOENT'),
 * negative `errno`, `syscall`, and the `path` (POSIX name or file) or `key`
 * (System V) involved.
 */
export class IPCError extends Error {
  readonly code: string
  readonly errno: number
  readonly syscall: string
  readonly path?: string
  readonly key?: number

  constructor(errno: number, syscall: string, subject?: Subject, detail?: string) {
    const code = errno === 0 ? 'ERR_IPC_UNSUPPORTED' : safeErrorName(errno)
    const description = detail ?? describe(errno, syscall)
    let message = `${code}: ${description}, ${syscall}`
    if (typeof subject === 'string') message += ` '${subject}'`
    else if (typeof subject === 'number') message += ` (key 0x${subject.toString(16).padStart(8, '0')})`
    super(message)
    this.name = 'IPCError'
    this.code = code
    this.errno = errno
    this.syscall = syscall
    if (typeof subject === 'string') this.path = subject
    else if (typeof subject === 'number') this.key = subject
  }
}

// Linux errnos that libuv's table (and so Node's) does not name.
const EXTRA_ERRORS = new Map<number, [string, string]>([
  [-constants.errno.EDEADLK, ['EDEADLK', 'resource deadlock avoided']],
  [-constants.errno.EIDRM, ['EIDRM', 'identifier removed']],
])

function safeErrorName(errno: number): string {
  const extra = EXTRA_ERRORS.get(errno)
  if (extra !== undefined) return extra[0]
  try {
    return getSystemErrorName(errno)
  } catch {
    return `Unknown system error ${errno}`
  }
}

function describe(errno: number, syscall: string): string {
  if (errno === 0 && syscall === 'napi_create_external_buffer') {
    return 'this runtime does not allow external buffers (V8 sandbox, e.g. Electron)'
  }
  return (EXTRA_ERRORS.get(errno) ?? getSystemErrorMap().get(errno))?.[1] ?? `unknown error ${errno}`
}

/** @internal Makes the IPCError for a native failure; handed to the addon at load. */
export function makeSystemError(errno: number, syscall: string, subject: Subject): IPCError {
  return new IPCError(errno, syscall, subject)
}

/** @internal Using an object after close(). */
export function closedError(what: string): Error {
  const err = new Error(`${what} is closed`) as Error & { code: string }
  err.code = 'ERR_IPC_CLOSED'
  return err
}

/** @internal */
export function invalidType(name: string, expected: string, actual: unknown): TypeError {
  return coded(
    new TypeError(`The "${name}" argument must be ${expected}. Received ${show(actual)}`),
    'ERR_INVALID_ARG_TYPE',
  )
}

/** @internal */
export function invalidValue(name: string, actual: unknown, reason: string): TypeError {
  return coded(new TypeError(`The argument '${name}' ${reason}. Received ${show(actual)}`), 'ERR_INVALID_ARG_VALUE')
}

/** @internal */
export function outOfRange(name: string, range: string, actual: unknown): RangeError {
  return coded(
    new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${show(actual)}`),
    'ERR_OUT_OF_RANGE',
  )
}

function coded<E extends Error>(err: E, code: string): E & { code: string } {
  return Object.assign(err, { code })
}

function show(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'string') return value.length > 40 ? `'${value.slice(0, 37)}...'` : `'${value}'`
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`
  if (typeof value === 'bigint') return `type bigint (${value}n)`
  return `type ${typeof value} (${String(value)})`
}
