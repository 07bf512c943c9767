// IPCBuffer's legacy call forms: the constructor forms of node-ipcbuffer,
// which IPCBuffer keeps, callable with or without `new`. This file reads their
// arguments; ipc-buffer.ts makes the buffers.
//   IPCBuffer(size[, encoding])                 process-private memory
//   IPCBuffer(size[, encoding], target)         '*name': POSIX shm; another string: a file; a number: a System V key
//   IPCBuffer(string[, encoding])               private memory holding the string's bytes
//   IPCBuffer(parent, length[, encoding][, offset])  an alias: the same memory, another window
import type { IPCBuffer, SharedKind } from './ipc-buffer'
import { invalidType, invalidValue } from './errors'
import * as check from './validate'

/** @internal The buffers the forms make. */
export interface FormMakers {
  memory(size: number, encoding?: BufferEncoding): IPCBuffer
  shared(kind: SharedKind, id: string | number, size: number, encoding: BufferEncoding | undefined): IPCBuffer
  alias(parent: Uint8Array, start: number, count: number, encoding: BufferEncoding | undefined): IPCBuffer
}

/** @internal The buffer a legacy call form asks for. */
export function construct(args: unknown[], make: FormMakers): IPCBuffer {
  const [first, second, third, fourth] = args
  if (typeof first === 'number') {
    let encoding: BufferEncoding | undefined
    let target = second
    if (typeof second === 'string' && Buffer.isEncoding(second)) {
      encoding = second
      target = third
    } else if (third !== undefined) {
      throw invalidType('encoding', 'a supported encoding before the name, path or key', second)
    }
    if (target === undefined) return make.memory(check.integer(first, 'size', 0, check.SIZE_MAX), encoding)
    if (typeof target === 'number') return make.shared('sysv', check.sysvKey(target), first, encoding)
    if (typeof target === 'string' && target.startsWith('*'))
      return make.shared('posix', check.shmName(target.slice(1)), first, encoding)
    if (typeof target === 'string') return make.shared('file', check.filePath(target), first, encoding)
    throw invalidType('target', "a '*name', a file path or a System V key", target)
  }
  if (typeof first === 'string') {
    const encoding = second === undefined ? undefined : checkEncoding(check.string(second, 'encoding'))
    const bytes = Buffer.from(first, encoding)
    const buf = make.memory(bytes.length, encoding)
    bytes.copy(buf)
    return buf
  }
  if (first instanceof Uint8Array) return alias(first, second, third, fourth, make)
  throw invalidType('first argument', 'a size, a string or a Buffer', first)
}

/** IPCBuffer(parent, length[, encoding][, offset]) */
function alias(parent: Uint8Array, length: unknown, third: unknown, fourth: unknown, make: FormMakers): IPCBuffer {
  let encoding: BufferEncoding | undefined
  let offset = third
  if (typeof third === 'string') {
    encoding = checkEncoding(third)
    offset = fourth
  }
  const start = offset === undefined ? 0 : check.integer(offset, 'offset', 0, parent.length)
  const count = check.integer(length, 'length', 0, parent.length - start)
  return make.alias(parent, start, count, encoding)
}

function checkEncoding(value: string): BufferEncoding {
  if (!Buffer.isEncoding(value)) throw invalidValue('encoding', value, 'is not a supported encoding')
  return value
}
