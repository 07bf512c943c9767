// The data area's allocator: blocks with their size at both ends (boundary
// tags), free blocks on doubly linked lists by power of two, neighbours merged
// on free. Used only under the map's lock. Its state is never trusted after a
// crash: recovery rebuilds it from the index (shared-map-recovery.ts).
import {
  CLASSES,
  FREE,
  F_NEXT,
  F_PREV,
  H_FREE,
  H_FREE_LISTS,
  H_LIVE,
  MIN_BLOCK,
  TRAILER,
  classOf,
  type Geometry,
} from './shared-map-layout'

export class Heap {
  readonly #i32: Int32Array
  readonly #start: number
  readonly #end: number

  constructor(i32: Int32Array, geometry: Geometry) {
    this.#i32 = i32
    this.#start = geometry.dataStart
    this.#end = geometry.dataEnd
  }

  /** Size in bytes of the block at `at`. */
  sizeOf(at: number): number {
    return this.#i32[at >>> 2] & ~7
  }

  /** Makes the whole data area one free block. */
  reset(): void {
    const i32 = this.#i32
    for (let c = 0; c < CLASSES; c++) i32[H_FREE_LISTS + c] = 0
    i32[H_FREE] = 0
    i32[H_LIVE] = 0
    this.addFree(this.#start, this.#end - this.#start)
  }

  /**
   * A block of at least `size` bytes (a multiple of 8), counted as live; 0 if
   * no free block is large enough.
   */
  alloc(size: number): number {
    const i32 = this.#i32
    const c = classOf(size)
    // Blocks of size's own class may be smaller than size: look at a few.
    let at = i32[H_FREE_LISTS + c]
    for (let n = 0; at !== 0 && n < 8; n++, at = i32[(at + F_NEXT) >>> 2]) {
      if (this.sizeOf(at) >= size) return this.#take(at, size)
    }
    // Any block of a larger class fits.
    for (let k = c + 1; k < CLASSES; k++) {
      at = i32[H_FREE_LISTS + k]
      if (at !== 0) return this.#take(at, size)
    }
    return 0
  }

  /** Returns a live block to the free lists, merged with free neighbours. */
  release(at: number): void {
    const i32 = this.#i32
    let size = this.sizeOf(at)
    i32[H_LIVE] -= size
    const next = at + size
    if (next < this.#end && i32[next >>> 2] & FREE) {
      size += this.#unlink(next)
    }
    if (at > this.#start) {
      const tail = i32[(at - TRAILER) >>> 2]
      if (tail & FREE) {
        const prev = at - (tail & ~7)
        size += this.#unlink(prev)
        at = prev
      }
    }
    this.addFree(at, size)
  }

  /** Puts a free block of `size` bytes at `at` at the head of its list. */
  addFree(at: number, size: number): void {
    const i32 = this.#i32
    this.#mark(at, size | FREE)
    const head = H_FREE_LISTS + classOf(size)
    const first = i32[head]
    i32[(at + F_PREV) >>> 2] = 0
    i32[(at + F_NEXT) >>> 2] = first
    if (first !== 0) i32[(first + F_PREV) >>> 2] = at
    i32[head] = at
    i32[H_FREE] += size
  }

  /** Takes free block `at` off its list, splits off what `size` leaves over. */
  #take(at: number, size: number): number {
    const i32 = this.#i32
    const have = this.#unlink(at)
    if (have - size >= MIN_BLOCK) {
      this.addFree(at + size, have - size)
    } else {
      size = have
    }
    this.#mark(at, size)
    i32[H_LIVE] += size
    return at
  }

  /** Removes free block `at` from its list; returns its size. */
  #unlink(at: number): number {
    const i32 = this.#i32
    const size = this.sizeOf(at)
    const prev = i32[(at + F_PREV) >>> 2]
    const next = i32[(at + F_NEXT) >>> 2]
    if (prev !== 0) i32[(prev + F_NEXT) >>> 2] = next
    else i32[H_FREE_LISTS + classOf(size)] = next
    if (next !== 0) i32[(next + F_PREV) >>> 2] = prev
    i32[H_FREE] -= size
    return size
  }

  /** Writes a block's size and flags at both of its ends. */
  #mark(at: number, word: number): void {
    const i32 = this.#i32
    i32[at >>> 2] = word
    i32[(at + (word & ~7) - TRAILER) >>> 2] = word
  }
}
