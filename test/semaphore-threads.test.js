'use strict'
// Semaphore waits and the rest of Node: the event loop and libuv's threadpool
// stay free with hundreds of waits pending; worker_threads wait, post, load
// and unload the addon; several copies of the addon run side by side.
const fs = require('node:fs')
const dns = require('node:dns')
const os = require('node:os')
const { join } = require('node:path')
const { Worker } = require('node:worker_threads')
const { suite } = require('uvu')
const assert = require('uvu/assert')
const { Semaphore } = require('..')
const { binding } = require('../dist/native')
const {
  uniqueName,
  uniqueKey,
  withCleanup,
  runChild,
  freshSemaphore,
  skipIf,
  cannotRun,
  FIXTURES,
} = require('./helpers')

const WORKER = join(FIXTURES, 'semaphore-worker.js')

const fresh = freshSemaphore

/** Milliseconds `fn()` (a promise) takes. */
async function timed(fn) {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

function nextFrom(worker, predicate = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for the worker')), 15000)
    const onMessage = (m) => {
      if (typeof m === 'string' && m.startsWith('error')) reject(new Error(m))
      if (!predicate(m)) return
      clearTimeout(timer)
      worker.off('message', onMessage)
      resolve(m)
    }
    worker.on('message', onMessage)
  })
}

const loop = suite('Semaphore waits and the event loop')

loop('with 256 waits pending, fs.readFile, dns.lookup and a timer complete promptly', () =>
  withCleanup(async (cleanup) => {
    // 16 POSIX and 16 System V semaphores, 8 waits on each.
    const sems = []
    for (let i = 0; i < 16; i++) sems.push(fresh('posix', cleanup), fresh('sysv', cleanup))
    let resolved = 0
    const waits = []
    for (const sem of sems) for (let i = 0; i < 8; i++) waits.push(sem.wait().then(() => resolved++))
    assert.is(waits.length, 256)
    await new Promise((r) => setTimeout(r, 20)) // let every waiter thread block
    const [readFile, lookup, timer] = await Promise.all([
      timed(() => fs.promises.readFile(__filename)),
      timed(() => dns.promises.lookup('localhost')),
      timed(() => new Promise((r) => setTimeout(r, 10))),
    ])
    // Four of each in parallel: more than libuv's default pool of 4 threads.
    const more = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(() => timed(() => fs.promises.readFile(__filename))))
    if (process.env.IPC_KIT_VERBOSE) console.log({ readFile, lookup, timer, more: Math.max(...more) })
    assert.ok(readFile < 500, `fs.readFile took ${readFile} ms`)
    assert.ok(lookup < 1000, `dns.lookup took ${lookup} ms`)
    assert.ok(timer < 200, `a 10 ms timer took ${timer} ms`)
    assert.ok(Math.max(...more) < 1000, `8 parallel reads took ${Math.max(...more)} ms`)
    assert.is(resolved, 0)
    for (const sem of sems) sem.post(8)
    await Promise.all(waits)
    assert.is(resolved, 256)
  }),
)

loop(
  'idle semaphores dropped without close() are collected and their engine thread stops; one still held keeps working',
  () =>
    withCleanup(async (cleanup) => {
      const name = uniqueName('semgc')
      cleanup(() => Semaphore.unlink('posix', name))
      const { code, signal, stderr, messages } = await runChild('semaphore-gc.js', [name], {
        execArgv: ['--expose-gc'],
      })
      assert.is(signal, null, stderr)
      assert.is(code, 0, stderr)
      const [{ before, busy, after, kept }] = messages
      assert.is(kept, true)
      // 16 semaphores share one engine thread (futex_waitv), or have one each without it.
      const most = binding.wait.SHARED_THREADS ? 1 : 16
      assert.ok(
        busy > before && busy <= before + most,
        `16 semaphores with waits behind them: ${before} -> ${busy} threads`,
      )
      assert.is(after, before, `after collection: ${after} threads, ${before} before`)
    }),
)

