// The fast path's slots: pages of the module's WebAssembly memory, each
// aliasing one shared page (a lock's header, a POSIX semaphore's page) so the
// module's functions (module.ts) reach it. The shared object's file is mapped
// a second time into the slot (MAP_FIXED | MAP_SHARED; a System V segment,
// which has no file, by mremap); both addresses reach the same physical page.
// When its owner lets go, the slot gets private zero pages again and is reused.
//
// Everything here is optional: without WebAssembly (node --jitless), with
// IPC_KIT_WASM=0, or where the alias cannot be made (not Linux; System V under qemu-user),
// slotFor() returns undefined and the callers keep their Atomics and native
// paths, which speak the same protocol on the same memory.
import { sem, shm } from '../native'
import { aliasInto, type IPCBuffer } from '../ipc-buffer'
import { instantiate, WASM_PAGE, type WasmOps } from './module'

/** @internal A page of a WebAssembly memory that aliases one shared page. */
export interface Slot {
  readonly ops: WasmOps
  /** The slot's page, as a byte offset in the module's memory. */
  readonly at: number
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

// IPC_KIT_WASM=0 turns the fast paths off (the tests run both ways).
const enabled = process.env.IPC_KIT_WASM !== '0'
const arenas: Arena[] = []
const pageSize: number = shm.PAGE_SIZE

function newArena(): Arena | undefined {
  const pages = Math.ceil((SLOTS_PER_ARENA * pageSize) / WASM_PAGE)
  const instance = instantiate(pages)
  if (instance === undefined) return undefined
  const count = Math.floor((pages * WASM_PAGE) / pageSize)
  const free: number[] = []
  for (let i = count - 1; i >= 0; i--) free.push(i * pageSize)
  return { ops: instance.ops, buffer: instance.buffer, free }
}

interface Held extends Slot {
  readonly arena: Arena
}

// Slots whose owner was collected without closing go back to the pool.
const collected = new FinalizationRegistry<Held>((slot) => release(slot))
const unregisterTokens = new WeakMap<Slot, object>()

/**
 * @internal A slot aliasing the page that `map` (a function given the memory's buffer
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

/** @internal Drops the alias: the slot's page becomes private zero pages again, for the next owner. */
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

/** @internal Aliases the first page of `map`, a shared IPCBuffer starting on a page. */
export function slotForBuffer(owner: object, map: IPCBuffer): Slot | undefined {
  if (map.byteOffset % pageSize !== 0) return undefined
  return slotFor(owner, (target, at) => aliasInto(map, target, at, pageSize))
}

/** @internal The POSIX semaphore's fast path needs glibc's layout, checked by the addon at load. */
export const semLayoutKnown: boolean = sem.POSIX_LAYOUT_KNOWN
