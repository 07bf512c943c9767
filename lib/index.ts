export { IPCError } from './errors'
export { IPCBuffer } from './ipc-buffer'
export type { Kind, SharedKind, OpenOptions } from './ipc-buffer'
