'use strict'
// One benchmark job per child process, so no job's JIT state or leftovers
// reach another:  node bench/jobs.js JOB  (with BENCH_CONTEXT in the environment).
// Prints one JSON line: {"figures": {ID: {"unit", "samples"}}} or {"unavailable": why}.
// Every sample is the mean over many operations; bench/run.js takes the median.
const { fork, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const { Worker } = require('node:worker_threads')

const CHUNK = 1 << 20
const RING_SLOTS = 8

const ctx = JSON.parse(process.env.BENCH_CONTEXT || '{}')
const reps = ctx.reps
/** The operation count: the full figure, or the quick one. */
const n = (full, quick) => (ctx.quick ? quick : full)
let serial = 0
/** A POSIX name unique to this run and call: the runner sweeps its prefix. */
const uniqueName = (tag) => `/${ctx.prefix}-${tag}-${process.pid}-${++serial}`
/** A System V key from this job's block of 64 keys (a job may also use the 1,024 from ctx.largeKeyBase). */
const uniqueKey = () => ctx.keyBase + (++serial % 64)
const tmpFile = (tag) => path.join(ctx.tmp, `${tag}-${process.pid}-${++serial}`)
const now = () => process.hrtime.bigint()
const elapsedNs = (t0) => Number(process.hrtime.bigint() - t0)

class Unavailable extends Error {}

/** The ipc-kit export `name`, or Unavailable if this build has no such API yet. */
function kit(...names) {
  const lib = require('..')
  for (const name of names) {
    if (typeof lib[name] !== 'function') throw new Unavailable(`${name} is not available yet`)
  }
  return lib
}

/** An alternative from devDependencies, or Unavailable if it is not installed (or did not build). */
function optional(name) {
  try {
    return require(name)
  } catch (err) {
    throw new Unavailable(`${name} is not installed or did not build (${err.code || err.message})`)
  }
}

/** A warm-up call, then `reps` calls of fn(), each returning one sample. */
async function samples(fn) {
  await fn()
  const out = []
  for (let r = 0; r < reps; r++) out.push(await fn())
  return out
}

// Each repetition should last about this long, however busy the machine.
const SAMPLE_NS = n(150e6, 15e6)

/**
 * Samples of ns per operation of run(count) (sync or async): the warm-up runs
 * `count / 10` operations and sizes the repetitions to about SAMPLE_NS each,
 * never more than `count` operations.
 */
async function timed(run, count) {
  const warm = await run(Math.max(1, Math.round(count / 10)))
  const sized = Math.max(1, Math.min(count, Math.round(SAMPLE_NS / warm)))
  const out = []
  for (let r = 0; r < reps; r++) out.push(await run(sized))
  return out
}

/** Times fn(count) and returns ns per operation. */
function perOp(fn, count) {
  const t0 = now()
  fn(count)
  return elapsedNs(t0) / count
}

async function perOpAsync(fn, count) {
  const t0 = now()
  await fn(count)
  return elapsedNs(t0) / count
}

/** Forks bench/peer.js; messages arrive in order through next(). */
function peer(role, args, options = {}) {
  const child = fork(path.join(__dirname, 'peer.js'), [role, ...args.map(String)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...(options.extraStdio || [])],
    serialization: options.serialization,
  })
  const queue = []
  const waiting = []
  child.on('message', (m) => (waiting.length ? waiting.shift().resolve(m) : queue.push(m)))
  child.on('exit', (code, signal) => {
    const err = new Error(`peer ${role} exited (${code ?? signal})`)
    while (waiting.length) waiting.shift().reject(err)
  })
  return {
    child,
    next: () =>
      queue.length
        ? Promise.resolve(queue.shift())
        : new Promise((resolve, reject) => waiting.push({ resolve, reject })),
    send: (m) => child.send(m),
    /** Disconnects, which ends a peer that is idle; a peer still blocked in a wait after 5 s is killed. */
    stop: () => {
      if (child.connected) child.disconnect()
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
      return new Promise((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
        child.once('exit', () => {
          clearTimeout(timer)
          resolve()
        })
      })
    },
  }
}

// --- the C limits -------------------------------------------------------------

function cJob(test, full, quick) {
  return () => {
    const name = uniqueName('c')
    const res = spawnSync(ctx.baseline, [test, String(n(full, quick)), String(reps), name], { encoding: 'utf8' })
    if (res.status !== 0) throw new Error(`baseline ${test} failed: ${res.stderr || res.signal}`)
    const { unit, samples: s } = JSON.parse(res.stdout.trim().split('\n').pop())
    return { [`c.${test}`]: { unit, samples: s } }
  }
}

// --- uncontended locks -------------------------------------------------------------

async function lockfileSync() {
  const lockfile = optional('proper-lockfile')
  const file = tmpFile('lockfile')
  fs.writeFileSync(file, '')
  const run = (count) => {
    for (let i = 0; i < count; i++) lockfile.lockSync(file)()
  }
  return { 'alt.lockfile_sync': { unit: 'ns', samples: await timed((c) => perOp(run, c), n(2000, 300)) } }
}

