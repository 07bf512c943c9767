// ESM entry: the CommonJS build, re-exported by name.
import ipcKit from '../dist/index.js'

export const { IPCError, IPCBuffer } = ipcKit
export default ipcKit
