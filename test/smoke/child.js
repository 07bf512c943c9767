'use strict'
// The second process of test/smoke/smoke.js: `node child.js VERB ...ARGS`,
// reporting to the parent over IPC.
const kit = require('ipc-kit')

const send = (m) => new Promise((resolve) => process.send(m, resolve))
const id = (kind, name) => (kind === 'sysv' ? Number(name) : name)

const VERBS = {
  async buffer(kind, name) {
    const buf = kit.IPCBuffer[kind](id(kind, name))
    const seen = buf.readUInt32LE(0)
    buf.writeUInt32LE(0x9abcdef0, 4)
    buf.close()
    await send({ seen })
  },
  async semaphore(kind, name) {
    const sem = kit.Semaphore[kind](id(kind, name), { create: false })
    sem.post()
    sem.close()
    await send({ posted: true })
  },
  async mutex(name) {
    const m = new kit.Mutex(name)
    await send({ tryAcquire: m.tryAcquire() })
    // The parent holds the lock until it hears that this acquire is pending.
    const acquired = m.acquire({ timeout: 30000 })
    await send({ waiting: true })
    const release = await acquired
    release()
    m.close()
    await send({ acquired: true })
  },
  async guarded(name) {
    const g = kit.GuardedBuffer.open(name, { create: false })
    const counter = await g.withLock((buf) => {
      buf.writeUInt32LE(buf.readUInt32LE(0) + 1, 0)
      return buf.readUInt32LE(0)
    })
    g.close()
    await send({ counter })
  },
}

const [verb, ...args] = process.argv.slice(2)
VERBS[verb](...args).then(
  () => process.disconnect(),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