async function lockfileAsync() {
  const lockfile = optional('proper-lockfile')
  const file = tmpFile('lockfile')
  fs.writeFileSync(file, '')
  const run = async (count) => {
    for (let i = 0; i < count; i++) await (await lockfile.lock(file))()
  }
  return { 'alt.lockfile_async': { unit: 'ns', samples: await timed((c) => perOpAsync(run, c), n(1000, 150)) } }
}

async function flockPair() {
  const { flockSync } = optional('fs-ext')
  const file = tmpFile('flock')
  fs.writeFileSync(file, '')
  const fd = fs.openSync(file, 'r+')
  const run = (count) => {
    for (let i = 0; i < count; i++) {
      flockSync(fd, 'ex')
      flockSync(fd, 'un')
    }
  }
  try {
    return { 'alt.flock_pair': { unit: 'ns', samples: await timed((c) => perOp(run, c), n(500000, 100000)) } }
  } finally {
    fs.closeSync(fd)
  }
}

async function atomicsPair() {
  const { IPCBuffer } = kit('IPCBuffer')
  const name = uniqueName('atomics')
  const buf = IPCBuffer.posix(name, { size: 4096 })
  buf.unlink()
  const word = new Int32Array(buf.buffer, buf.byteOffset, 1)
  const run = (count) => {
    for (let i = 0; i < count; i++) {
      if (Atomics.compareExchange(word, 0, 0, 1) !== 0) throw new Error('the word is taken')
      Atomics.store(word, 0, 0)
    }
  }
  try {
    return { 'ref.atomics_pair': { unit: 'ns', samples: await timed((c) => perOp(run, c), n(10000000, 2000000)) } }
  } finally {
    buf.close()
  }
}

async function napiNoop() {
  const { noop } = require(ctx.noop)
  const run = (count) => {
    for (let i = 0; i < count; i++) noop()
  }
  return { 'ref.napi_noop': { unit: 'ns', samples: await timed((c) => perOp(run, c), n(10000000, 2000000)) } }
}

async function mutexPair() {
  const { Mutex } = kit('Mutex')
  const m = new Mutex(uniqueName('mutex'))
  const run = (count) => {
    for (let i = 0; i < count; i++) {
      m.acquireSync()
      m.release()
    }
  }
  try {
    return { 'kit.mutex_pair': { unit: 'ns', samples: await timed((c) => perOp(run, c), n(2000000, 500000)) } }
  } finally {
    m.unlink()
    m.close()
  }
}

async function mutexAsyncPair() {
  const { Mutex } = kit('Mutex')
  const m = new Mutex(uniqueName('mutex'))
  const run = async (count) => {
    for (let i = 0; i < count; i++) (await m.acquire())()
  }
  try {
    return { 'kit.mutex_async_pair': { unit: 'ns', samples: await timed((c) => perOpAsync(run, c), n(200000, 50000)) } }
  } finally {
    m.unlink()
    m.close()
  }
}

// --- semaphore pairs -----------------------------------------------------------------

function semPair(kind) {
  return async () => {
    const { Semaphore } = kit('Semaphore')
    const sem =
      kind === 'posix'
        ? Semaphore.posix(uniqueName('sem'), { initial: 1, create: true })
        : Semaphore.sysv(uniqueKey(), { initial: 1, create: true })
    const run = (count) => {
      for (let i = 0; i < count; i++) {
        if (!sem.tryWait()) throw new Error('tryWait failed on a free semaphore')
        sem.post()
      }
    }
    try {
      const count = kind === 'posix' ? n(2000000, 500000) : n(200000, 50000)
      return { [`kit.sem_${kind}_pair`]: { unit: 'ns', samples: await timed((c) => perOp(run, c), count) } }
    } finally {
      sem.unlink()
      sem.close()
    }
  }
}

// --- contended counters ------------------------------------------------------------

/** Starts `procs` counter peers, runs warm-up + reps rounds; ns per increment overall. */
async function counterRounds(role, args, procs, count, check) {
  const peers = []
  try {
    for (let p = 0; p < procs; p++) peers.push(peer(role, [...args, count]))
    for (const p of peers) await p.next()
    return await samples(async () => {
      for (const p of peers) p.send('go')
      const times = await Promise.all(peers.map((p) => p.next()))
      const start = times.reduce((min, t) => (BigInt(t.start) < min ? BigInt(t.start) : min), BigInt(times[0].start))
      const end = times.reduce((max, t) => (BigInt(t.end) > max ? BigInt(t.end) : max), 0n)
      return Number(end - start) / (procs * count)
    }).then((s) => {
      check((reps + 1) * procs * count)
      return s
    })
  } finally {
    await Promise.all(peers.map((p) => p.stop()))
  }
}

