// Atomic operations on shared words through WebAssembly.
//
// Each `Atomics.*` call on a typed array costs a call into a V8 builtin (about
// 7 ns here), while V8 inlines calls from JavaScript into WebAssembly and a
// WebAssembly atomic is one instruction: a Mutex's acquireSync + release costs
// about 10 ns instead of 18, a Semaphore's tryWait + post 12 ns instead of 80.
// WebAssembly only reaches its own memory, so the shared page holding a lock
// word or a semaphore is mapped a second time into a page-sized slot of a
// WebAssembly.Memory (mremap: both addresses reach the same physical page).
// When its owner lets go, the slot gets private zero pages again and is reused.
//
// Everything here is optional: without WebAssembly (node --jitless), or where
// the alias cannot be made (not Linux, qemu-user), slotFor() returns undefined
// and the callers keep their Atomics and native paths, which speak the same
// protocol on the same memory.
import { sem as semBinding, shm } from './native'

/** The functions the module exports; addresses are byte offsets in its memory. */
export interface WasmOps {
  /** Mutex: compare-and-swap the word at `at` from 0 to `mine`; on success store `start` in the next word. Returns the old word. */
  lock(at: number, mine: number, start: number): number
  /** Mutex: clear the start word, then exchange the word with 0. Returns the old word. */
  unlock(at: number): number
  /** glibc sem_t at `at`: sem_trywait. 1 when a unit was taken, 0 when there was none. */
  semTryWait(at: number): number
  /** glibc sem_t at `at`: adds `n` unless the count would pass `max` (-1). Returns 1 when waiters sleep (wake them), else 0. */
  semPost(at: number, n: number, max: number): number
}

/** A page of a WebAssembly memory that aliases one shared page. */
export interface Slot {
  readonly ops: WasmOps
  /** The slot's page, as a byte offset in the module's memory. */
  readonly at: number
}

// The module, assembled here (no toolchain, no file to load). Text form:
//
// (module
//   (import "m" "memory" (memory 0))
//   (func $lock (param $at i32) (param $mine i32) (param $start i32) (result i32) (local $old i32)
//     (local.tee $old (i32.atomic.rmw.cmpxchg (local.get $at) (i32.const 0) (local.get $mine)))
//     (if (i32.eqz) (then (i32.store offset=4 (local.get $at) (local.get $start))))
//     (local.get $old))
//   (func $unlock (param $at i32) (result i32)
//     (i32.store offset=4 (local.get $at) (i32.const 0))
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
const i32StoreNext = [op.i32Store, 2, 4] // offset=4: the word after

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

function moduleBytes(): Uint8Array {
  const { localGet: get, localSet: set, localTee: tee, i32Const, i64Const } = op
  const lock = func([[1, I32]], [
    get, 0, i32Const, 0, get, 1, ...i32AtomicCmpxchg, tee, 3,
    op.i32Eqz, op.if, op.void, get, 0, get, 2, ...i32StoreNext, op.end,
    get, 3,
  ])
  const unlock = func([], [
    get, 0, i32Const, 0, ...i32StoreNext,
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
  ])
  const imports = vector([[...text('m'), ...text('memory'), 0x02, 0x00, 0]])
  const functions = vector([[0], [1], [1], [0]])
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

/** One WebAssembly memory and its instance; its pages are the slots. */
interface Arena {
  readonly ops: WasmOps
  readonly buffer: ArrayBuffer
  readonly free: number[]
}

// Slots per memory: the first arena serves most programs, so every lock's
// calls reach one instance, which V8 can inline at each call site.
const SLOTS_PER_ARENA = 1024
const WASM_PAGE = 65536

// IPC_KIT_WASM=0 turns the fast paths off (the tests run both ways).
const enabled = process.env.IPC_KIT_WASM !== '0'
let compiled: WebAssembly.Module | null | undefined
const arenas: Arena[] = []
const pageSize: number = shm.PAGE_SIZE

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

function newArena(): Arena | undefined {
  const module = compile()
  if (module === null) return undefined
  try {
    const pages = Math.ceil((SLOTS_PER_ARENA * pageSize) / WASM_PAGE)
    // No maximum beyond the initial size: the memory never grows (growing may move it).
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages })
    const instance = new WebAssembly.Instance(module, { m: { memory } })
    const count = Math.floor((pages * WASM_PAGE) / pageSize)
    const free: number[] = []
    for (let i = count - 1; i >= 0; i--) free.push(i * pageSize)
    return { ops: instance.exports as unknown as WasmOps, buffer: memory.buffer, free }
  } catch {
    return undefined // address space exhausted, say: the callers' own paths serve
  }
}

interface Held extends Slot {
  readonly arena: Arena
}

// Slots whose owner was collected without closing go back to the pool.
const collected = new FinalizationRegistry<Held>((slot) => release(slot))
const unregisterTokens = new WeakMap<Slot, object>()

/**
 * A slot aliasing the page that `map` (a function given the memory's buffer
 * and the slot's offset, which makes the alias) puts there; undefined when
 * WebAssembly or the alias is unavailable. `owner`'s collection frees it.
 */
export function slotFor(owner: object, map: (target: ArrayBuffer, offset: number) => void): Slot | undefined {
  if (!enabled) return undefined
  let arena = arenas.find((a) => a.free.length > 0)
  if (arena === undefined) {
    arena = newArena()
    if (arena === undefined) return undefined
    arenas.push(arena)
  }
  const at = arena.free.pop()!
  try {
    map(arena.buffer, at)
  } catch {
    arena.free.push(at) // the alias failed and left private zero pages there
    return undefined
  }
  const slot: Held = { ops: arena.ops, at, arena }
  const token = {}
  unregisterTokens.set(slot, token)
  collected.register(owner, slot, token)
  return slot
}

/** Drops the alias: the slot's page becomes private zero pages again, for the next owner. */
export function releaseSlot(slot: Slot): void {
  const token = unregisterTokens.get(slot)
  if (token === undefined) return
  unregisterTokens.delete(slot)
  collected.unregister(token)
  release(slot as Held)
}

function release(slot: Held): void {
  try {
    shm.unalias(slot.arena.buffer, slot.at, pageSize)
    slot.arena.free.push(slot.at)
  } catch {
    // Could not reset the page: never hand it out again.
  }
}

/** Aliases the page of an IPCBuffer's mapping that starts at `byteOffset` of its ArrayBuffer. */
export function slotForBuffer(owner: object, buffer: ArrayBuffer, byteOffset: number): Slot | undefined {
  if (byteOffset % pageSize !== 0) return undefined
  return slotFor(owner, (target, at) => shm.aliasInto(buffer, byteOffset, target, at, pageSize))
}

/** The POSIX semaphore's fast path needs glibc's layout, checked by the addon at load. */
export const semLayoutKnown: boolean = semBinding.POSIX_LAYOUT_KNOWN
