'use strict'
// Channel sleepers without polling: a sleep has no time limit of its own, yet
// a participant killed between its change of the ring and its wake-up never
// strands the others for more than 1 s (a real process, test/fixtures/channel-waker.js,
// changes the ring the way a sender or a receiver does and SIGKILLs itself
// there), and idle pending receives wake no thread.
const fs = require('node:fs')
const { test } = require('uvu')
const assert = require('uvu/assert')
const { Channel } = require('..')
const { uniqueName, withCleanup, runChild, until } = require('./helpers')

/** A fresh channel, closed and removed afterwards. */
function fresh(cleanup, options = { capacity: 4096 }) {
  const name = uniqueName('wake')
  const ch = Channel.open(name, options)
  cleanup(() => ch.close())
  cleanup(() => ch.unlink())
  return { ch, name }
}

/** Runs a channel-waker.js mode that SIGKILLs itself; resolves with the time it died. */
async function killedAfter(mode, args) {
  let diedAt = 0
  const r = await runChild('channel-waker.js', [mode, ...args], {
    onSpawn: (child) => child.on('exit', () => (diedAt = Date.now())),
  })
  assert.equal([r.code, r.signal, r.stderr], [null, 'SIGKILL', ''])
  return diedAt
}

/** A waiting channel-waker.js child (recv-sync, send-sync): { child, report }. */
function waiter(mode, args) {
  let child
  const report = runChild('channel-waker.js', [mode, ...args], { onSpawn: (c) => (child = c) })
  return { report, child: () => child }
}

/** Voluntary context switches of a process's main thread so far. */
function mainThreadSwitches(pid) {
  const status = fs.readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8')
  return Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)[1])
}

test('a sender killed between its TAIL store and its wake-up: receivers asleep (async here, sync in another process) get its messages within 1 s', () =>
  withCleanup(async (cleanup) => {
    const { ch, name } = fresh(cleanup)
    const asyncGot = ch.receive().then((v) => ({ value: v.toString(), at: Date.now() }))
    const sync = waiter('recv-sync', [name])
    await until(() => ch.stats().receiversWaiting === 2, 10000, 'both receivers sleep')
    // Past their spins: asleep in the kernel.
    await new Promise((resolve) => setTimeout(resolve, 300))
    const diedAt = await killedAfter('publish', [name, 2])
    const [a, s] = await Promise.all([asyncGot, sync.report])
    assert.equal([s.code, s.signal, s.stderr], [0, null, ''])
    const b = s.messages[0]
    assert.equal([a.value, b.value].sort(), ['msg-0', 'msg-1'])
    for (const got of [a, b]) assert.ok(got.at - diedAt < 1000, `received ${got.at - diedAt} ms after the sender died`)
    assert.equal(ch.stats().bytes, 0)
  }))

for (const how of ['async', 'sync']) {
  test(`a receiver killed between its HEAD store and its wake-up: a sender (${how}) asleep on a full ring gets room within 1 s`, () =>
    withCleanup(async (cleanup) => {
      const { ch, name } = fresh(cleanup, { capacity: 256 })
      // Full: 3 records of 72 bytes (216 of 256): a 4th of 72 does not fit.
      for (let i = 0; i < 3; i++) assert.ok(ch.trySend(Buffer.alloc(64, i)))
      assert.not.ok(ch.trySend(Buffer.alloc(64)))
      let sent
      let child
      if (how === 'async') sent = ch.send(Buffer.alloc(64, 9)).then(() => Date.now())
      else {
        const w = waiter('send-sync', [name, 64])
        child = w.report
        sent = w.report.then((r) => {
          assert.equal([r.code, r.signal, r.stderr], [0, null, ''])
          return r.messages[0].at
        })
      }
      await until(() => ch.stats().sendersWaiting === 1, 10000, 'the sender sleeps')
      await new Promise((resolve) => setTimeout(resolve, 300))
      const diedAt = await killedAfter('take', [name])
      const at = await sent
      assert.ok(at - diedAt < 1000, `room seen ${at - diedAt} ms after the receiver died`)
      if (child) await child
      // The taken record is gone; the other two and the new one remain, in order
      // (the first receive takes the dead receiver's lock over).
      const left = []
      for (let got; (got = ch.receiveSync(ch.stats().bytes > 0 ? 5000 : 0)) !== undefined;) left.push(got.value[0])
      assert.equal(left, [1, 2, 9])
    }))
}