function kitCounter(procs, how) {
  return async () => {
    const { GuardedBuffer } = kit('GuardedBuffer')
    const name = uniqueName('counter')
    const g = GuardedBuffer.open(name, { size: 4 })
    try {
      const s = await counterRounds('kit-counter', [name, 4, how], procs, n(2000000, 300000), (expected) => {
        const got = g.withLockSync((buf) => buf.readUInt32LE(0))
        if (got !== expected) throw new Error(`counter is ${got}, expected ${expected}`)
      })
      return { [`kit.counter${procs}${how === 'view' ? '' : '_methods'}`]: { unit: 'ns', samples: s } }
    } finally {
      g.unlink()
      g.close()
    }
  }
}

function flockCounter(procs) {
  return async () => {
    optional('fs-ext')
    const file = tmpFile('flock-counter')
    fs.writeFileSync(file, Buffer.alloc(4))
    const s = await counterRounds('flock-counter', [file], procs, n(50000, 10000), (expected) => {
      const got = fs.readFileSync(file).readUInt32LE(0)
      if (got !== expected) throw new Error(`counter is ${got}, expected ${expected}`)
    })
    return { [`alt.flock_counter${procs}`]: { unit: 'ns', samples: s } }
  }
}

// The in-process contrast: threads of one process, a futex-style lock written
// with Atomics on a SharedArrayBuffer (Drepper's mutex, as in baseline.c).
const WORKER_COUNTER = `
  const { workerData: { sab, count }, parentPort } = require('node:worker_threads')
  const w = new Int32Array(sab) // [0] lock, [1] counter, [2] go
  function lock() {
    let c = Atomics.compareExchange(w, 0, 0, 1)
    if (c === 0) return
    if (c !== 2) c = Atomics.exchange(w, 0, 2)
    while (c !== 0) {
      Atomics.wait(w, 0, 2)
      c = Atomics.exchange(w, 0, 2)
    }
  }
  function unlock() {
    if (Atomics.sub(w, 0, 1) !== 1) {
      Atomics.store(w, 0, 0)
      Atomics.notify(w, 0, 1)
    }
  }
  parentPort.on('message', (round) => {
    while (Atomics.load(w, 2) < round) Atomics.wait(w, 2, round - 1, 1000)
    const start = process.hrtime.bigint()
    for (let i = 0; i < count; i++) {
      lock()
      w[1]++
      unlock()
    }
    parentPort.postMessage({ start: String(start), end: String(process.hrtime.bigint()) })
  })
  parentPort.postMessage('ready')
`

function workerCounter(threads) {
  return async () => {
    const count = n(2000000, 300000)
    const sab = new SharedArrayBuffer(12)
    const w = new Int32Array(sab)
    const workers = []
    const next = (worker) => new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject))
    try {
      for (let t = 0; t < threads; t++)
        workers.push(new Worker(WORKER_COUNTER, { eval: true, workerData: { sab, count } }))
      await Promise.all(workers.map(next))
      let round = 0
      const s = await samples(async () => {
        round++
        const done = workers.map(next)
        for (const worker of workers) worker.postMessage(round)
        Atomics.store(w, 2, round)
        Atomics.notify(w, 2)
        const times = await Promise.all(done)
        const start = times.reduce((min, t) => (BigInt(t.start) < min ? BigInt(t.start) : min), BigInt(times[0].start))
        const end = times.reduce((max, t) => (BigInt(t.end) > max ? BigInt(t.end) : max), 0n)
        return Number(end - start) / (threads * count)
      })
      if (w[1] !== (reps + 1) * threads * count)
        throw new Error(`counter is ${w[1]}, expected ${(reps + 1) * threads * count}`)
      return { [`alt.worker_counter${threads}`]: { unit: 'ns', samples: s } }
    } finally {
      await Promise.all(workers.map((worker) => worker.terminate()))
    }
  }
}

// --- ping-pong -------------------------------------------------------------------------

async function processSendPingPong() {
  const p = peer('echo-ipc', [])
  await p.next()
  const run = async (count) => {
    for (let i = 0; i < count; i++) {
      p.send(i)
      if ((await p.next()) !== i) throw new Error('out of order')
    }
  }
  try {
    return {
      // A warm-up (count / 10) as long as the channel round trips' in time.
      'alt.process_send_pingpong': { unit: 'ns', samples: await timed((c) => perOpAsync(run, c), n(50000, 1000)) },
    }
  } finally {
    await p.stop()
  }
}

async function unixPingPong() {
  const file = tmpFile('sock')
  const server = net.createServer()
  await new Promise((resolve) => server.listen(file, resolve))
  const connection = new Promise((resolve) => server.once('connection', resolve))
  const p = peer('echo-socket', [file])
  const socket = await connection
  await p.next()
  const byte = Buffer.from([1])
  const run = async (count) => {
    for (let i = 0; i < count; i++) {
      const answer = new Promise((resolve) => socket.once('data', resolve))
      socket.write(byte)
      await answer
    }
  }
  try {
    return { 'alt.unix_pingpong': { unit: 'ns', samples: await timed((c) => perOpAsync(run, c), n(5000, 1000)) } }
  } finally {
    socket.destroy()
    server.close()
    await p.stop()
  }
}

