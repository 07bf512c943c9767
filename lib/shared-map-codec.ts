// Keys and values as bytes: a key is hashed over its bytes in JavaScript (no
// allocation for short ASCII strings); a value is a Buffer, a string, or
// anything else through v8.serialize.
import { deserialize, serialize } from 'node:v8'
import { copyOut } from './copy-out'
import { invalidType, outOfRange } from './errors'
import { KEY_BUFFER, KEY_MAX, KEY_STRING, VALUE_BUFFER, VALUE_SERIALIZED, VALUE_STRING } from './shared-map-layout'

/** Buffer's UTF-8 methods without the argument parsing of write() and toString(). */
export type Bytes = Buffer & {
  utf8Write(s: string, at: number, length: number): number
  utf8Slice(start: number, end: number): string
}

/**
 * The key being looked up, as bytes in `bytes[0..length)`. One per process:
 * every operation encodes its key right before it uses it, with no user code
 * in between.
 */
export const key = {
  bytes: Buffer.allocUnsafeSlow(KEY_MAX + 1) as Bytes,
  length: 0,
  type: KEY_STRING,
  hash: 0,
}

/** Encodes `k` into `key` and hashes it. Throws TypeError / RangeError on a bad key. */
export function encodeKey(k: unknown): void {
  if (typeof k === 'string') {
    const n = k.length
    if (n <= 256) {
      // ASCII fast path: bytes and hash in one pass.
      const bytes = key.bytes
      let h = 0x811c9dc5
      let i = 0
      for (; i < n; i++) {
        const c = k.charCodeAt(i)
        if (c >= 0x80) break
        bytes[i] = c
        h = Math.imul(h ^ c, 0x01000193)
      }
      if (i === n) {
        key.length = n
        key.type = KEY_STRING
        key.hash = mix(h)
        return
      }
    }
    const length = Buffer.byteLength(k, 'utf8')
    if (length > KEY_MAX) throw outOfRange('key', `at most ${KEY_MAX} bytes long`, `${length} bytes`)
    key.bytes.utf8Write(k, 0, length)
    key.length = length
    key.type = KEY_STRING
  } else if (k instanceof Uint8Array) {
    if (k.length > KEY_MAX) throw outOfRange('key', `at most ${KEY_MAX} bytes long`, `${k.length} bytes`)
    key.bytes.set(k, 0)
    key.length = k.length
    key.type = KEY_BUFFER
  } else {
    throw invalidType('key', 'of type string or an instance of Buffer or Uint8Array', k)
  }
  key.hash = hashBytes(key.bytes, key.length, key.type)
}

/** FNV-1a over the bytes, then a finalizer so the low bits (the bucket) are well mixed. */
export function hashBytes(bytes: Uint8Array, length: number, type: number): number {
  let h = type === KEY_STRING ? 0x811c9dc5 : 0x811c9dc5 ^ 0x5bd1e995
  for (let i = 0; i < length; i++) h = Math.imul(h ^ bytes[i], 0x01000193)
  return mix(h)
}

function mix(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) | 0
}

/** A value ready to be written: its type, its length in bytes, and what to copy. */
export interface Encoded {
  type: number
  length: number
  string?: string
  bytes?: Uint8Array
}

/** Encodes a value; user code (getters, v8 serialization) runs here, never later. */
export function encodeValue(value: unknown): Encoded {
  if (typeof value === 'string') {
    return { type: VALUE_STRING, length: Buffer.byteLength(value, 'utf8'), string: value }
  }
  if (
    value instanceof Uint8Array &&
    (value.constructor === Buffer || value.constructor === Uint8Array || Buffer.isBuffer(value))
  ) {
    return { type: VALUE_BUFFER, length: value.length, bytes: value }
  }
  const bytes = serialize(value)
  return { type: VALUE_SERIALIZED, length: bytes.length, bytes }
}

/** Writes an encoded value at `at` of `u8`. */
export function writeValue(u8: Bytes, at: number, value: Encoded): void {
  if (value.string !== undefined) u8.utf8Write(value.string, at, value.length)
  else u8.set(value.bytes!, at)
}

/** Bytes read out of the map become the value they encode (after the read was validated). */
export function decodeValue(type: number, raw: Buffer | string): unknown {
  if (type === VALUE_SERIALIZED) return deserialize(raw as Buffer)
  return raw
}

/** A stored key back as the caller gave it: a string or a Buffer. */
export function decodeKey(u8: Bytes, at: number, length: number, type: number): string | Buffer {
  if (type === KEY_STRING) return u8.utf8Slice(at, at + length)
  return copyOut(u8, at, at + length)
}
