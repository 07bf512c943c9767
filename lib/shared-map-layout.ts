// Where everything lives in a SharedMap's shared object (docs/design.md draws it).
// All offsets are bytes from the start of the mapping; a block offset of 0 means
// "none", since the data area starts after the header page.
import type { IPCBuffer } from './ipc-buffer'
import type { Bytes } from './shared-map-codec'
import { HEADER_SIZE } from './lock-word'

/** The header page: bytes 0..63 the lock, 64..127 a self-description, ours from 128. */
export const PAGE = HEADER_SIZE

// Header words (Int32 indices). Bytes 128..191: fixed at creation.
export const H_MAGIC = 32
export const H_LAYOUT = 33
export const H_READY = 34 // 1 once the creator has laid the map out
export const H_BUCKETS = 35 // bucket count, a power of two
export const H_DATA_START = 36
export const H_DATA_END = 37
export const H_MAX_VALUE = 38 // largest key + value bytes of one entry
export const H_MAX_ENTRIES = 39 // 0: no limit but the bytes
export const H_EVICTION = 40 // EVICT_LRU or EVICT_NONE
// Bytes 192..255: the writers' counters, changed only under the lock.
export const H_ENTRIES = 48
export const H_LIVE = 49 // bytes of the blocks that hold entries
export const H_FREE = 50 // bytes of the free blocks
export const F_EVICTIONS = 27 // Float64 index (byte 216)
export const F_EXPIRED = 28 // Float64 index (byte 224)
export const F_RECOVERIES = 29 // Float64 index (byte 232)
// Bytes 256..383: the allocator's free lists, one per power of two.
export const H_FREE_LISTS = 64
export const CLASSES = 32
// Bytes 384..447, a cache line of its own: the LRU clock (ticks once per write).
export const H_CLOCK = 96
// Bytes 448..511, a cache line of its own: how many times the map was opened
// (each opener takes the next stripe of counters).
export const H_OPENS = 112
// Bytes 2048..4095: hit and miss counters, striped so that readers in
// different processes do not fight over one cache line: the first 32 openers
// each have a stripe of their own.
export const STRIPES = 32
export const STRIPE_BASE = 512 // Int32 index of byte 2048; each stripe is 16 words: hits lo, hi, misses lo, hi

export const MAGIC = 0x4d535049 // 'IPSM'
export const LAYOUT = 1
export const EVICT_LRU = 0
export const EVICT_NONE = 1

// A block: [size|FREE][link][... body ...][size|FREE]. Sizes are multiples of 8.
export const FREE = 1
export const MIN_BLOCK = 64
/** Each 64-byte granule of the data area has an access stamp; a block starts at most one granule. */
export const GRANULE_SHIFT = 6
export const TRAILER = 4
// An entry's block: link to the next entry of its bucket, then the entry.
export const B_LINK = 4
export const E_HASH = 8
export const E_META = 12 // key bytes | key type << 16 | value type << 24
export const E_VALUE_LEN = 16
export const E_EXPIRES = 24 // Float64: Date.now() deadline, 0 = never
export const E_KEY = 32
// A free block: links of its free list.
export const F_PREV = 4
export const F_NEXT = 8

export const KEY_MAX = 0xffff
export const KEY_STRING = 0
export const KEY_BUFFER = 1
export const VALUE_BUFFER = 0
export const VALUE_STRING = 1
export const VALUE_SERIALIZED = 2

/** Largest object: block offsets are positive 32-bit integers. */
export const SIZE_LIMIT = 0x7fffffff & ~4095
/** Smallest data area worth having. */
export const DATA_MIN = 4096

/** Bytes of the block that holds an entry with these key and value lengths. */
export function blockSize(keyLength: number, valueLength: number): number {
  return Math.max(MIN_BLOCK, (E_KEY + keyLength + valueLength + TRAILER + 7) & ~7)
}

/** The largest key + value an entry can hold in a block of `bytes`. */
export function payloadOf(bytes: number): number {
  return (bytes & ~7) - E_KEY - TRAILER
}

export function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to
}

/** The power-of-two free list a block of `size` bytes belongs to. */
export function classOf(size: number): number {
  return 31 - Math.clz32(size)
}

/** Typed views over one mapping, shared by the map's parts. */
export class Views {
  readonly u8: Bytes
  readonly i32: Int32Array
  readonly f64: Float64Array
  constructor(map: IPCBuffer) {
    this.u8 = Buffer.from(map.buffer, map.byteOffset, map.length) as Bytes
    this.i32 = new Int32Array(map.buffer, map.byteOffset, map.length >>> 2)
    this.f64 = new Float64Array(map.buffer, map.byteOffset, map.length >>> 3)
  }
}

/** The geometry of a map, fixed when it is laid out. */
export interface Geometry {
  buckets: number
  /** Int32 index of bucket 0's [version, head] pair. */
  bucketBase: number
  /** Int32 index of the data area's first granule's access stamp. */
  stampBase: number
  dataStart: number
  dataEnd: number
  maxPayload: number
  maxEntries: number
  eviction: number
}

export function readGeometry(i32: Int32Array): Geometry {
  const buckets = i32[H_BUCKETS]
  return {
    buckets,
    bucketBase: PAGE >>> 2,
    stampBase: (PAGE >>> 2) + 2 * buckets,
    dataStart: i32[H_DATA_START],
    dataEnd: i32[H_DATA_END],
    maxPayload: i32[H_MAX_VALUE],
    maxEntries: i32[H_MAX_ENTRIES],
    eviction: i32[H_EVICTION],
  }
}

/** Lays out a map of `total` bytes; returns the geometry to write, or a reason it cannot. */
export function planGeometry(
  total: number,
  expectedEntries: number,
): { buckets: number; dataStart: number; dataEnd: number } {
  let buckets = 16
  while (buckets < expectedEntries && buckets < 1 << 26) buckets *= 2
  const stamps = 4 * Math.ceil(Math.max(0, total - PAGE - buckets * 8) >>> GRANULE_SHIFT)
  const dataStart = roundUp(PAGE + buckets * 8 + stamps, 64)
  const dataEnd = total & ~7
  return { buckets, dataStart, dataEnd }
}