// Two threads of one process: the in-process limit, for contrast.
function workerPingPong(mode) {
  return async () => {
    const count = mode === 'sync' ? n(20000, 5000) : n(10000, 3000)
    const sab = new SharedArrayBuffer(8)
    const turn = new Int32Array(sab)
    const worker = new Worker(
      `const { workerData: { sab, total }, parentPort } = require('node:worker_threads')
       const turn = new Int32Array(sab)
       parentPort.postMessage('ready')
       for (let i = 0; i < total; i++) {
         Atomics.wait(turn, 0, 0)
         Atomics.store(turn, 0, 0)
         Atomics.notify(turn, 0)
       }`,
      { eval: true, workerData: { sab, total: count * (reps + 1) } },
    )
    // Blocking the main thread in Atomics.wait before the worker runs can stall its start.
    await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject))
    const run = async (c) => {
      for (let i = 0; i < c; i++) {
        Atomics.store(turn, 0, 1)
        Atomics.notify(turn, 0)
        if (mode === 'sync') Atomics.wait(turn, 0, 1)
        else {
          const r = Atomics.waitAsync(turn, 0, 1)
          if (r.async) await r.value
        }
      }
    }
    try {
      return { [`alt.worker_pingpong_${mode}`]: { unit: 'ns', samples: await samples(() => perOpAsync(run, count)) } }
    } finally {
      await worker.terminate()
    }
  }
}

function kitPingPong(mode) {
  return async () => {
    const { Semaphore } = kit('Semaphore')
    const count = mode === 'sync' ? n(20000, 5000) : n(10000, 3000)
    const pingName = uniqueName('ping')
    const pongName = uniqueName('pong')
    const ping = Semaphore.posix(pingName, { initial: 0, create: true })
    const pong = Semaphore.posix(pongName, { initial: 0, create: true })
    const p = peer('kit-pong', ['posix', pingName, pongName, count * (reps + 1), mode])
    try {
      await p.next()
      const run =
        mode === 'sync'
          ? (c) => {
              for (let i = 0; i < c; i++) {
                ping.post()
                pong.waitSync()
              }
            }
          : async (c) => {
              for (let i = 0; i < c; i++) {
                ping.post()
                await pong.wait()
              }
            }
      return { [`kit.pingpong_${mode}`]: { unit: 'ns', samples: await samples(() => perOpAsync(run, count)) } }
    } finally {
      await p.stop()
      for (const sem of [ping, pong]) {
        sem.unlink()
        sem.close()
      }
    }
  }
}

// --- bulk transfer: 1 GiB in 1 MiB chunks -------------------------------------------

/** Runs warm-up + reps rounds of 'go' → `chunks` MiB arriving on `stream`; GB/s each. */
function bulkRounds(p, stream, chunks) {
  const total = chunks * CHUNK
  let received = 0
  let resolveRound = null
  stream.on('data', (d) => {
    received += d.length
    if (received >= total && resolveRound) {
      received -= total
      const r = resolveRound
      resolveRound = null
      r()
    }
  })
  return samples(async () => {
    const round = new Promise((resolve) => (resolveRound = resolve))
    const t0 = now()
    p.send('go')
    await round
    return total / elapsedNs(t0)
  })
}

async function unixBulk() {
  const chunks = n(1024, 256)
  const file = tmpFile('sock')
  const server = net.createServer()
  await new Promise((resolve) => server.listen(file, resolve))
  const connection = new Promise((resolve) => server.once('connection', resolve))
  const p = peer('bulk-socket', [file, chunks])
  const socket = await connection
  try {
    await p.next()
    return { 'alt.unix_bulk': { unit: 'GB/s', samples: await bulkRounds(p, socket, chunks) } }
  } finally {
    socket.destroy()
    server.close()
    await p.stop()
  }
}

async function pipeBulk() {
  const chunks = n(1024, 256)
  const p = peer('bulk-pipe', [chunks], { extraStdio: ['pipe'] })
  const stream = p.child.stdio[4]
  try {
    await p.next()
    return { 'alt.pipe_bulk': { unit: 'GB/s', samples: await bulkRounds(p, stream, chunks) } }
  } finally {
    stream.destroy()
    await p.stop()
  }
}

