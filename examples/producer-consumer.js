'use strict'
// A bounded ring of slots between two processes: a producer fills slots, a
// consumer it forks empties them. Two semaphores count the free and the full
// slots, so each side sleeps (off its event loop) only when it must; the
// GuardedBuffer's lock guards the ring's indices.
//
//   node examples/producer-consumer.js [--items 1000] [--slots 8]
const { fork } = require('node:child_process')
const { GuardedBuffer, Semaphore } = require('..')

const SLOT = 64 // bytes per message: a length, then UTF-8
const HEAD = 0 // next slot to read
const TAIL = 4 // next slot to write
const RING = 8 // slots start here

function names(tag) {
  return { ring: `ipckit-ring-${tag}`, free: `ipckit-ring-free-${tag}`, full: `ipckit-ring-full-${tag}` }
}

function slotOffset(index, slots) {
  return RING + (index % slots) * SLOT
}

async function consumer(tag, items, slots) {
  process.once('disconnect', () => process.exit(1)) // the producer is gone: do not linger
  const n = names(tag)
  const g = GuardedBuffer.open(n.ring, { create: false })
  const free = Semaphore.posix(n.free, { create: false })
  const full = Semaphore.posix(n.full, { create: false })
  let sum = 0
  let last = ''
  for (let i = 0; i < items; i++) {
    await full.wait() // a filled slot
    last = await g.withLock((buf) => {
      const head = buf.readUInt32LE(HEAD)
      const at = slotOffset(head, slots)
      buf.writeUInt32LE(head + 1, HEAD)
      return buf.toString('utf8', at + 4, at + 4 + buf.readUInt32LE(at))
    })
    free.post() // one more free slot
    sum += Number(last.split(' ')[1])
  }
  for (const x of [g, free, full]) x.close()
  process.removeAllListeners('disconnect')
  process.send({ sum, last }, () => process.disconnect())
}

async function producer(items, slots) {
  const tag = process.pid
  const n = names(tag)
  const g = GuardedBuffer.open(n.ring, { size: RING + slots * SLOT, create: 'exclusive' })
  const free = Semaphore.posix(n.free, { initial: slots, create: 'exclusive' })
  const full = Semaphore.posix(n.full, { initial: 0, create: 'exclusive' })
  let child
  try {
    child = fork(__filename, ['consumer', String(tag), String(items), String(slots)])
    const result = new Promise((resolve, reject) => {
      child.once('message', resolve)
      child.once('exit', (code) => reject(new Error(`the consumer exited with ${code}`)))
    })
    const start = process.hrtime.bigint()
    for (let i = 1; i <= items; i++) {
      await free.wait() // a free slot
      await g.withLock((buf) => {
        const tail = buf.readUInt32LE(TAIL)
        const at = slotOffset(tail, slots)
        buf.writeUInt32LE(buf.write(`item ${i}`, at + 4), at)
        buf.writeUInt32LE(tail + 1, TAIL)
      })
      full.post() // one more filled slot
    }
    const { sum, last } = await result
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    const expected = (items * (items + 1)) / 2
    console.log(`${items} items through ${slots} slots in ${ms.toFixed(0)} ms`)
    console.log(`last item received: "${last}"`)
    console.log(`sum of items: ${sum} (expected ${expected})`)
    if (sum !== expected) process.exitCode = 1
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill() // after a failure
    for (const x of [g, free, full]) {
      x.unlink()
      x.close()
    }
  }
}

if (process.argv[2] === 'consumer') {
  consumer(process.argv[3], Number(process.argv[4]), Number(process.argv[5]))
} else {
  const arg = (flag, fallback) => {
    const i = process.argv.indexOf(flag)
    return i > 0 ? Number(process.argv[i + 1]) : fallback
  }
  producer(arg('--items', 1000), arg('--slots', 8)).catch((err) => {
    console.error(err)
    process.exitCode = 2
  })
}
