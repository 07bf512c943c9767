// Small plain values in V8's serialization format, written and read in
// JavaScript. `v8.serialize` and `v8.deserialize` build a native
// (de)serializer object per call, and the garbage collector then tracks each
// one: for a small object that costs several times the work itself. Values
// made only of plain objects, arrays, strings, numbers, booleans, null and
// undefined take this path; anything else (Map, Date, BigInt, typed arrays,
// a shared or cyclic reference, a holey array, more than MAX_OBJECTS objects)
// goes through v8.serialize. The bytes are what v8.deserialize reads, and
// decodePlain() reads what v8.serialize writes for this subset (it answers
// NOT_PLAIN for any other tag): either side may be the other.
import { types } from 'node:util'
import { serialize } from 'node:v8'

/** decodePlain()'s answer for bytes outside the subset: use v8.deserialize. */
export const NOT_PLAIN: unknown = Symbol('not plain')

// Tags of V8's format (src/objects/value-serializer.cc).
const VERSION = 0xff
const PADDING = 0x00
const UNDEFINED = 0x5f // '_'
const NULL = 0x30 // '0'
const TRUE = 0x54 // 'T'
const FALSE = 0x46 // 'F'
const INT32 = 0x49 // 'I' zigzag varint
const DOUBLE = 0x4e // 'N' 8 bytes, little-endian
const ONE_BYTE_STRING = 0x22 // '"' varint length, Latin-1 bytes
const TWO_BYTE_STRING = 0x63 // 'c' varint byte length, UTF-16LE (2-byte aligned by a PADDING before the tag)
const BEGIN_OBJECT = 0x6f // 'o' key value ... END_OBJECT varint count
const END_OBJECT = 0x7b // '{'
const BEGIN_DENSE_ARRAY = 0x41 // 'A' varint length, elements, END_DENSE_ARRAY varint properties varint length
const END_DENSE_ARRAY = 0x24 // '$'

// The header this Node writes (0xff, version): bytes written here carry the same.
const HEADER = serialize(null)
const HEADER_LENGTH = HEADER.length - 1
const usable = HEADER_LENGTH === 2 && HEADER[0] === VERSION && HEADER[1] < 0x80 && HEADER[2] === NULL

/** Objects and arrays in one value, at most: larger values are v8.serialize's (whose cost then dominates less). */
const MAX_OBJECTS = 64

const f64 = new Float64Array(1)
const f64Bytes = new Uint8Array(f64.buffer)

/** Writes values into a growing scratch Buffer. */
class Writer {
  buf = Buffer.allocUnsafeSlow(1024)
  at = 0
  /** Objects and arrays met so far (a second meeting is a shared reference: not plain). */
  readonly seen: object[] = []