// The ipc-kit ring: RING_SLOTS slots of 1 MiB in one IPCBuffer; `free` counts
// empty slots, `full` filled ones. The writer copies each chunk in, the reader
// (bench/peer.js) copies it out into its own memory, as a socket would deliver it.
async function kitRing() {
  const { IPCBuffer, Semaphore } = kit('IPCBuffer', 'Semaphore')
  const chunks = n(1024, 256)
  const ringName = uniqueName('ring')
  const freeName = uniqueName('free')
  const fullName = uniqueName('full')
  const ring = IPCBuffer.posix(ringName, { size: RING_SLOTS * CHUNK })
  const free = Semaphore.posix(freeName, { initial: RING_SLOTS, create: true })
  const full = Semaphore.posix(fullName, { initial: 0, create: true })
  const p = peer('kit-ring-reader', [ringName, freeName, fullName, RING_SLOTS, chunks * (reps + 1)])
  const src = Buffer.alloc(CHUNK, 7)
  let slot = 0
  const run = () => {
    const t0 = now()
    for (let i = 0; i < chunks; i++) {
      free.waitSync()
      ring.set(src, slot * CHUNK)
      full.post()
      slot = (slot + 1) % RING_SLOTS
    }
    // Every slot free again: the reader has copied out the last chunk.
    for (let s = 0; s < RING_SLOTS; s++) free.waitSync()
    const gbps = (chunks * CHUNK) / elapsedNs(t0)
    free.post(RING_SLOTS)
    return gbps
  }
  try {
    await p.next()
    return { 'kit.ring_bulk': { unit: 'GB/s', samples: await samples(run) } }
  } finally {
    await p.stop()
    ring.unlink()
    ring.close()
    for (const sem of [free, full]) {
      sem.unlink()
      sem.close()
    }
  }
}

// --- Channel: messages between processes -------------------------------------------------

/** A fresh Channel, unlinked at once (its peers open it by name before `ready`). */
function freshChannel(options) {
  const { Channel } = kit('Channel')
  const name = uniqueName('chan')
  return { ch: Channel.open(name, { capacity: 1 << 20, ...options }), name }
}

/**
 * ns per message (or GB/s when `bytesEach`) of `senders` peers sending through
 * one channel to this process, which receives with `receive(count)`.
 */
function chanThroughput(id, what, receive, { senders = 1, full, quick, bytesEach, capacity } = {}) {
  return async () => {
    const { ch, name } = freshChannel(capacity ? { capacity, maxMessage: capacity - 8 } : undefined)
    const peers = []
    try {
      for (let i = 0; i < senders; i++) peers.push(peer('chan-send', [name, what]))
      for (const p of peers) await p.next()
      const run = async (count) => {
        const each = Math.max(1, Math.floor(count / senders))
        const t0 = now()
        for (const p of peers) p.send({ count: each })
        await receive(ch, each * senders)
        const ns = elapsedNs(t0)
        for (const p of peers) await p.next()
        return bytesEach ? (each * senders * bytesEach) / ns : ns / (each * senders)
      }
      const figures = bytesEach ? await samples(() => run(n(full, quick))) : await timed(run, n(full, quick))
      return { [id]: { unit: bytesEach ? 'GB/s' : 'ns', samples: figures } }
    } finally {
      for (const p of peers) await p.stop()
      ch.unlink()
      ch.close()
    }
  }
}

const receiveSync = (ch, count) => {
  for (let i = 0; i < count; i++) ch.receiveSync()
}
const receiveIterate = async (ch, count) => {
  let i = 0
  if (count > 0) {
    for await (const v of ch) if (++i === count) break
  }
}
const receiveViews = async (ch, count) => {
  for (let i = 0; i < count; i++) (await ch.receive({ copy: false })).release()
}

/** process.send pipelined from a peer: ns per message (counted straight from 'message' events). */
function processSendThroughput(id, what, serialization) {
  return async () => {
    const child = fork(path.join(__dirname, 'peer.js'), ['send-ipc', what], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization,
    })
    let onMessage = null
    child.on('message', (m) => onMessage(m))
    await new Promise((resolve) => (onMessage = resolve))
    const run = (count) =>
      new Promise((resolve) => {
        let got = 0
        let ns = 0
        const t0 = now()
        onMessage = (m) => {
          if (m === 'sent') return resolve(ns / count)
          if (++got === count) ns = elapsedNs(t0)
        }
        child.send({ count })
      })
    try {
      return { [id]: { unit: 'ns', samples: await timed(run, n(200000, 20000)) } }
    } finally {
      child.kill()
    }
  }
}

/** Request/response round trips over two channels (a peer echoes): ns per round trip. */
function chanRequestResponse(mode) {
  return async () => {
    const { ch: req, name: reqName } = freshChannel({ capacity: 65536 })
    const { ch: res, name: resName } = freshChannel({ capacity: 65536 })
    const p = peer('chan-echo', [reqName, resName, mode])
    const message = Buffer.alloc(64, 7)
    const run =
      mode === 'sync'
        ? (count) => {
            const t0 = now()
            for (let i = 0; i < count; i++) {
              req.sendSync(message)
              res.receiveSync()
            }
            return elapsedNs(t0) / count
          }
        : async (count) => {
            const t0 = now()
            for (let i = 0; i < count; i++) {
              await req.send(message)
              await res.receive()
            }
            return elapsedNs(t0) / count
          }
    try {
      await p.next()
      return {
        [`kit.chan_rr_${mode}`]: {
          unit: 'ns',
          // The same count (so warm-up) for both: the first few thousand async
          // round trips run before V8 has optimised either process's code.
          samples: await timed(run, n(200000, 20000)),
        },
      }
    } finally {
      req.seal()
      await p.stop()
      for (const ch of [req, res]) {
        ch.unlink()
        ch.close()
      }
    }
  }
}

