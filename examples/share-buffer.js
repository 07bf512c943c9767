'use strict'
// Two processes, one Buffer: the parent writes into POSIX shared memory, a
// child it forks reads the same bytes and answers in place. No pipes, no copies.
const { fork } = require('node:child_process')
const { IPCBuffer } = require('..')

const name = process.argv[2] ?? `ipckit-share-${process.pid}`

if (process.argv[3] === 'child') {
  const buf = IPCBuffer.posix(name) // maps the whole existing object
  const question = buf.toString('utf8', 4, 4 + buf.readUInt32LE(0))
  const answer = `child ${process.pid} read "${question}"`
  buf.writeUInt32LE(Buffer.byteLength(answer), 0)
  buf.write(answer, 4)
  buf.close()
} else {
  const buf = IPCBuffer.posix(name, { size: 4096, create: 'exclusive' })
  try {
    const question = `hello from ${process.pid}`
    buf.writeUInt32LE(Buffer.byteLength(question), 0)
    buf.write(question, 4)
    fork(__filename, [name, 'child']).on('exit', (code) => {
      console.log(`parent ${process.pid} wrote "${question}"`)
      console.log(buf.toString('utf8', 4, 4 + buf.readUInt32LE(0)))
      buf.close()
      buf.unlink()
      process.exitCode = code
    })
  } catch (err) {
    buf.unlink()
    throw err
  }
}
