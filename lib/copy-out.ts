// Copies of bytes read out of shared memory, as Buffers of their own. A small
// one is a slice of a pool, as Buffer.allocUnsafe() makes them: one memory
// allocation serves many, where a Buffer of its own costs more than copying
// 4 KiB into it. Each copy still has bytes of its own; only its `buffer` is
// shared, and a copy kept alive keeps its pool (64 KiB) alive.
const POOL_SIZE = 64 * 1024
const POOLED_MAX = 8 * 1024
/**
 * Up to this many bytes, an int32 loop copies faster than Buffer#copy, whose
 * generic path makes a temporary Uint8Array per call (64 bytes: about 100 ns
 * against 160-230 ns with the Buffer's allocation, Node 20).
 */
const WORD_COPY_MAX = 128

let pool = Buffer.allocUnsafeSlow(POOL_SIZE).buffer
let pool32 = new Int32Array(pool)
/** Bytes of the pool given out; kept a multiple of 8, so every copy starts aligned. */
let poolUsed = 0

/**
 * A new Buffer holding a copy of `u8[from..to)`. With `words` (an Int32Array
 * over the same memory as `u8`, from its offset 0), a 4-aligned `from` and
 * memory readable up to `to` rounded up to 4 bytes, a small copy goes by
 * words.
 */
export function copyOut(u8: Buffer, from: number, to: number, words?: Int32Array): Buffer {
  const length = to - from
  if (length > POOLED_MAX) {
    const out = Buffer.allocUnsafeSlow(length)
    u8.copy(out, 0, from, to)
    return out
  }
  if (poolUsed + length > POOL_SIZE) {
    pool = Buffer.allocUnsafeSlow(POOL_SIZE).buffer
    pool32 = new Int32Array(pool)
    poolUsed = 0
  }
  const at = poolUsed
  const out = Buffer.from(pool, at, length)
  poolUsed = (at + length + 7) & ~7
  if (words !== undefined && length <= WORD_COPY_MAX && (from & 3) === 0) {
    const src = from >> 2
    const dst = at >> 2
    const n = (length + 3) >> 2
    for (let i = 0; i < n; i++) pool32[dst + i] = words[src + i]
  } else {
    u8.copy(out, 0, from, to)
  }
  return out
}
