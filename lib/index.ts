export { IPCError } from './errors'
export { IPCBuffer } from './ipc-buffer'
export type { Kind, SharedKind, OpenOptions } from './ipc-buffer'
export { Semaphore, SEM_VALUE_MAX, SEMVMX } from './semaphore'
export type { SemaphoreKind, SemaphoreOptions, SysvSemaphoreOptions, WaitOptions } from './semaphore'
export { Mutex } from './mutex'
export type { MutexOptions, AcquireOptions } from './mutex'
export { GuardedBuffer } from './guarded-buffer'
export type { GuardedOptions } from './guarded-buffer'
export { Channel } from './channel'
export type {
  ChannelOptions,
  ChannelWaitOptions,
  ReceiveOptions,
  ChannelStats,
  ReceivedMessage,
  ReservedSlot,
} from './channel'
export { SharedMap } from './shared-map'
export type { SharedMapOptions, SharedMapStats, SharedMapKey, SetOptions } from './shared-map'
export { list, inspect, remove, gc } from './inventory'
export type {
  ObjectInfo,
  ObjectDetails,
  ObjectKindName,
  ProcessInfo,
  LockInfo,
  ListOptions,
  RemoveOptions,
  GcOptions,
} from './inventory'