// --- Buffer operations -------------------------------------------------------------------

// Each buffer kind lives in a process of its own (bench/peer.js 'buffer-ops'):
// in one process, the first kind to run gets Node's shared Buffer helpers
// optimised for it and later kinds run some 15% slower, whatever the memory.
// The processes take turns, one short sample each, so a busy moment of the
// machine hits every kind alike.
const BUFFER_KINDS = ['plain', 'kit', 'shmta']

async function bufferOps() {
  kit('IPCBuffer')
  const peers = {}
  const figures = {}
  try {
    for (const kind of BUFFER_KINDS) {
      const p = peer('buffer-ops', [kind, uniqueName(kind)])
      const hello = await p.next()
      if (hello === 'ready') peers[kind] = p
      else await p.stop() // shm-typed-array did not build: its rows read n/a
    }
    for (const op of ['fill', 'read', 'write', 'index']) {
      for (const p of Object.values(peers)) {
        p.send({ op, warm: true })
        await p.next()
      }
      for (let r = 0; r < n(31, 15); r++) {
        for (const [kind, p] of Object.entries(peers)) {
          p.send({ op })
          const id = `${kind === 'kit' ? 'kit' : `alt.${kind}`}.buf_${op}`
          figures[id] ??= { unit: 'ns', samples: [] }
          figures[id].samples.push(await p.next())
        }
      }
    }
  } finally {
    await Promise.all(Object.values(peers).map((p) => p.stop()))
  }
  return figures
}

// --- open + map + close + unlink -------------------------------------------------------------

async function kitCycle() {
  const { IPCBuffer } = kit('IPCBuffer')
  const name = uniqueName('cycle')
  const run = (count) => {
    for (let i = 0; i < count; i++) {
      const buf = IPCBuffer.posix(name, { size: 4096 })
      buf.unlink()
      buf.close()
    }
  }
  return { 'kit.cycle': { unit: 'ns', samples: await timed((c) => perOp(run, c), n(20000, 5000)) } }
}

async function shmtaCycle() {
  const shm = optional('shm-typed-array')
  const name = uniqueName('shmta')
  const run = (count) => {
    for (let i = 0; i < count; i++) {
      if (!shm.create(4096, 'Buffer', name)) throw new Error('shm-typed-array create failed')
      shm.detach(name, true)
    }
  }
  return { 'alt.shmta_cycle': { unit: 'ns', samples: await timed((c) => perOp(run, c), n(20000, 5000)) } }
}

// --- the wait engine: pending waits at scale -------------------------------------------

/**
 * `count` semaphores (POSIX, or System V with keys from the job's large block)
 * with one pending wait each; `rearm(i)` waits on semaphore i again.
 */
function pendingWaits(count, kind = 'posix') {
  const { Semaphore } = kit('Semaphore')
  const sems = []
  for (let i = 0; i < count; i++) {
    if (kind === 'sysv') {
      sems.push(Semaphore.sysv(ctx.largeKeyBase + i, { initial: 0, create: 'exclusive' }))
    } else {
      const sem = Semaphore.posix(uniqueName('idle'), { initial: 0, create: true })
      sem.unlink()
      sems.push(sem)
    }
  }
  const waits = sems.map((sem) => sem.wait().catch(() => {}))
  return {
    sems,
    waits,
    rearm: (i) => (waits[i] = sems[i].wait().catch(() => {})),
    close: async () => {
      for (const sem of sems) sem.close()
      await Promise.all(waits)
      if (kind === 'sysv') for (let i = 0; i < count; i++) Semaphore.unlink('sysv', ctx.largeKeyBase + i)
    },
  }
}

const taskCount = () => fs.readdirSync('/proc/self/task').length

/** CPU (% of one core) this process spends while 1,000 waits are pending and idle. */
const idleCpu = (id, kind) => async () => {
  const window = n(3000, 1000)
  const p = pendingWaits(1000, kind)
  try {
    await new Promise((r) => setTimeout(r, 200))
    return {
      [id]: {
        unit: '%',
        samples: await samples(async () => {
          const c0 = process.cpuUsage()
          const t0 = performance.now()
          await new Promise((r) => setTimeout(r, window))
          const c = process.cpuUsage(c0)
          return ((c.user + c.system) / 1000 / (performance.now() - t0)) * 100
        }),
      },
    }
  } finally {
    await p.close()
  }
}