test("a sender killed after clearing the sleepers' bit, before its FUTEX_WAKE: the next sender takes its lock over and wakes the receiver", () =>
  withCleanup(async (cleanup) => {
    const { ch, name } = fresh(cleanup)
    const got = ch.receive().then((v) => ({ value: v, at: Date.now() }))
    await until(() => ch.stats().receiversWaiting === 1, 10000, 'the receiver sleeps')
    await new Promise((resolve) => setTimeout(resolve, 300))
    await killedAfter('clear', [name])
    // Another object (a sender of this process) finds the lock's holder dead.
    const other = Channel.open(name, { create: false })
    cleanup(() => other.close())
    const sentAt = Date.now()
    other.sendSync('after')
    const r = await got
    assert.is(r.value, 'after')
    assert.ok(r.at - sentAt < 1000, `received ${r.at - sentAt} ms after the send`)
  }))

test('a sealer killed between its SEALED store and its wake-up: a receiver asleep on an empty channel and a sender asleep on a full one end within 1 s', () =>
  withCleanup(async (cleanup) => {
    const { ch, name } = fresh(cleanup, { capacity: 256 })
    // `ch` receives on an empty channel; `full` sends to a full one.
    const received = ch.receive().then(
      () => ({ code: 'received' }),
      (err) => ({ code: err.code, at: Date.now() }),
    )
    await until(() => ch.stats().receiversWaiting === 1, 10000, 'the receiver sleeps')
    await new Promise((resolve) => setTimeout(resolve, 300))
    const { ch: full, name: fullName } = fresh(cleanup, { capacity: 256 })
    for (let i = 0; i < 3; i++) assert.ok(full.trySend(Buffer.alloc(64, i)))
    const sent = full.send(Buffer.alloc(64)).then(
      () => ({ code: 'sent' }),
      (err) => ({ code: err.code, at: Date.now() }),
    )
    await until(() => full.stats().sendersWaiting === 1, 10000, 'the sender sleeps')
    await new Promise((resolve) => setTimeout(resolve, 300))
    const [diedRecv, diedSend] = [await killedAfter('seal', [name]), await killedAfter('seal', [fullName])]
    const [r, s] = [await received, await sent]
    assert.is(r.code, 'ERR_IPC_SEALED')
    assert.is(s.code, 'ERR_IPC_SEALED')
    assert.ok(r.at - diedRecv < 1000, `the receive ended ${r.at - diedRecv} ms after the sealer died`)
    assert.ok(s.at - diedSend < 1000, `the send ended ${s.at - diedSend} ms after the sealer died`)
  }))

// With futex_waitv (one engine thread for all), and with the fallback (a thread per wait).
for (const env of [{}, { IPC_KIT_FUTEX_WAITV: '0' }]) {
  test(`100 idle pending receives (100 Channel objects${env.IPC_KIT_FUTEX_WAITV ? ', no futex_waitv' : ''}) wake no thread: no context switches, no CPU`, () =>
    withCleanup(async (cleanup) => {
      const { name } = fresh(cleanup)
      const r = await runChild('channel-waker.js', ['idle', name, 100, 3000], { timeout: 60000, env })
      assert.equal([r.code, r.signal, r.stderr], [0, null, ''])
      const { switches, cpuPercent, closed } = r.messages[0]
      assert.is(closed, 100)
      // Sleeps of at most 200 ms made 530 (1,030 without futex_waitv) here; what is left is Node's own.
      assert.ok(switches < 100, `${switches} context switches in 3 s`)
      assert.ok(cpuPercent < 2, `${cpuPercent.toFixed(2)}% of a core`)
    }))
}

test('idle receiveSync() in other processes wakes no thread: their main threads do not switch', () =>
  withCleanup(async (cleanup) => {
    const { ch, name } = fresh(cleanup)
    const waiters = [0, 1, 2].map(() => waiter('recv-sync', [name]))
    await until(() => ch.stats().receiversWaiting === 3, 10000, 'the receivers sleep')
    await new Promise((resolve) => setTimeout(resolve, 300))
    const pids = waiters.map((w) => w.child().pid)
    const before = pids.map(mainThreadSwitches)
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const grew = pids.map((pid, i) => mainThreadSwitches(pid) - before[i])
    ch.seal()
    for (const w of waiters) {
      const r = await w.report
      assert.equal([r.code, r.signal, r.stderr], [0, null, ''])
    }
    // Slices of 100-200 ms made 10-20 switches each in 2 s.
    for (const n of grew) assert.ok(n <= 2, `a sleeping receiver's main thread switched ${n} times in 2 s`)
  }))

test.run()
