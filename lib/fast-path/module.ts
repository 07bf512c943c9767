// The fast path's WebAssembly module: four functions on shared words.
//
// Each `Atomics.*` call on a typed array costs a call into a V8 builtin, while
// V8 inlines calls from JavaScript into WebAssembly and a WebAssembly atomic is
// one instruction, so a Mutex's acquireSync + release and a Semaphore's
// tryWait + post cost a fraction of their Atomics or native forms (measured in
// bench/RESULTS.md). WebAssembly only reaches its own memory: slots.ts maps
// the shared page holding a lock word or a semaphore into a page of that
// memory. The module is assembled here, byte by byte (no toolchain, no file to
// load); test/fast-path-module.test.js checks each function against Atomics.
import { mutex } from '../native'

/** @internal The functions the module exports; addresses are byte offsets in its memory. */
export interface WasmOps {
  /** Mutex: compare-and-swap the word at `at` from 0 to `mine`; on success store `tag` in the owner's tag word, then `start` in the start word. Returns the old word (0: taken). */
  lock(at: number, mine: number, start: number, tag: number): number
  /** Mutex: clear the start word, then exchange the word with 0. Returns the old word. */
  unlock(at: number): number
  /** glibc sem_t at `at`: sem_trywait. SEM_TAKEN or SEM_EMPTY. */
  semTryWait(at: number): number
  /** glibc sem_t at `at`: adds `n` unless the count would pass `max` (SEM_OVERFLOW). SEM_WAKE when waiters sleep (wake them), else SEM_POSTED. */
  semPost(at: number, n: number, max: number): number
}

/** @internal What semTryWait returns. */
export const SEM_TAKEN = 1
/** @internal */
export const SEM_EMPTY = 0
/** @internal What semPost returns: posted, posted and waiters sleep, or refused (the count would pass max). */
export const SEM_POSTED = 0
/** @internal */
export const SEM_WAKE = 1
/** @internal */
export const SEM_OVERFLOW = -1

// Bytes from the lock word to the owner's start stamp and tag (native/mutex/lock_word.h).
const START_OFFSET = 4 * (mutex.LOCK.START - mutex.LOCK.WORD)
const OWNER_NS_OFFSET = 4 * (mutex.LOCK.OWNER_NS - mutex.LOCK.WORD)

// The module, assembled here (no toolchain, no file to load). Text form:
//
// (module
//   (import "m" "memory" (memory 0))
//   (func $lock (param $at i32) (param $mine i32) (param $start i32) (param $tag i32) (result i32) (local $old i32)
//     (local.tee $old (i32.atomic.rmw.cmpxchg (local.get $at) (i32.const 0) (local.get $mine)))
//     (if (i32.eqz) (then
//       (i32.store offset=OWNER_NS_OFFSET (local.get $at) (local.get $tag))
//       ;; the start stamp after the tag: i32.store where stores are seen in order (x86), else i32.atomic.store
//       (i32.store offset=START_OFFSET (local.get $at) (local.get $start))))
//     (local.get $old))
//   (func $unlock (param $at i32) (result i32)
//     (i32.store offset=START_OFFSET (local.get $at) (i32.const 0))
//     (i32.atomic.rmw.xchg (local.get $at) (i32.const 0)))
//   ;; glibc's sem_t: count in the low half of a 64-bit word, sleeping waiters in the high half.
//   (func $semTryWait (param $at i32) (result i32) (local $d i64)
//     (loop
//       (local.set $d (i64.atomic.load (local.get $at)))
//       (if (i64.eqz (i64.and (local.get $d) (i64.const 0xffffffff))) (then (return (i32.const 0))))
//       (if (i64.eq (i64.atomic.rmw.cmpxchg (local.get $at) (local.get $d) (i64.sub (local.get $d) (i64.const 1))) (local.get $d))
//         (then (return (i32.const 1))))
//       (br 0))
//     (unreachable))
//   (func $semPost (param $at i32) (param $n i32) (param $max i32) (result i32) (local $d i64)
//     (loop
//       (local.set $d (i64.atomic.load (local.get $at)))
//       (if (i32.gt_u (i32.wrap_i64 (local.get $d)) (i32.sub (local.get $max) (local.get $n))) (then (return (i32.const -1))))
//       (br_if 0 (i64.ne (i64.atomic.rmw.cmpxchg (local.get $at) (local.get $d)
//                          (i64.add (local.get $d) (i64.extend_i32_u (local.get $n)))) (local.get $d))))
//     (i32.eqz (i64.eqz (i64.shr_u (local.get $d) (i64.const 32))))))
const I32 = 0x7f
const I64 = 0x7e
// prettier-ignore
const op = {
  unreachable: 0x00, loop: 0x03, if: 0x04, end: 0x0b, br: 0x0c, brIf: 0x0d, return: 0x0f,
  localGet: 0x20, localSet: 0x21, localTee: 0x22, i32Store: 0x36, i32Const: 0x41, i64Const: 0x42,
  i32Eqz: 0x45, i32GtU: 0x4b, i64Eqz: 0x50, i64Eq: 0x51, i64Ne: 0x52, i32Sub: 0x6b,
  i64Add: 0x7c, i64Sub: 0x7d, i64And: 0x83, i64ShrU: 0x88, i32WrapI64: 0xa7, i64ExtendI32U: 0xad,
  void: 0x40,
}
// Atomic instructions: prefix 0xfe, opcode, alignment (log2 of the size: natural), offset.
const i32AtomicXchg = [0xfe, 0x41, 2, 0]
const i32AtomicCmpxchg = [0xfe, 0x48, 2, 0]
const i64AtomicLoad = [0xfe, 0x11, 3, 0]
const i64AtomicCmpxchg = [0xfe, 0x49, 3, 0]
const i32StoreStart = [op.i32Store, 2, ...uleb(START_OFFSET)] // the start word
const i32StoreTag = [op.i32Store, 2, ...uleb(OWNER_NS_OFFSET)] // the owner's tag
// The start stamp after the tag: x86 makes stores visible in program order; elsewhere a release is needed.
const i32StoreStartAfterTag =
  process.arch === 'x64' || process.arch === 'ia32' ? i32StoreStart : [0xfe, 0x17, 2, ...uleb(START_OFFSET)]