/**
 * CPU (% of one core) this process spends while 1,000 receive()s are pending
 * on an empty channel (1,000 Channel objects: as many sleepers), 10 s windows.
 */
async function chanIdleCpu() {
  const { Channel } = kit('Channel')
  const name = uniqueName('chan-idle')
  const chans = []
  try {
    for (let i = 0; i < 1000; i++) chans.push(Channel.open(name, { capacity: 4096 }))
    chans[0].unlink()
    const pending = chans.map((ch) => ch.receive().catch(() => {}))
    // Past their spins and polls: asleep.
    await new Promise((r) => setTimeout(r, 500))
    const out = []
    for (let r = 0; r < Math.min(reps, 3); r++) {
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      await new Promise((res) => setTimeout(res, n(10000, 2000)))
      const c = process.cpuUsage(c0)
      out.push(((c.user + c.system) / 1000 / (performance.now() - t0)) * 100)
    }
    for (const ch of chans) ch.close()
    await Promise.all(pending)
    return { 'kit.chan_idle_cpu_1000': { unit: '%', samples: out } }
  } finally {
    for (const ch of chans) ch.close()
  }
}

/** Extra threads of this process for 1,000 pending waits on 1,000 semaphores. */
async function threadsPer1000() {
  const out = []
  for (let r = 0; r <= reps; r++) {
    const before = taskCount()
    const p = pendingWaits(1000)
    const during = taskCount() - before
    await p.close()
    if (r > 0) out.push(during)
    // Let the idle threads end before the next sample.
    for (let i = 0; i < 40 && taskCount() > before; i++) await new Promise((res) => setTimeout(res, 50))
  }
  return { 'kit.engine_threads_1000': { unit: 'threads', samples: out } }
}

/** close() of 5,000 POSIX semaphores and 5,000 Mutexes with one pending wait each: ns until every wait has rejected. */
async function closeMany() {
  const { Mutex, Semaphore } = kit('Semaphore', 'Mutex')
  const half = 5000
  const out = []
  // Each round opens 10,000 objects: few rounds, no warm-up (the first is as cold as a server's).
  for (let r = 0; r < n(3, 1); r++) {
    const sems = Array.from({ length: half }, () => {
      const sem = Semaphore.posix(uniqueName('close'), { initial: 0, create: true })
      sem.unlink()
      return sem
    })
    const locks = Array.from({ length: half }, () => uniqueName('close-lock'))
    const holders = locks.map((name) => new Mutex(name))
    const waiters = locks.map((name) => new Mutex(name))
    for (const h of holders) h.acquireSync()
    const waits = [...sems.map((s) => s.wait()), ...waiters.map((m) => m.acquire())].map((p) => p.catch(() => {}))
    await new Promise((res) => setTimeout(res, 200))
    const t0 = now()
    for (const s of sems) s.close()
    for (const m of waiters) m.close()
    await Promise.all(waits)
    out.push(elapsedNs(t0))
    for (const h of holders) {
      h.release()
      h.unlink()
      h.close()
    }
  }
  return { 'kit.engine_close_10000': { unit: 'ns', samples: out } }
}

/** Post to one of `count` semaphores with a pending wait each: ns until that wait resolves. */
function wakeLatency(count) {
  return async () => {
    const p = pendingWaits(count)
    const per = n(50, 20)
    let next = 0
    try {
      await new Promise((r) => setTimeout(r, 100))
      const id = `kit.engine_wake_${count}`
      return {
        [id]: {
          unit: 'ns',
          samples: await samples(async () => {
            let total = 0
            for (let k = 0; k < per; k++) {
              const i = (next = (next + 7919) % count)
              // The wait is idle when posted, as a wait that has slept a while.
              await new Promise((r) => setTimeout(r, 2))
              const t0 = now()
              p.sems[i].post()
              await p.waits[i]
              total += elapsedNs(t0)
              p.rearm(i)
            }
            return total / per
          }),
        },
      }
    } finally {
      await p.close()
    }
  }
}

/** The 1 MiB channel rows: 1,024 messages (256 quick) through an 8 MiB ring. */
const MIB_RUN = { full: 1024, quick: 256, bytesEach: CHUNK, capacity: 8 * CHUNK }

