// Loads the addon (a prebuild or the local build) and nothing else.
import { join } from 'node:path'
import { makeSystemError } from './errors'

/** An opaque native handle. */
export type Handle = { readonly __brand: 'native handle' }

export interface Mapped {
  buffer: Buffer
  handle: Handle
  /** The object's own size, which may exceed the mapped length. */
  size: number
  created: boolean
  /** System V segment id (-1 for the other kinds). */
  id: number
}

export interface ShmBinding {
  open(kind: number, id: string | number, flags: number, mode: number, size: number): Mapped
  close(handle: Handle, buffer: ArrayBuffer): boolean
  detach(buffer: ArrayBuffer): void
  flush(handle: Handle, subject: string | number): void
  flushAsync(handle: Handle, subject: string | number): Promise<void>
  unlink(kind: number, id: string | number): void
  removeSysv(shmid: number, key: number): void
  exists(kind: number, id: string | number): boolean
}

export interface Binding {
  setErrorFactory(factory: typeof makeSystemError): void
  shm: ShmBinding
  sem: Record<string, unknown>
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = require('node-gyp-build') as (dir: string) => Binding

export const binding: Binding = load(join(__dirname, '..'))
binding.setErrorFactory(makeSystemError)
export const shm = binding.shm
