// Argument checks shared by every class: all of them run before any system call.
import { constants as bufferConstants } from 'node:buffer'
import { invalidType, invalidValue, outOfRange } from './errors'

/** @internal Longest name component Linux accepts (NAME_MAX). */
export const NAME_MAX = 255
/** @internal System V keys are C's key_t, a signed 32-bit number: every non-zero one is accepted,
 * given signed (-0x80000000..-1) or unsigned (1..0xffffffff), and reported unsigned, as ipcs prints it. */
export const KEY_MIN = -0x80000000
/** @internal */
export const KEY_MAX = 0xffffffff
/** @internal Largest buffer this Node can address. */
export const SIZE_MAX = bufferConstants.MAX_LENGTH

/** @internal */
export type Create = boolean | 'exclusive'

/**
 * @internal A POSIX IPC name, '/name' or 'name', returned with its leading slash.
 * `reserved` is what the system adds to the name (the 'sem.' prefix of semaphores).
 */
export function posixName(name: unknown, arg = 'name', reserved = 0): string {
  if (typeof name !== 'string') throw invalidType(arg, 'of type string', name)
  const bare = name.startsWith('/') ? name.slice(1) : name
  if (bare.length === 0) throw invalidValue(arg, name, 'must not be empty')
  if (bare.includes('/')) throw invalidValue(arg, name, "must not contain '/' after the first character")
  if (bare.includes('\0')) throw invalidValue(arg, name, 'must not contain null bytes')
  if (!wellFormed(bare)) throw invalidValue(arg, name, 'must be valid Unicode (a lone surrogate would become U+FFFD)')
  if (bare === '.' || bare === '..') throw invalidValue(arg, name, "must not be '.' or '..'")
  if (Buffer.byteLength(bare) > NAME_MAX - reserved) {
    throw invalidValue(arg, name, `must be at most ${NAME_MAX - reserved} bytes long`)
  }
  return '/' + bare
}

/**
 * @internal A POSIX shared memory name: a POSIX name that is not glibc's file of a POSIX
 * semaphore ('sem.X' is semaphore X's own bytes in /dev/shm).
 */
export function shmName(name: unknown, arg = 'name'): string {
  const checked = posixName(name, arg)
  if (checked.startsWith('/sem.')) {
    throw invalidValue(arg, name, "must not start with 'sem.': that is where the system keeps POSIX semaphores")
  }
  return checked
}

/** Whether `s` survives UTF-8, which names reach the system in: no lone surrogates. */
function wellFormed(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s
}

/** @internal */
export function filePath(path: unknown, arg = 'path'): string {
  if (typeof path !== 'string') throw invalidType(arg, 'of type string', path)
  if (path.length === 0) throw invalidValue(arg, path, 'must not be empty')
  if (path.includes('\0')) throw invalidValue(arg, path, 'must not contain null bytes')
  if (!wellFormed(path)) throw invalidValue(arg, path, 'must be valid Unicode (a lone surrogate would become U+FFFD)')
  return path
}

/** @internal A System V key, returned in its unsigned form (0xdeadbeef for -559038737). */
export function sysvKey(key: unknown, arg = 'key'): number {
  if (typeof key !== 'number') throw invalidType(arg, 'of type number', key)
  if (!Number.isInteger(key) || key < KEY_MIN || key > KEY_MAX || key === 0) {
    throw outOfRange(arg, `a non-zero integer >= ${KEY_MIN} and <= 0x${KEY_MAX.toString(16)} (a 32-bit key_t)`, key)
  }
  return key >>> 0
}

/** @internal */
export function integer(value: unknown, arg: string, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidType(arg, 'of type number', value)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(arg, `an integer >= ${min} and <= ${max}`, value)
  }
  return value
}

/** @internal */
export function size(value: unknown, arg = 'size'): number {
  return integer(value, arg, 1, SIZE_MAX)
}

/** @internal */
export function mode(value: unknown, arg = 'mode'): number {
  return value === undefined ? 0o600 : integer(value, arg, 0, 0o777)
}

/** @internal */
export function options<T extends object>(value: unknown, arg = 'options'): Partial<T> {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object') throw invalidType(arg, 'of type object', value)
  return value as Partial<T>
}

/** @internal */
export function create(value: unknown, fallback: Create, arg = 'options.create'): Create {
  if (value === undefined) return fallback
  if (value !== true && value !== false && value !== 'exclusive') {
    throw invalidValue(arg, value, "must be true, false or 'exclusive'")
  }
  return value
}

/** @internal */
export function boolean(value: unknown, arg: string): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw invalidType(arg, 'of type boolean', value)
  return value
}

/** @internal A timeout in milliseconds: undefined waits forever, 0 is a try. */
export function timeout(value: unknown, arg = 'timeout'): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number') throw invalidType(arg, 'of type number', value)
  if (Number.isNaN(value) || value < 0) throw outOfRange(arg, 'a number >= 0', value)
  return value === Infinity ? undefined : value
}

/** @internal */
export function abortSignal(value: unknown, arg = 'options.signal'): AbortSignal | undefined {
  if (value === undefined) return undefined
  if (!(value instanceof AbortSignal)) throw invalidType(arg, 'an instance of AbortSignal', value)
  return value
}

/** @internal */
export function string(value: unknown, arg: string): string {
  if (typeof value !== 'string') throw invalidType(arg, 'of type string', value)
  return value
}
