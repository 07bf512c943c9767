// Argument checks shared by every class: all of them run before any system call.
import { constants as bufferConstants } from 'node:buffer'
import { invalidType, invalidValue, outOfRange } from './errors'

/** @internal Longest name component Linux accepts (NAME_MAX). */
export const NAME_MAX = 255
/** @internal Largest System V key we accept: a positive 31-bit integer. */
export const KEY_MAX = 0x7fffffff
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
  if (bare === '.' || bare === '..') throw invalidValue(arg, name, "must not be '.' or '..'")
  if (Buffer.byteLength(bare) > NAME_MAX - reserved) {
    throw invalidValue(arg, name, `must be at most ${NAME_MAX - reserved} bytes long`)
  }
  return '/' + bare
}

/** @internal */
export function filePath(path: unknown, arg = 'path'): string {
  if (typeof path !== 'string') throw invalidType(arg, 'of type string', path)
  if (path.length === 0) throw invalidValue(arg, path, 'must not be empty')
  if (path.includes('\0')) throw invalidValue(arg, path, 'must not contain null bytes')
  return path
}

/** @internal */
export function sysvKey(key: unknown, arg = 'key'): number {
  if (typeof key !== 'number') throw invalidType(arg, 'of type number', key)
  if (!Number.isInteger(key) || key < 1 || key > KEY_MAX) {
    throw outOfRange(arg, `an integer >= 1 and <= ${KEY_MAX}`, key)
  }
  return key
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