  room(n: number): void {
    if (this.at + n <= this.buf.length) return
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.at + n))
    this.buf.copy(bigger, 0, 0, this.at)
    this.buf = bigger
  }

  byte(b: number): void {
    this.room(1)
    this.buf[this.at++] = b
  }

  varint(n: number): void {
    this.room(5)
    const buf = this.buf
    while (n >= 0x80) {
      buf[this.at++] = (n & 0x7f) | 0x80
      n >>>= 7
    }
    buf[this.at++] = n
  }

  /** false: not a plain value. */
  value(v: unknown): boolean {
    switch (typeof v) {
      case 'string':
        this.string(v)
        return true
      case 'number':
        if ((v | 0) === v && !Object.is(v, -0)) {
          this.byte(INT32)
          this.varint(((v << 1) ^ (v >> 31)) >>> 0)
        } else {
          this.room(9)
          this.buf[this.at++] = DOUBLE
          f64[0] = v
          this.buf.set(f64Bytes, this.at)
          this.at += 8
        }
        return true
      case 'boolean':
        this.byte(v ? TRUE : FALSE)
        return true
      case 'undefined':
        this.byte(UNDEFINED)
        return true
      case 'object':
        if (v === null) {
          this.byte(NULL)
          return true
        }
        // A Proxy is not cloneable (v8.serialize throws): left to it.
        if (this.seen.length >= MAX_OBJECTS || this.seen.includes(v) || types.isProxy(v)) return false
        this.seen.push(v)
        if (Array.isArray(v)) return this.array(v)
        return Object.getPrototypeOf(v) === Object.prototype && this.object(v as Record<string, unknown>)
      default:
        return false // bigint, symbol, function
    }
  }

  string(s: string): void {
    const n = s.length
    let wide = false
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) > 0xff) {
        wide = true
        break
      }
    }
    if (!wide) {
      this.byte(ONE_BYTE_STRING)
      this.varint(n)
      this.room(n)
      if (n > 32) {
        this.at += this.buf.write(s, this.at, 'latin1')
        return
      }
      const buf = this.buf
      let at = this.at
      for (let i = 0; i < n; i++) buf[at++] = s.charCodeAt(i)
      this.at = at
      return
    }
    // V8 aligns the UTF-16 data on 2 bytes: a PADDING before the tag when needed.
    if ((this.at + 1 + varintLength(2 * n)) & 1) this.byte(PADDING)
    this.byte(TWO_BYTE_STRING)
    this.varint(2 * n)
    this.room(2 * n)
    this.at += this.buf.write(s, this.at, 'utf16le')
  }

  array(a: unknown[]): boolean {
    const n = a.length
    if (Object.getPrototypeOf(a) !== Array.prototype) return false
    this.byte(BEGIN_DENSE_ARRAY)
    this.varint(n)
    for (let i = 0; i < n; i++) {
      const e = a[i]
      if (e === undefined && !(i in a)) return false // a hole
      if (!this.value(e)) return false
    }
    // Named properties besides the elements (a match result's index, ...) are v8.serialize's.
    if (Object.keys(a).length !== n) return false
    this.byte(END_DENSE_ARRAY)
    this.varint(0)
    this.varint(n)
    return true
  }

  object(o: Record<string, unknown>): boolean {
    this.byte(BEGIN_OBJECT)
    let count = 0
    for (const key in o) {
      if (!Object.hasOwn(o, key)) return false // enumerable inherited: not a plain object after all
      const c = key.charCodeAt(0)
      if (c >= 0x30 && c <= 0x39) return false // an index-like key: V8 writes it as a number
      this.string(key)
      if (!this.value(o[key])) return false
      count++
    }
    this.byte(END_OBJECT)
    this.varint(count)
    return true
  }
}

function varintLength(n: number): number {
  let len = 1
  while (n >= 0x80) {
    n >>>= 7
    len++
  }
  return len
}

const writer = new Writer()

/**
 * Encodes `value` as v8.serialize would (for plain values) into a scratch
 * Buffer, valid until the next call: the bytes, or undefined when `value`
 * is not plain.
 */
export function encodePlain(value: unknown): Buffer | undefined {
  if (!usable) return undefined
  const w = writer
  w.at = 0
  w.seen.length = 0
  w.room(HEADER_LENGTH)
  w.buf[w.at++] = HEADER[0]
  w.buf[w.at++] = HEADER[1]
  const ok = w.value(value)
  w.seen.length = 0
  return ok ? w.buf.subarray(0, w.at) : undefined
}

/** Reads a value of the plain subset from buf[start, end). */
class Reader {
  buf: Buffer = Buffer.alloc(0)
  at = 0
  end = 0
  /** Objects and arrays made so far (bounded: the receivers' lock is held meanwhile). */
  made = 0

  varint(): number {
    let n = 0
    let shift = 0
    for (;;) {
      if (this.at >= this.end || shift > 28) throw NOT_PLAIN
      const b = this.buf[this.at++]
      n |= (b & 0x7f) << shift
      if (b < 0x80) return n >>> 0
      shift += 7
    }
  }