// The engine thread of a System V wait is starved of CPU in a child: queuing a
// timed wait beside it once spun on this thread until that thread ran (seconds).
skipIf(cannotRun('chrt', ['-p', String(process.pid)]), loop)(
  'System V: wait() never holds the event loop for a starved engine thread',
  async () => {
    const { code, signal, stderr, messages } = await runChild('engine-starved.js', [uniqueKey()], { timeout: 60000 })
    assert.is(signal, null, stderr)
    assert.is(code, 0, stderr)
    const [{ blockedMs }] = messages
    assert.ok(blockedMs < 100, `wait({ timeout: 5 }) held the event loop for ${blockedMs} ms`)
  },
)

loop.run()

const workers = suite('Semaphore and worker_threads')

for (const kind of ['posix', 'sysv']) {
  workers(`${kind}: a worker waits, the main thread posts`, () =>
    withCleanup(async (cleanup) => {
      const sem = fresh(kind, cleanup)
      const worker = new Worker(WORKER, { workerData: { cmd: 'wait', kind, id: sem.name } })
      cleanup(() => worker.terminate())
      await nextFrom(worker, (m) => m === 'ready')
      sem.post()
      assert.is(await nextFrom(worker), 'waited')
      assert.is(sem.value, 0)
    }),
  )
}

workers('workers terminated with waits pending and units in flight: no crash, every unit given back', () =>
  withCleanup(async (cleanup) => {
    const sem = fresh('posix', cleanup)
    for (let round = 0; round < 6; round++) {
      const batch = [0, 1, 2].map(
        () => new Worker(WORKER, { workerData: { cmd: 'pending', kind: 'posix', id: sem.name, count: 4 } }),
      )
      for (const w of batch) w.on('message', (m) => assert.not.equal(m, 'resolved'))
      await Promise.all(batch.map((w) => nextFrom(w, (m) => m === 'ready')))
      // The workers' JavaScript is blocked: their waiter threads take these
      // units but cannot deliver them. Teardown must give them back.
      sem.post(2)
      for (let i = 0; i < 1000 && sem.value > 0; i++) await new Promise((r) => setTimeout(r, 1))
      assert.is(sem.value, 0)
      const took = await timed(() => Promise.all(batch.map((w) => w.terminate())))
      assert.ok(took < 2000, `terminating 3 workers took ${took} ms`)
      assert.is(sem.value, 2)
      assert.is(sem.tryWait() && sem.tryWait(), true)
    }
  }),
)

workers('workers terminated in the middle of native calls: the process survives', () =>
  withCleanup(async (cleanup) => {
    const sem = fresh('posix', cleanup)
    for (let round = 0; round < 10; round++) {
      const worker = new Worker(WORKER, { workerData: { cmd: 'busy', kind: 'posix', id: sem.name } })
      await nextFrom(worker, (m) => m === 'ready')
      await new Promise((r) => setTimeout(r, round))
      await worker.terminate()
    }
  }),
)

workers('two copies of the addon in one process (and in a worker) each serve their waits', () =>
  withCleanup(async (cleanup) => {
    const sem = fresh('posix', cleanup)
    const original = require('node-gyp-build').path(join(__dirname, '..'))
    const dir = fs.mkdtempSync(join(os.tmpdir(), `ipckit-addon-${process.pid}-`))
    cleanup(() => fs.rmSync(dir, { recursive: true, force: true }))
    const copy = join(dir, 'ipc_kit.node')
    fs.copyFileSync(original, copy)

    // In this thread: the copy's engine waits, the package's Semaphore posts.
    const module = { exports: {} }
    process.dlopen(module, copy)
    assert.is.not(module.exports.sem, require('../dist/native').sem)
    const { sem: raw, wait } = module.exports
    const { handle } = raw.open(raw.KIND.posix, sem.name, 0, 0o600, 0, false)
    let settle
    const settled = new Promise((resolve) => (settle = resolve))
    const onSettled = (id, err) => settle(err)
    const queue = raw.waitQueue(handle, onSettled) // held until the end, as WaitQueue does
    wait.add(queue, -1)
    const inWorker = new Worker(WORKER, { workerData: { cmd: 'copy', id: sem.name, addon: copy } })
    cleanup(() => inWorker.terminate())
    await nextFrom(inWorker, (m) => m === 'ready')
    const waited = nextFrom(inWorker, (m) => m !== 'ready')
    sem.post(2)
    assert.is(await settled, 0)
    assert.is(await waited, 'waited')
    assert.equal(wait.close(queue), [])
    raw.close(handle)
    assert.is(sem.value, 0)
  }),
)

workers.run()
