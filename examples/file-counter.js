'use strict'
// A counter that survives restarts: its bytes are a file's, mapped MAP_SHARED,
// and its lock lives in the same file. Run it again and again (even several
// at once): each run adds one under the lock and prints the total.
//
//   node examples/file-counter.js [path] [--remove]
//
// --remove deletes the file after this run.
const os = require('node:os')
const path = require('node:path')
const { GuardedBuffer } = require('..')

const args = process.argv.slice(2)
const remove = args.includes('--remove')
const file = args.find((a) => a !== '--remove') ?? path.join(os.tmpdir(), 'ipckit-file-counter')

const g = GuardedBuffer.open(file, { kind: 'file', size: 8 })
try {
  const runs = g.withLockSync((buf) => {
    if (g.mutex.ownerDied)
      console.log('the previous holder died holding the lock; the count is intact: one 8-byte write')
    const next = buf.readBigUInt64LE(0) + 1n
    buf.writeBigUInt64LE(next, 0)
    return next
  })
  g.buffer.flush() // msync: on disk now, not only in the page cache
  console.log(`run ${runs} of the counter in ${file}`)
  if (remove) {
    g.unlink()
    console.log('removed')
  }
} finally {
  g.close()
}