  value(): unknown {
    if (this.at >= this.end) throw NOT_PLAIN
    let tag = this.buf[this.at++]
    while (tag === PADDING && this.at < this.end) tag = this.buf[this.at++]
    switch (tag) {
      case UNDEFINED:
        return undefined
      case NULL:
        return null
      case TRUE:
        return true
      case FALSE:
        return false
      case INT32: {
        const z = this.varint()
        return (z >>> 1) ^ -(z & 1)
      }
      case DOUBLE: {
        if (this.at + 8 > this.end) throw NOT_PLAIN
        for (let i = 0; i < 8; i++) f64Bytes[i] = this.buf[this.at++]
        return f64[0]
      }
      case ONE_BYTE_STRING:
      case TWO_BYTE_STRING:
        return this.string(tag)
      case BEGIN_OBJECT:
        return this.object()
      case BEGIN_DENSE_ARRAY:
        return this.array()
      default:
        throw NOT_PLAIN
    }
  }

  string(tag: number): string {
    const n = this.varint()
    const start = this.at
    if (start + n > this.end) throw NOT_PLAIN
    this.at += n
    if (tag === TWO_BYTE_STRING) {
      if (n & 1) throw NOT_PLAIN
      return this.buf.toString('utf16le', start, start + n)
    }
    if (n <= 16) {
      // Short strings (keys, names): cheaper than a call into C++.
      let s = ''
      for (let i = start; i < start + n; i++) s += String.fromCharCode(this.buf[i])
      return s
    }
    return this.buf.toString('latin1', start, start + n)
  }

  object(): Record<string, unknown> {
    if (++this.made > MAX_OBJECTS) throw NOT_PLAIN
    const o: Record<string, unknown> = {}
    let count = 0
    for (;;) {
      if (this.at >= this.end) throw NOT_PLAIN
      let tag = this.buf[this.at]
      while (tag === PADDING && this.at + 1 < this.end) tag = this.buf[++this.at]
      if (tag === END_OBJECT) {
        this.at++
        if (this.varint() !== count) throw NOT_PLAIN
        return o
      }
      this.at++
      if (tag !== ONE_BYTE_STRING && tag !== TWO_BYTE_STRING) throw NOT_PLAIN
      const key = this.string(tag)
      // Assignment would change the prototype, or make an index of a number-like key: V8's own reader handles those.
      if (key === '__proto__' || (key.charCodeAt(0) >= 0x30 && key.charCodeAt(0) <= 0x39)) throw NOT_PLAIN
      o[key] = this.value()
      count++
    }
  }

  array(): unknown[] {
    if (++this.made > MAX_OBJECTS) throw NOT_PLAIN
    const n = this.varint()
    if (n > this.end - this.at) throw NOT_PLAIN // each element takes a byte at least
    const a: unknown[] = []
    for (let i = 0; i < n; i++) a.push(this.value())
    if (this.at >= this.end || this.buf[this.at++] !== END_DENSE_ARRAY) throw NOT_PLAIN
    if (this.varint() !== 0 || this.varint() !== n) throw NOT_PLAIN
    return a
  }
}

const reader = new Reader()

/**
 * The value v8.deserialize would make of buf[start, end), when it is made
 * only of the plain subset; else NOT_PLAIN (nothing is allocated that views
 * `buf`: the bytes may be reused once this returns).
 */
export function decodePlain(buf: Buffer, start: number, end: number): unknown {
  if (!usable || end - start < HEADER_LENGTH + 1 || buf[start] !== VERSION) return NOT_PLAIN
  // The subset's bytes are the same from version 13 to this Node's.
  const version = buf[start + 1]
  if (version < 13 || version > HEADER[1]) return NOT_PLAIN
  const r = reader
  r.buf = buf
  r.at = start + HEADER_LENGTH
  r.end = end
  r.made = 0
  try {
    const v = r.value()
    return r.at === end ? v : NOT_PLAIN
  } catch {
    // Outside the subset, or malformed: v8.deserialize decides (and reports).
    return NOT_PLAIN
  } finally {
    r.buf = EMPTY_BUFFER
  }
}

const EMPTY_BUFFER = Buffer.alloc(0)
