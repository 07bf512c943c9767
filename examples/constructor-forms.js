'use strict'
// The call forms node-ipcbuffer users know, with or without `new`.
const os = require('node:os')
const path = require('node:path')
const { IPCBuffer } = require('..')

const tag = process.pid
const show = (label, buf) =>
  console.log(
    `${label.padEnd(44)} kind=${buf.kind} length=${buf.length} ${JSON.stringify(buf.toString().replace(/\0+$/, ''))}`,
  )

const made = []
const keep = (buf) => (made.push(buf), buf)
try {
  const mem = keep(IPCBuffer(5))
  mem.write('hello')
  show('IPCBuffer(5)', mem)

  const hex = keep(new IPCBuffer(2, 'hex'))
  hex.write('cafe')
  show("new IPCBuffer(2, 'hex')", hex)

  show("IPCBuffer('héllo', 'latin1')", keep(IPCBuffer('héllo', 'latin1')))

  const parent = keep(IPCBuffer('abcdefgh'))
  const alias = keep(IPCBuffer(parent, 3, 2))
  alias.write('XYZ')
  show('IPCBuffer(parent, 3, 2) wrote into parent', parent)

  const posix = keep(IPCBuffer(16, `*ipckit-forms-${tag}`))
  posix.write('posix shm')
  show(`IPCBuffer(16, '*ipckit-forms-…')`, posix)

  const file = path.join(os.tmpdir(), `ipckit-forms-${tag}`)
  const backed = keep(IPCBuffer(16, 'utf8', file))
  backed.write('in a file')
  show("IPCBuffer(16, 'utf8', '/tmp/ipckit-forms-…')", backed)

  const key = ((tag & 0x7fff) << 16) | 0xf0
  const sysv = keep(IPCBuffer(16, key))
  sysv.write('system v')
  show('IPCBuffer(16, key)', sysv)

  const again = keep(IPCBuffer.posix(`ipckit-forms-${tag}`))
  console.log(`a second mapping of the POSIX object reads ${JSON.stringify(again.toString('utf8', 0, 9))}`)
} finally {
  for (const buf of made) {
    if (buf.kind !== 'memory' && IPCBuffer.exists(buf.kind, buf.name)) buf.unlink()
    buf.close()
  }
}