function uleb(n: number): number[] {
  const out: number[] = []
  do {
    let byte = n & 0x7f
    n >>>= 7
    if (n !== 0) byte |= 0x80
    out.push(byte)
  } while (n !== 0)
  return out
}

function sleb(n: bigint): number[] {
  const out: number[] = []
  for (;;) {
    const byte = Number(n & 0x7fn)
    n >>= 7n
    if ((n === 0n && (byte & 0x40) === 0) || (n === -1n && (byte & 0x40) !== 0)) return [...out, byte]
    out.push(byte | 0x80)
  }
}

const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()]
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body]
const text = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))]
const func = (locals: number[][], code: number[]): number[] => {
  const body = [...vector(locals), ...code, op.end]
  return [...uleb(body.length), ...body]
}

// prettier-ignore
/** @internal The module's bytes. */
export function moduleBytes(): Uint8Array {
  const { localGet: get, localSet: set, localTee: tee, i32Const, i64Const } = op
  const lock = func([[1, I32]], [
    get, 0, i32Const, 0, get, 1, ...i32AtomicCmpxchg, tee, 4,
    op.i32Eqz, op.if, op.void, get, 0, get, 3, ...i32StoreTag, get, 0, get, 2, ...i32StoreStartAfterTag, op.end,
    get, 4,
  ])
  const unlock = func([], [
    get, 0, i32Const, 0, ...i32StoreStart,
    get, 0, i32Const, 0, ...i32AtomicXchg,
  ])
  const semTryWait = func([[1, I64]], [
    op.loop, op.void,
    get, 0, ...i64AtomicLoad, set, 1,
    get, 1, i64Const, ...sleb(0xffffffffn), op.i64And, op.i64Eqz,
    op.if, op.void, i32Const, 0, op.return, op.end,
    get, 0, get, 1, get, 1, i64Const, 1, op.i64Sub, ...i64AtomicCmpxchg, get, 1, op.i64Eq,
    op.if, op.void, i32Const, 1, op.return, op.end,
    op.br, 0,
    op.end,
    op.unreachable,
  ])
  const semPost = func([[1, I64]], [
    op.loop, op.void,
    get, 0, ...i64AtomicLoad, set, 3,
    get, 3, op.i32WrapI64, get, 2, get, 1, op.i32Sub, op.i32GtU,
    op.if, op.void, i32Const, ...sleb(-1n), op.return, op.end,
    get, 0, get, 3, get, 3, get, 1, op.i64ExtendI32U, op.i64Add, ...i64AtomicCmpxchg, get, 3, op.i64Ne,
    op.brIf, 0,
    op.end,
    get, 3, i64Const, 32, op.i64ShrU, op.i64Eqz, op.i32Eqz,
  ])
  const types = vector([
    [0x60, ...vector([[I32], [I32], [I32]]), ...vector([[I32]])], // (i32 i32 i32) -> i32
    [0x60, ...vector([[I32]]), ...vector([[I32]])], // (i32) -> i32
    [0x60, ...vector([[I32], [I32], [I32], [I32]]), ...vector([[I32]])], // (i32 i32 i32 i32) -> i32
  ])
  const imports = vector([[...text('m'), ...text('memory'), 0x02, 0x00, 0]])
  const functions = vector([[2], [1], [1], [0]])
  const exports = vector([
    [...text('lock'), 0x00, 0],
    [...text('unlock'), 0x00, 1],
    [...text('semTryWait'), 0x00, 2],
    [...text('semPost'), 0x00, 3],
  ])
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, types),
    ...section(2, imports),
    ...section(3, functions),
    ...section(7, exports),
    ...section(10, vector([lock, unlock, semTryWait, semPost])),
  ])
}

// The few WebAssembly declarations used here (TypeScript has them only in its DOM library).
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array)
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number })
    readonly buffer: ArrayBuffer
  }
  class Instance {
    constructor(module: Module, imports: Record<string, Record<string, unknown>>)
    readonly exports: Record<string, unknown>
  }
}

/** @internal A memory of `pages` 64 KiB pages with the module over it: `ops` work on `buffer`. */
export interface Instance {
  readonly ops: WasmOps
  readonly buffer: ArrayBuffer
}

/** @internal The WebAssembly page size. */
export const WASM_PAGE = 65536

let compiled: WebAssembly.Module | null | undefined

function compile(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = typeof WebAssembly === 'object' ? new WebAssembly.Module(moduleBytes()) : null
    } catch {
      compiled = null // e.g. code generation disallowed
    }
  }
  return compiled
}

/**
 * @internal The module over a fresh memory of `pages` pages; undefined without
 * WebAssembly (node --jitless) or when the memory cannot be had.
 */
export function instantiate(pages: number): Instance | undefined {
  const module = compile()
  if (module === null) return undefined
  try {
    // No maximum beyond the initial size: the memory never grows (growing may move it).
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages })
    const instance = new WebAssembly.Instance(module, { m: { memory } })
    return { ops: instance.exports as unknown as WasmOps, buffer: memory.buffer }
  } catch {
    return undefined // address space exhausted, say: the callers' own paths serve
  }
}
