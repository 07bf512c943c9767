// After a writer died holding the lock, the index is the truth: every entry
// reachable from a bucket is whole (it was written before one atomic store
// published it), and everything else in the data area is free. Recovery
// rebuilds the allocator and the counters from that; verify() checks the
// same invariants without changing anything (tests, the torture test).
import type { Heap } from './shared-map-heap'
import {
  B_LINK,
  CLASSES,
  E_HASH,
  E_KEY,
  E_META,
  E_VALUE_LEN,
  FREE,
  F_RECOVERIES,
  F_NEXT,
  F_PREV,
  H_ENTRIES,
  H_FREE,
  H_FREE_LISTS,
  H_LIVE,
  MIN_BLOCK,
  TRAILER,
  classOf,
  type Geometry,
} from './shared-map-layout'

/** Whether `at` holds a whole entry of bucket `b`, as a writer leaves it before publishing. */
function wholeEntry(i32: Int32Array, g: Geometry, at: number, b: number): boolean {
  if (at < g.dataStart || at + MIN_BLOCK > g.dataEnd || (at & 7) !== 0) return false
  const word = i32[at >>> 2]
  const size = word & ~7
  if (word & FREE || size < MIN_BLOCK || at + size > g.dataEnd) return false
  if (i32[(at + size - TRAILER) >>> 2] !== word) return false
  if ((i32[(at + E_HASH) >>> 2] & (g.buckets - 1)) !== b) return false
  const keyLength = i32[(at + E_META) >>> 2] & 0xffff
  const valueLength = i32[(at + E_VALUE_LEN) >>> 2]
  return valueLength >= 0 && E_KEY + keyLength + valueLength + TRAILER <= size
}

/** Every entry reachable from the buckets, by offset. Cuts a chain at anything not whole (only memory corruption makes one). */
function liveEntries(i32: Int32Array, g: Geometry, repair: boolean): number[] {
  const found: number[] = []
  const limit = (g.dataEnd - g.dataStart) / MIN_BLOCK
  for (let b = 0; b < g.buckets; b++) {
    let link = g.bucketBase + 2 * b + 1
    let at = i32[link]
    let steps = 0
    while (at !== 0) {
      if (!wholeEntry(i32, g, at, b) || ++steps > limit) {
        if (!repair) throw new Error(`bucket ${b}: a link to ${at} that is not a whole entry`)
        Atomics.store(i32, link, 0)
        Atomics.add(i32, g.bucketBase + 2 * b, 1)
        break
      }
      found.push(at)
      link = (at + B_LINK) >>> 2
      at = i32[link]
    }
  }
  return found.sort((a, b) => a - b)
}

/** Rebuilds the free lists and counters from the index. Under the lock. */
export function recover(i32: Int32Array, g: Geometry, heap: Heap): void {
  const live = liveEntries(i32, g, true)
  for (let c = 0; c < CLASSES; c++) i32[H_FREE_LISTS + c] = 0
  i32[H_FREE] = 0
  let liveBytes = 0
  let entries = 0
  let cursor = g.dataStart
  for (const at of live) {
    // Two entries sharing bytes cannot come from a writer's steps; keep the first.
    if (at < cursor) continue
    if (at > cursor) heap.addFree(cursor, at - cursor)
    const size = heap.sizeOf(at)
    liveBytes += size
    entries++
    cursor = at + size
  }
  if (cursor < g.dataEnd) heap.addFree(cursor, g.dataEnd - cursor)
  i32[H_LIVE] = liveBytes
  i32[H_ENTRIES] = entries
  new Float64Array(i32.buffer, i32.byteOffset, F_RECOVERIES + 1)[F_RECOVERIES]++
}

/** What verify() counted by walking the data area. */
export interface HeapReport {
  entries: number
  live: number
  free: number
  freeBlocks: number
}

/**
 * Walks every block and every free list and checks them against the index and
 * the counters; throws on the first inconsistency. Under the lock.
 */
export function verify(i32: Int32Array, g: Geometry): HeapReport {
  const fail = (what: string): never => {
    throw new Error(`SharedMap heap check: ${what}`)
  }
  const indexed = new Set(liveEntries(i32, g, false))
  const freeSet = new Set<number>()
  let live = 0
  let free = 0
  let entries = 0
  let prevFree = false
  let at = g.dataStart
  while (at < g.dataEnd) {
    const word = i32[at >>> 2]
    const size = word & ~7
    if (size < MIN_BLOCK || at + size > g.dataEnd) fail(`block at ${at} has size ${size}`)
    if (i32[(at + size - TRAILER) >>> 2] !== word) fail(`block at ${at}: its two size words differ`)
    if (word & FREE) {
      if (prevFree) fail(`two free blocks side by side at ${at}`)
      freeSet.add(at)
      free += size
    } else {
      if (!indexed.has(at)) fail(`block at ${at} is in use but no bucket reaches it (leaked)`)
      live += size
      entries++
    }
    prevFree = (word & FREE) !== 0
    at += size
  }
  if (at !== g.dataEnd) fail(`the blocks end at ${at}, not at ${g.dataEnd}`)
  if (entries !== indexed.size) fail(`${indexed.size} entries indexed, ${entries} blocks in use`)
  let listed = 0
  for (let c = 0; c < CLASSES; c++) {
    let prev = 0
    for (let b = i32[H_FREE_LISTS + c]; b !== 0; b = i32[(b + F_NEXT) >>> 2]) {
      if (!freeSet.has(b)) fail(`free list ${c} holds ${b}, which is not a free block`)
      if (classOf(i32[b >>> 2] & ~7) !== c) fail(`free block ${b} is on list ${c}`)
      if (i32[(b + F_PREV) >>> 2] !== prev) fail(`free block ${b}: wrong back link`)
      if (++listed > freeSet.size) fail('a free list loops')
      prev = b
    }
  }
  if (listed !== freeSet.size) fail(`${freeSet.size} free blocks, ${listed} on the lists`)
  if (i32[H_LIVE] !== live) fail(`live bytes counted ${i32[H_LIVE]}, walked ${live}`)
  if (i32[H_FREE] !== free) fail(`free bytes counted ${i32[H_FREE]}, walked ${free}`)
  if (i32[H_ENTRIES] !== entries) fail(`entries counted ${i32[H_ENTRIES]}, walked ${entries}`)
  return { entries, live, free, freeBlocks: freeSet.size }
}
