// ESM entry: the CommonJS build, re-exported by name.
import ipcKit from '../dist/index.js'

export const {
  IPCError,
  IPCBuffer,
  Semaphore,
  SEM_VALUE_MAX,
  SEMVMX,
  Mutex,
  GuardedBuffer,
  Channel,
  SharedMap,
  list,
  inspect,
  remove,
  gc,
} = ipcKit
export default ipcKit
