'use strict'
// Channel across real processes: many senders and receivers with exact
// counts and per-sender order, back-pressure, and peers killed while they
// hold a view or a reserved slot.
const { test } = require('uvu')
const assert = require('uvu/assert')
const { Channel } = require('..')
const { uniqueName, withCleanup, runChild, nextMessage, rejectsCode, until } = require('./helpers')

/** What the fixture's senders send: sender id, sequence number, filler. */
function encode(id, seq) {
  const b = Buffer.alloc(8 + (seq % 50), seq & 0xff)
  b.writeUInt32LE(id, 0)
  b.writeUInt32LE(seq, 4)
  return b
}

/** A fresh channel, closed and removed afterwards. */
function fresh(cleanup, options = { capacity: 16384 }) {
  const name = uniqueName('chan')
  const ch = Channel.open(name, options)
  cleanup(() => ch.close())
  cleanup(() => ch.unlink())
  return { ch, name }
}

const COMBOS = [
  ['sync', 'sync', 10000],
  ['async', 'iterate', 10000],
  ['try', 'async', 10000],
  ['reserve', 'view', 5000],
  ['value', 'iterate', 5000],
  ['string', 'sync', 10000],
]

for (const [sendMode, recvMode, n] of COMBOS) {
  test(`3 senders (${sendMode}) x ${n} -> 3 receivers (${recvMode}): each message exactly once, in each sender's order`, () =>
    withCleanup(async (cleanup) => {
      const { ch, name } = fresh(cleanup)
      const receivers = [0, 1, 2].map(() => runChild('channel-peer.js', ['recv', name, recvMode], { timeout: 60000 }))
      const senders = [1, 2, 3].map((id) =>
        runChild('channel-peer.js', ['send', name, id, n, sendMode], { timeout: 60000 }),
      )
      for (const r of await Promise.all(senders)) {
        assert.is(r.stderr, '')
        assert.equal([r.code, r.signal], [0, null])
      }
      ch.seal()
      const reports = await Promise.all(receivers)
      const total = {}
      for (const r of reports) {
        assert.is(r.stderr, '')
        assert.equal([r.code, r.signal], [0, null])
        for (const [id, s] of Object.entries(r.messages[0])) {
          assert.ok(s.ordered, `sender ${id}'s messages out of order at one receiver`)
          const t = (total[id] ??= { count: 0, sum: 0, sumsq: 0 })
          t.count += s.count
          t.sum += s.sum
          t.sumsq += s.sumsq
        }
      }
      let sumsq = 0
      for (let i = 0; i < n; i++) sumsq += i * i
      for (const id of ['1', '2', '3'])
        assert.equal(total[id], { count: n, sum: (n * (n - 1)) / 2, sumsq }, `sender ${id}`)
      const stats = ch.stats()
      assert.is(stats.messages, 0)
      assert.is(stats.bytes, 0)
    }))
}

for (const how of ['sendSync', 'send']) {
  test(`back-pressure: trySend is false while full; a waiting ${how} completes when a receiver in another process makes room`, () =>
    withCleanup(async (cleanup) => {
      const { ch, name } = fresh(cleanup, { capacity: 256 })
      let sent = 0
      let bytes = 0
      while (ch.trySend(encode(1, sent))) bytes += 8 + ((8 + (sent++ % 50) + 7) & ~7)
      assert.ok(sent > 3 && bytes > 256 - 64, `${sent} messages, ${bytes} bytes`)
      const stats = ch.stats()
      // A record that did not fit before the ring's end handed the end over (a WRAP record).
      assert.ok(stats.bytes >= bytes && stats.bytes <= 256, `${stats.bytes} bytes in use`)
      assert.equal(
        { ...stats, bytes: 0 },
        {
          messages: sent,
          bytes: 0,
          capacity: 256,
          maxMessage: 120,
          sendersWaiting: 0,
          receiversWaiting: 0,
          sealed: false,
        },
      )
      assert.is(ch.trySend(Buffer.alloc(1)), false)
      assert.is(ch.sendSync(Buffer.alloc(1), 20), false)
      await rejectsCode(ch.send(Buffer.alloc(1), { timeout: 20 }), Error, 'ETIMEDOUT')
      const receiver = runChild('channel-peer.js', ['recv', name, 'sync'])
      for (let i = 0; i < 100; i++, sent++) {
        if (how === 'sendSync') assert.is(ch.sendSync(encode(1, sent), 10000), true)
        else await ch.send(encode(1, sent), { timeout: 10000 })
      }
      ch.seal()
      const r = await receiver
      assert.equal([r.code, r.signal, r.stderr], [0, null, ''])
      assert.is(r.messages[0][1].count, sent)
      assert.ok(r.messages[0][1].ordered)
    }))
}