const jobs = {
  'c.futex_pair': cJob('futex_pair', 20000000, 5000000),
  'c.sem_pair': cJob('sem_pair', 10000000, 2000000),
  'c.semop_pair': cJob('semop_pair', 200000, 50000),
  'c.futex_pingpong': cJob('futex_pingpong', 20000, 5000),
  'c.spin_pingpong': cJob('spin_pingpong', 20000, 5000),
  'c.memcpy': cJob('memcpy', 1024, 256),
  'c.memcpy_cached': cJob('memcpy_cached', 1024, 256),
  'c.shm_cycle': cJob('shm_cycle', 10000, 3000),
  'c.counter2': cJob('counter2', 10000000, 2000000),
  'c.counter4': cJob('counter4', 5000000, 1000000),
  'ref.atomics_pair': atomicsPair,
  'ref.napi_noop': napiNoop,
  'alt.lockfile_sync': lockfileSync,
  'alt.lockfile_async': lockfileAsync,
  'alt.flock_pair': flockPair,
  'kit.mutex_pair': mutexPair,
  'kit.mutex_async_pair': mutexAsyncPair,
  'kit.sem_posix_pair': semPair('posix'),
  'kit.sem_sysv_pair': semPair('sysv'),
  'kit.counter2': kitCounter(2, 'view'),
  'kit.counter4': kitCounter(4, 'view'),
  'kit.counter2_methods': kitCounter(2, 'methods'),
  'kit.counter4_methods': kitCounter(4, 'methods'),
  'alt.flock_counter2': flockCounter(2),
  'alt.flock_counter4': flockCounter(4),
  'alt.worker_counter2': workerCounter(2),
  'alt.worker_counter4': workerCounter(4),
  'alt.process_send_pingpong': processSendPingPong,
  'alt.unix_pingpong': unixPingPong,
  'alt.worker_pingpong_sync': workerPingPong('sync'),
  'alt.worker_pingpong_async': workerPingPong('async'),
  'kit.pingpong_sync': kitPingPong('sync'),
  'kit.pingpong_async': kitPingPong('async'),
  'alt.unix_bulk': unixBulk,
  'alt.pipe_bulk': pipeBulk,
  'kit.ring_bulk': kitRing,
  bufops: bufferOps,
  'kit.cycle': kitCycle,
  'kit.chan_sync': chanThroughput('kit.chan_sync', 'sync64', receiveSync, { full: 4000000, quick: 400000 }),
  'kit.chan_async': chanThroughput('kit.chan_async', 'async64', receiveIterate, { full: 2000000, quick: 200000 }),
  'kit.chan_object': chanThroughput('kit.chan_object', 'object', receiveSync, { full: 500000, quick: 50000 }),
  'kit.chan_4to1': chanThroughput('kit.chan_4to1', 'sync64', receiveSync, { senders: 4, full: 4000000, quick: 400000 }),
  'kit.chan_mib_zero': chanThroughput('kit.chan_mib_zero', 'mib-zero', receiveViews, MIB_RUN),
  'kit.chan_mib_copy': chanThroughput('kit.chan_mib_copy', 'mib-copy', receiveSync, MIB_RUN),
  // The copying row's sender, with the zero-copy row's receiver: where the copying row's time goes.
  'kit.chan_mib_send_view': chanThroughput('kit.chan_mib_send_view', 'mib-copy', receiveViews, MIB_RUN),
  'kit.chan_rr_sync': chanRequestResponse('sync'),
  'kit.chan_rr_async': chanRequestResponse('async'),
  'alt.process_send_json': processSendThroughput('alt.process_send_json', 'string64', 'json'),
  'alt.process_send_advanced': processSendThroughput('alt.process_send_advanced', 'string64', 'advanced'),
  'alt.process_send_object': processSendThroughput('alt.process_send_object', 'object', 'advanced'),
  'c.mq_pair': cJob('mq_pair', 1000000, 200000),
  'kit.engine_idle_cpu_1000': idleCpu('kit.engine_idle_cpu_1000', 'posix'),
  'kit.engine_idle_cpu_1000_sysv': idleCpu('kit.engine_idle_cpu_1000_sysv', 'sysv'),
  'kit.chan_idle_cpu_1000': chanIdleCpu,
  'kit.engine_threads_1000': threadsPer1000,
  'kit.engine_wake_1': wakeLatency(1),
  'kit.engine_wake_100': wakeLatency(100),
  'kit.engine_wake_10000': wakeLatency(10000),
  'kit.engine_close_10000': closeMany,
  'alt.shmta_cycle': shmtaCycle,
}

// SharedMap against Map, lmdb, Redis and a Map in the primary (bench/shared-map-jobs.js).
Object.assign(
  jobs,
  require('./shared-map-jobs').sharedMapJobs({
    timed,
    perOp,
    perOpAsync,
    n,
    uniqueName,
    tmpFile,
    optional,
    kit,
    Unavailable,
  }),
)

module.exports = { jobs }

if (require.main === module) {
  const id = process.argv[2]
  Promise.resolve()
    .then(() => jobs[id]())
    .then(
      (figures) => process.stdout.write(`${JSON.stringify({ figures })}\n`),
      (err) => {
        if (!(err instanceof Unavailable)) throw err
        process.stdout.write(`${JSON.stringify({ unavailable: err.message })}\n`)
      },
    )
    .then(
      () => process.exit(0),
      (err) => {
        console.error(err && err.stack ? err.stack : err)
        process.exit(1)
      },
    )
}
