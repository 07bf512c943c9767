'use strict'
// The other process of the cross-process benchmarks, forked by bench/jobs.js:
//   node bench/peer.js ROLE ARGS...
// It reports over the IPC channel and exits when its parent disconnects.
const fs = require('node:fs')
const net = require('node:net')

const [role, ...args] = process.argv.slice(2)
const CHUNK = 1 << 20

const now = () => process.hrtime.bigint()
const reply = (message) => process.send(message)

// Sends `chunks` MiB into a stream on every 'go', honouring backpressure.
function bulkWriter(stream, chunks) {
  const chunk = Buffer.alloc(CHUNK, 7)
  process.on('message', () => {
    let left = Number(chunks)
    const pump = () => {
      while (left > 0) {
        left--
        if (!stream.write(chunk)) return stream.once('drain', pump)
      }
    }
    pump()
  })
  reply('ready')
}

// What the channel and process.send senders send: a 64-byte Buffer or string, or a small object.
const OBJECT = (i) => ({ id: i, name: 'job-' + i, tags: ['queue', 'bench', 'small'] })

const roles = {
  // Channel sender: on each message { count }, sends `count` messages of `what`
  // (sync64 | async64 | object | mib-zero | mib-copy), then replies 'sent'.
  'chan-send'(name, what) {
    const { Channel } = require('..')
    const ch = Channel.open(name, { create: false })
    const bytes = Buffer.alloc(what.startsWith('mib') ? CHUNK : 64, 7)
    process.on('message', async ({ count }) => {
      if (what === 'sync64') for (let i = 0; i < count; i++) ch.sendSync(bytes)
      else if (what === 'async64') for (let i = 0; i < count; i++) await ch.send(bytes)
      else if (what === 'object') for (let i = 0; i < count; i++) ch.sendSync(OBJECT(i))
      else if (what === 'mib-copy') for (let i = 0; i < count; i++) ch.sendSync(bytes)
      else if (what === 'mib-zero') {
        for (let i = 0; i < count; i++) {
          const slot = await ch.reserve(CHUNK)
          slot.buffer.set(bytes)
          slot.commit()
        }
      }
      reply('sent')
    })
    process.on('disconnect', () => ch.close())
    reply('ready')
  },

  // Channel request/response: answer each request on `requests` with the same value on `responses`.
  async 'chan-echo'(requests, responses, mode) {
    const { Channel } = require('..')
    const req = Channel.open(requests, { create: false })
    const res = Channel.open(responses, { create: false })
    reply('ready')
    if (mode === 'sync') {
      for (let r; (r = req.receiveSync()) !== undefined;) res.sendSync(r.value)
    } else {
      for await (const v of req) await res.send(v)
    }
    req.close()
    res.close()
  },

  // process.send sender: on each message { count }, sends `count` messages of
  // `what` (string64 | object) as fast as the channel takes them, then 'sent'.
  'send-ipc'(what) {
    const text = 'x'.repeat(64)
    process.on('message', ({ count }) => {
      let i = 0
      const pump = () => {
        while (i < count) {
          const ok = process.send(what === 'object' ? OBJECT(i) : text)
          i++
          if (!ok) return setImmediate(pump)
        }
        reply('sent')
      }
      pump()
    })
    reply('ready')
  },

  // process.send ping-pong: send every message straight back.
  'echo-ipc'() {
    process.on('message', (m) => reply(m))
    reply('ready')
  },

  // Unix socket ping-pong: echo every byte back.
  'echo-socket'(path) {
    const socket = net.connect(path, () => reply('ready'))
    socket.on('data', (d) => socket.write(d))
    socket.on('error', () => process.exit(1))
  },

  'bulk-socket'(path, chunks) {
    const socket = net.connect(path, () => bulkWriter(socket, chunks))
    socket.on('error', () => process.exit(1))
  },

  // fd 4 is the write end of a pipe the parent reads.
  'bulk-pipe'(chunks) {
    bulkWriter(new net.Socket({ fd: 4, readable: false }), chunks)
  },

  // Semaphore ping-pong: wait for ping, post pong, `count` times.
  async 'kit-pong'(kind, pingId, pongId, count, mode) {
    const { Semaphore } = require('..')
    const open = (id) =>
      kind === 'posix' ? Semaphore.posix(id, { create: false }) : Semaphore.sysv(Number(id), { create: false })
    const ping = open(pingId)
    const pong = open(pongId)
    reply('ready')
    const n = Number(count)
    if (mode === 'sync') {
      for (let i = 0; i < n; i++) {
        ping.waitSync()
        pong.post()
      }
    } else {
      for (let i = 0; i < n; i++) {
        await ping.wait()
        pong.post()
      }
    }
    ping.close()
    pong.close()
  },

  // The reading end of the ipc-kit ring: wait for a full slot, copy it out, free it.
  'kit-ring-reader'(ringName, freeName, fullName, slots, chunks) {
    const { IPCBuffer, Semaphore } = require('..')
    const ring = IPCBuffer.posix(ringName, { create: false })
    const free = Semaphore.posix(freeName, { create: false })
    const full = Semaphore.posix(fullName, { create: false })
    const views = []
    for (let s = 0; s < Number(slots); s++) views.push(ring.subarray(s * CHUNK, (s + 1) * CHUNK))
    const dst = Buffer.alloc(CHUNK)
    reply('ready')
    const n = Number(chunks)
    for (let i = 0; i < n; i++) {
      full.waitSync()
      dst.set(views[i % views.length])
      free.post()
    }
    ring.close()
    free.close()
    full.close()
  },

  // One kind of 64 KiB buffer; each message {op} runs one sample of that
  // operation and replies with ns per operation (see bufferOps in jobs.js).
  'buffer-ops'(kind, name) {
    const size = 65536
    let b
    if (kind === 'plain') b = Buffer.alloc(size)
    else if (kind === 'kit') {
      b = require('..').IPCBuffer.posix(name, { size })
      b.unlink()
    } else {
      let shm
      try {
        shm = require('shm-typed-array')
      } catch {
        return reply('unavailable')
      }
      b = shm.create(size, 'Buffer', name)
      process.on('disconnect', () => shm.detach(name, true))
    }
    // [operations per call, calls per sample, the loop]; each loop gets its own
    // compiled copy (distinct source text: V8 caches compilations by source).
    const ops = {
      fill: [1, 8000, 'for (let i = 0; i < count; i++) b.fill(i & 255)'],
      read: [
        16384,
        50,
        'let s = 0; for (let i = 0; i < count; i++) for (let o = 0; o < 65536; o += 4) s += b.readUInt32LE(o); return s',
      ],
      write: [
        16384,
        40,
        'for (let i = 0; i < count; i++) for (let o = 0; o < 65536; o += 4) b.writeUInt32LE(o + i, o)',
      ],
      index: [
        65536,
        100,
        'let s = 0; for (let i = 0; i < count; i++) for (let o = 0; o < 65536; o++) s += b[o]; return s',
      ],
    }
    const loops = {}
    for (const [op, [, , body]] of Object.entries(ops)) loops[op] = new Function('b', 'count', `${body} // ${op}`) // eslint-disable-line no-new-func
    process.on('message', ({ op, warm }) => {
      const [perCall, calls] = ops[op]
      for (let w = 0; w < (warm ? 5 : 1); w++) {
        const t0 = now()
        loops[op](b, calls)
        if (w === (warm ? 4 : 0)) reply(Number(now() - t0) / (calls * perCall))
      }
    })
    reply('ready')
  },

  // Contended counter: on each 'go', `count` increments; reports its start and end.
  // `how`: 'view' increments through a Uint32Array over g.buffer (as C does
  // `value++` and the worker_threads peers `w[1]++`); 'methods' through
  // readUInt32LE/writeUInt32LE, which cost about 7 ns each on their own.
  'kit-counter'(name, size, how, count) {
    const { GuardedBuffer } = require('..')
    const g = GuardedBuffer.open(name, { size: Number(size) })
    const n = Number(count)
    const view = new Uint32Array(g.buffer.buffer, g.buffer.byteOffset, 1)
    const increment =
      how === 'view'
        ? () => {
            view[0]++
          }
        : (buf) => {
            buf.writeUInt32LE(buf.readUInt32LE(0) + 1, 0)
          }
    process.on('message', () => {
      const start = now()
      for (let i = 0; i < n; i++) g.withLockSync(increment)
      reply({ start: String(start), end: String(now()) })
    })
    process.on('disconnect', () => g.close())
    reply('ready')
  },

  // The same with fs-ext flock on a file that holds the counter, as users do today.
  'flock-counter'(path, count) {
    const { flockSync } = require('fs-ext')
    const fd = fs.openSync(path, 'r+')
    const word = Buffer.alloc(4)
    const n = Number(count)
    process.on('message', () => {
      const start = now()
      for (let i = 0; i < n; i++) {
        flockSync(fd, 'ex')
        fs.readSync(fd, word, 0, 4, 0)
        word.writeUInt32LE(word.readUInt32LE(0) + 1, 0)
        fs.writeSync(fd, word, 0, 4, 0)
        flockSync(fd, 'un')
      }
      reply({ start: String(start), end: String(now()) })
    })
    process.on('disconnect', () => fs.closeSync(fd))
    reply('ready')
  },
}

process.on('disconnect', () => setImmediate(() => process.exit(0)))
Promise.resolve(roles[role](...args)).catch((err) => {
  console.error(err)
  process.exit(1)
})