test('a receiver killed while holding a view: the message goes to the next receiver, within a second', () =>
  withCleanup(async (cleanup) => {
    const { ch, name } = fresh(cleanup)
    ch.sendSync('first')
    ch.sendSync('second')
    let proc
    const done = runChild('channel-peer.js', ['hold-view', name], { onSpawn: (c) => (proc = c) })
    cleanup(() => proc.kill('SIGKILL'))
    const m = await nextMessage(proc, (x) => x.held !== undefined)
    assert.is(m.held, 'first')
    assert.is(ch.tryReceive(), undefined) // the receivers' lock is held
    proc.kill('SIGKILL')
    assert.is((await done).signal, 'SIGKILL')
    const t0 = performance.now()
    assert.equal(ch.receiveSync(5000), { value: 'first' })
    assert.ok(performance.now() - t0 < 1000, `took ${performance.now() - t0} ms`)
    assert.equal(ch.receiveSync(0), { value: 'second' })
    assert.equal(ch.stats().bytes, 0)
  }))

test("a receiver waiting while another process holds a reserved slot sleeps on the ring, not on the senders' lock; the commit wakes it, and a holder killed with its slot strands nobody", () =>
  withCleanup(async (cleanup) => {
    const { ch, name } = fresh(cleanup)
    for (const ending of ['commit', 'kill']) {
      let proc
      const done = runChild('channel-peer.js', ['hold-slot', name, 16], { onSpawn: (c) => (proc = c) })
      cleanup(() => proc.kill('SIGKILL'))
      await nextMessage(proc, (x) => x.held !== undefined)
      const got = ch.receive()
      // Asleep on the receivers' event word: a receiver waiting for the senders' lock is not counted.
      await until(() => ch.stats().receiversWaiting === 1, 5000, `${ending}: the receiver sleeps on the ring`)
      const t0 = performance.now()
      if (ending === 'commit') {
        proc.send('commit')
        assert.equal(await got, Buffer.alloc(16, 7))
        proc.kill('SIGKILL')
      } else {
        proc.kill('SIGKILL')
        await done
        // The next sender takes the lock over (nothing was published) and wakes every sleeper.
        assert.is(ch.sendSync('after', 5000), true)
        assert.is(await got, 'after')
      }
      assert.ok(performance.now() - t0 < 1000, `${ending}: took ${performance.now() - t0} ms`)
      await done
      assert.is(ch.stats().bytes, 0)
    }
  }))

test('a sender killed while holding a reserved slot: nothing is visible, the next sender goes on within a second', () =>
  withCleanup(async (cleanup) => {
    const { ch, name } = fresh(cleanup)
    ch.sendSync('before')
    let proc
    const done = runChild('channel-peer.js', ['hold-slot', name, 1000], { onSpawn: (c) => (proc = c) })
    cleanup(() => proc.kill('SIGKILL'))
    await nextMessage(proc, (x) => x.held !== undefined)
    assert.is(ch.trySend('blocked'), false) // the senders' lock is held
    proc.kill('SIGKILL')
    assert.is((await done).signal, 'SIGKILL')
    const t0 = performance.now()
    assert.is(ch.sendSync('after', 5000), true)
    assert.ok(performance.now() - t0 < 1000, `took ${performance.now() - t0} ms`)
    assert.equal(ch.stats().messages, 2)
    assert.equal(ch.receiveSync(0), { value: 'before' })
    assert.equal(ch.receiveSync(0), { value: 'after' })
    assert.equal(ch.stats().bytes, 0)
  }))

test.run()
