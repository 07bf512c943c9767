'use strict'
// Channel in one process: the API, values, errors and bad input. Across
// processes: channel-processes.test.js; crashes: channel-torture.test.js.
const { Worker } = require('node:worker_threads')
const { test } = require('uvu')
const assert = require('uvu/assert')
const { Channel, IPCBuffer, GuardedBuffer } = require('..')
const { uniqueName, uniqueKey, uniquePath, withCleanup, throwsCode, rejectsCode } = require('./helpers')

function fresh(cleanup, options = { capacity: 4096 }, name = uniqueName('chan')) {
  const ch = Channel.open(name, options)
  cleanup(() => ch.close())
  cleanup(() => ch.unlink())
  return ch
}

test('values: Buffer and Uint8Array arrive as Buffer, strings as strings, the rest through v8.serialize with types kept', () =>
  withCleanup((cleanup) => {
    const ch = fresh(cleanup)
    const values = [
      Buffer.from('bytes'),
      new Uint8Array([1, 2, 3]),
      '',
      'héllo — 🌍',
      0,
      -1.5,
      null,
      undefined,
      true,
      123n,
      new Date(1e12),
      new Map([['a', new Set([1, 2])]]),
      { id: 7, name: 'x', tags: ['a', 'b'], nested: { deep: [1, { z: 2 }] } },
      new Float64Array([1.5, -2]),
      new Int16Array([-3, 4]),
      [1, 'two', [3]],
    ]
    for (const v of values) assert.is(ch.trySend(v), true)
    assert.is(ch.stats().messages, values.length)
    for (const v of values) {
      const got = ch.tryReceive()
      assert.ok(got !== undefined)
      if (v instanceof Uint8Array && v.constructor === Uint8Array) {
        assert.ok(Buffer.isBuffer(got.value))
        assert.equal([...got.value], [...v])
      } else {
        assert.equal(got.value, v)
        assert.is(Object.prototype.toString.call(got.value), Object.prototype.toString.call(v))
      }
    }
    assert.is(ch.tryReceive(), undefined)
    assert.equal(ch.stats().bytes, 0)
  }))

test('plain values (objects, arrays, strings, numbers) arrive exactly as v8.deserialize(v8.serialize(v)) makes them, by every receive', () =>
  withCleanup(async (cleanup) => {
    const v8 = require('node:v8')
    const ch = fresh(cleanup, { capacity: 65536 })
    const shared = { s: 1 }
    const values = [
      -0,
      NaN,
      2 ** 31,
      -(2 ** 31),
      2 ** 30,
      1e300,
      { id: 7, name: 'job-7', tags: ['queue', 'bench', 'small'] },
      { 'é€😀': 'ÿ'.repeat(40), long: 'x'.repeat(300), wide: '€'.repeat(50), u: undefined, n: null },
      { a: { b: { c: [[], {}, [undefined, null, false, 3.25]] } } },
      Array.from({ length: 100 }, (_, i) => i * 100003),
      // Outside the plain subset: through v8.serialize, with what it keeps.
      [1, , 3], // eslint-disable-line no-sparse-arrays
      { 1: 'index key', x: 2 },
      Object.assign([1, 2], { extra: 'named' }),
      [shared, shared],
      Array.from({ length: 80 }, (_, i) => ({ i })),
      Object.assign(Object.create(null), { nullProto: true }),
      JSON.parse('{"__proto__": {"polluted": true}}'),
      new (class Point {
        x = 1
      })(),
    ]
    const same = (got, v, how) => {
      const want = v8.deserialize(v8.serialize(v))
      assert.equal(got, want, how)
      assert.is(Object.getPrototypeOf(got), Object.getPrototypeOf(want), how)
      assert.is(Object.keys(got ?? {}).join(), Object.keys(want ?? {}).join(), how)
      if (Object.is(v, -0)) assert.ok(Object.is(got, -0), how)
      if (Array.isArray(v) && v.length === 2 && v[0] === shared)
        assert.ok(got[0] === got[1], 'a shared reference stays shared')
    }
    for (const v of values) {
      assert.is(ch.sendSync(v), true)
      same(ch.receiveSync(0).value, v, 'sendSync -> receiveSync')
      await ch.send(v)
      same(await ch.receive(), v, 'send -> receive')
      assert.is(ch.trySend(v), true)
      const view = await ch.receive({ copy: false })
      same(view.value, v, 'receive({ copy: false }).value')
      view.release()
    }
    // Queued sends keep their own bytes while later values are encoded.
    const full = fresh(cleanup, { capacity: 256, maxMessage: 200 })
    let filled = 0
    while (full.trySend('x'.repeat(100))) filled++
    const queued = [{ n: 1 }, { n: 2 }, { n: 3 }].map((v) => full.send(v))
    const got = []
    while (got.length < filled + 3) got.push(await full.receive({ timeout: 5000 }))
    await Promise.all(queued)
    assert.equal(got.slice(filled), [{ n: 1 }, { n: 2 }, { n: 3 }])
  }))

test('a received Buffer is a copy of its own: later messages do not change it', () =>
  withCleanup((cleanup) => {
    const ch = fresh(cleanup, { capacity: 256 })
    const got = []
    for (let i = 0; i < 100; i++) {
      ch.sendSync(Buffer.alloc(40, i))
      got.push(ch.receiveSync(0).value)
    }
    got.forEach((b, i) =>
      assert.ok(
        b.every((x) => x === i),
        `message ${i}`,
      ),
    )
  }))

test('several sender and receiver objects, interleaved at random on a small ring: every message once, in order per sender', () =>
  withCleanup((cleanup) => {
    const name = uniqueName('chan')
    const senders = [0, 1, 2].map(() => fresh(cleanup, { capacity: 256 }, name))
    const receivers = [0, 1, 2].map(() => fresh(cleanup, { capacity: 256 }, name))
    const next = [0, 0, 0] // next sequence number per sender
    const seen = [-1, -1, -1] // last sequence number received per sender
    let received = 0
    let random = 12345 // mulberry32: the same sequence every run
    const pick = (n) => {
      random = (random + 0x6d2b79f5) | 0
      let t = Math.imul(random ^ (random >>> 15), 1 | random)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) % n
    }
    const take = (ch) => {
      const got = ch.tryReceive()
      if (got === undefined) return
      const id = got.value[0]
      const seq = got.value.readUInt32LE(1)
      assert.is(seq, seen[id] + 1, `sender ${id}: in order`)
      assert.is(got.value.length, 5 + (seq % 23), `sender ${id} message ${seq}: its length`)
      seen[id] = seq
      received++
    }
    for (let step = 0; step < 30000; step++) {
      if (pick(2) === 0) {
        const id = pick(3)
        const b = Buffer.alloc(5 + (next[id] % 23), id)
        b.writeUInt32LE(next[id], 1)
        if (senders[id].trySend(b)) next[id]++
      } else take(receivers[pick(3)])
    }
    for (let i = 0; i < 100; i++) take(receivers[i % 3])
    assert.is(received, next[0] + next[1] + next[2])
    assert.ok(received > 10000, `only ${received} messages`)
    assert.equal(receivers[0].stats().bytes, 0)
  }))

test('received Buffers of every length from 0 to 300 bytes hold exactly what was sent, across many pools', () =>
  withCleanup((cleanup) => {
    const ch = fresh(cleanup, { capacity: 1024 })
    const got = []
    const sent = []
    // 30 laps of 301 lengths: about 1.4 MiB of small copies, many pools' worth.
    for (let lap = 0; lap < 30; lap++) {
      for (let n = 0; n <= 300; n++) {
        const b = Buffer.alloc(n)
        for (let i = 0; i < n; i++) b[i] = (i * 7 + n + lap) & 0xff
        ch.sendSync(b)
        const r = ch.receiveSync(0).value
        assert.ok(Buffer.isBuffer(r), `length ${n}: a Buffer`)
        got.push(r)
        sent.push(b)
      }
    }
    let wrong = 0
    for (let i = 0; i < sent.length; i++) if (!sent[i].equals(got[i])) wrong++
    assert.is(wrong, 0)
  }))

test('open: capacity rounds up to a power of two; another opener adopts it and maxMessage', () =>
  withCleanup((cleanup) => {
    const name = uniqueName('chan')
    const ch = fresh(cleanup, { capacity: 1000, maxMessage: 100 }, name)
    assert.is(ch.capacity, 1024)
    assert.is(ch.maxMessage, 100)
    const other = Channel.open(name)
    cleanup(() => other.close())
    assert.is(other.capacity, 1024)
    assert.is(other.maxMessage, 100)
    other.sendSync('from the other')
    assert.equal(ch.receiveSync(0), { value: 'from the other' })
    const third = Channel.open(name, { capacity: 64 * 1024 })
    cleanup(() => third.close())
    assert.is(third.capacity, 1024)
  }))

test('open: defaults, create false, exclusive, kinds file and sysv', () =>
  withCleanup((cleanup) => {
    const name = uniqueName('chan')
    throwsCode(() => Channel.open(name, { create: false }), Error, 'ENOENT')
    const ch = fresh(cleanup, {}, name)
    assert.is(ch.capacity, 1 << 20)
    assert.is(ch.maxMessage, (1 << 19) - 8)
    throwsCode(() => Channel.open(name, { create: 'exclusive', capacity: 256 }), Error, 'EEXIST')
    const path = uniquePath('chan')
    const f = fresh(cleanup, { kind: 'file', capacity: 256 }, path)
    f.sendSync('file')
    assert.equal(f.receiveSync(0), { value: 'file' })
    const key = uniqueKey()
    const s = fresh(cleanup, { capacity: 256 }, key)
    s.sendSync('sysv')
    assert.equal(s.receiveSync(0), { value: 'sysv' })
  }))

test('bad input: types and ranges, before any system call', () =>
  withCleanup((cleanup) => {
    throwsCode(() => Channel.open(42.5), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => Channel.open(''), TypeError, 'ERR_INVALID_ARG_VALUE')
    throwsCode(() => Channel.open('a/b'), TypeError, 'ERR_INVALID_ARG_VALUE')
    throwsCode(() => Channel.open(uniqueName(), 'x'), TypeError, 'ERR_INVALID_ARG_TYPE')
    throwsCode(() => Channel.open(uniqueName(), { capacity: 0 }), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => Channel.open(uniqueName(), { capacity: 2 ** 31 }), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => Channel.open(uniqueName(), { capacity: '1' }), TypeError, 'ERR_INVALID_ARG_TYPE')
    throwsCode(() => Channel.open(uniqueName(), { capacity: 256, maxMessage: 249 }), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => Channel.open(uniqueName(), { kind: 'tcp' }), TypeError, 'ERR_INVALID_ARG_VALUE')
    throwsCode(() => Channel.open(uniqueName(), { mode: 0o1777 }), RangeError, 'ERR_OUT_OF_RANGE')
    const ch = fresh(cleanup, { capacity: 256, maxMessage: 64 })
    throwsCode(() => ch.sendSync(Buffer.alloc(65)), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => ch.trySend('x'.repeat(65)), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => ch.trySend('é'.repeat(33)), RangeError, 'ERR_OUT_OF_RANGE') // 66 bytes of UTF-8
    throwsCode(() => ch.trySend({ big: 'x'.repeat(100) }), RangeError, 'ERR_OUT_OF_RANGE')
    assert.is(ch.trySend('é'.repeat(32)), true) // exactly 64 bytes
    assert.throws(() => ch.trySend(() => 1), /could not be cloned/)
    assert.throws(() => ch.sendSync({ id: Symbol('x') }), /could not be cloned/)
    throwsCode(() => ch.sendSync('x', -1), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => ch.receiveSync('1'), TypeError, 'ERR_INVALID_ARG_TYPE')
    assert.is(ch.stats().messages, 1)
    return Promise.all([
      rejectsCode(ch.send(Buffer.alloc(65)), RangeError, 'ERR_OUT_OF_RANGE'),
      rejectsCode(ch.send('x', { timeout: -1 }), RangeError, 'ERR_OUT_OF_RANGE'),
      rejectsCode(ch.send('x', { signal: {} }), TypeError, 'ERR_INVALID_ARG_TYPE'),
      rejectsCode(ch.receive({ copy: 'no' }), TypeError, 'ERR_INVALID_ARG_TYPE'),
      rejectsCode(ch.reserve(65), RangeError, 'ERR_OUT_OF_RANGE'),
      rejectsCode(ch.reserve(-1), RangeError, 'ERR_OUT_OF_RANGE'),
      ch
        .send(() => 1)
        .then(
          () => assert.unreachable('a function was sent'),
          (err) => assert.match(err.message, /could not be cloned/),
        ),
    ]).then(() => assert.is(ch.stats().messages, 1))
  }))

test('an object that is not a channel is refused', () =>
  withCleanup((cleanup) => {
    const name = uniqueName('chan')
    const buf = IPCBuffer.posix(name, { size: 3 * 65536 })
    cleanup(() => buf.close())
    cleanup(() => buf.unlink())
    buf.fill(0xff)
    throwsCode(() => Channel.open(name), Error, 'EINVAL')
    const small = uniqueName('chan')
    const tiny = IPCBuffer.posix(small, { size: 100 })
    cleanup(() => tiny.close())
    cleanup(() => tiny.unlink())
    throwsCode(() => Channel.open(small), Error, 'EINVAL')
  }))

test('timeouts and aborts have no effect: nothing sent, nothing taken', () =>
  withCleanup(async (cleanup) => {
    const ch = fresh(cleanup, { capacity: 256 })
    await rejectsCode(ch.receive({ timeout: 30 }), Error, 'ETIMEDOUT')
    await rejectsCode(ch.receive({ timeout: 0 }), Error, 'ETIMEDOUT')
    assert.is(ch.receiveSync(30), undefined)
    const ac = new AbortController()
    const pending = ch.receive({ signal: ac.signal })
    setTimeout(() => ac.abort(Object.assign(new Error('stop'), { code: 'STOP' })), 20)
    await rejectsCode(pending, Error, 'STOP')
    ch.sendSync('kept')
    assert.equal(ch.receiveSync(0), { value: 'kept' })
    while (ch.trySend(Buffer.alloc(100))) {}
    while (ch.trySend(Buffer.alloc(0))) {}
    const n = ch.stats().messages
    await rejectsCode(ch.send('x', { timeout: 30 }), Error, 'ETIMEDOUT')
    await rejectsCode(ch.send('x', { timeout: 0 }), Error, 'ETIMEDOUT')
    const ac2 = new AbortController()
    ac2.abort(Object.assign(new Error('early'), { code: 'EARLY' }))
    await rejectsCode(ch.send('x', { signal: ac2.signal }), Error, 'EARLY')
    await rejectsCode(ch.reserve(100, { timeout: 20 }), Error, 'ETIMEDOUT')
    assert.is(ch.sendSync('x', 30), false)
    assert.is(ch.stats().messages, n)
    for (let i = 0; i < n; i++) assert.ok(Buffer.isBuffer(ch.tryReceive().value))
    assert.is(ch.tryReceive(), undefined)
  }))

test("timeouts past setTimeout's limit keep waiting, with no warning, until a message comes or the signal aborts", () =>
  withCleanup(async (cleanup) => {
    const ch = fresh(cleanup, { capacity: 256 })
    const warnings = []
    const onWarning = (w) => warnings.push(w.name)
    process.on('warning', onWarning)
    cleanup(() => process.off('warning', onWarning))
    const ac = new AbortController()
    const settled = []
    const receives = [2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER, Infinity].map((timeout) =>
      ch.receive({ timeout, signal: ac.signal }).then(
        (v) => settled.push(v),
        (err) => settled.push(err.code),
      ),
    )
    await new Promise((resolve) => setTimeout(resolve, 200))
    assert.equal(settled, [])
    ch.sendSync('one')
    await receives[0]
    ac.abort(Object.assign(new Error('stop'), { code: 'STOP' }))
    await Promise.all(receives)
    assert.equal(settled, ['one', 'STOP', 'STOP', 'STOP'])
    assert.equal(warnings, [])
  }))

test('async sends queue in order behind a full ring; a receive makes room and they follow', () =>
  withCleanup(async (cleanup) => {
    const ch = fresh(cleanup, { capacity: 256 })
    while (ch.trySend(Buffer.alloc(100))) {}
    const sends = [1, 2, 3].map((i) => ch.send(i))
    assert.is(ch.trySend('jump'), false) // behind the queued sends
    throwsCode(() => ch.sendSync('jump'), Error, 'EDEADLK')
    await new Promise((resolve) => setTimeout(resolve, 20))
    const got = []
    for (;;) {
      const r = await ch.receive({ timeout: 1000 })
      got.push(typeof r === 'number' ? r : r.length)
      if (r === 3) break
    }
    await Promise.all(sends)
    assert.equal(
      got.filter((x) => typeof x === 'number' && x < 10),
      [1, 2, 3],
    )
  }))

test('receive waits for a send; for await ends when sealed and drained; sends after seal fail', () =>
  withCleanup(async (cleanup) => {
    const ch = fresh(cleanup)
    const first = ch.receive()
    setTimeout(() => ch.sendSync('a'), 10)
    assert.is(await first, 'a')
    const seen = []
    const loop = (async () => {
      for await (const v of ch) seen.push(v)
    })()
    for (let i = 0; i < 100; i++) await ch.send(i)
    await new Promise((resolve) => setTimeout(resolve, 20))
    ch.seal()
    await loop
    assert.equal(seen, [...Array(100).keys()])
    assert.is(ch.sealed, true)
    assert.is(ch.stats().sealed, true)
    throwsCode(() => ch.sendSync('late'), Error, 'ERR_IPC_SEALED')
    throwsCode(() => ch.trySend('late'), Error, 'ERR_IPC_SEALED')
    await rejectsCode(ch.send('late'), Error, 'ERR_IPC_SEALED')
    await rejectsCode(ch.receive(), Error, 'ERR_IPC_SEALED')
    assert.is(ch.receiveSync(), undefined)
  }))

test('seal wakes senders waiting for room (they reject) and lets receivers drain', () =>
  withCleanup(async (cleanup) => {
    const ch = fresh(cleanup, { capacity: 256 })
    while (ch.trySend('x'.repeat(50))) {}
    const n = ch.stats().messages
    const waiting = ch.send('y')
    setTimeout(() => ch.seal(), 20)
    await rejectsCode(waiting, Error, 'ERR_IPC_SEALED')
    let drained = 0
    for await (const v of ch) drained += v === 'x'.repeat(50) ? 1 : 0
    assert.is(drained, n)
  }))

test('reserve/commit and receive({ copy: false }): views become empty after commit and release', () =>
  withCleanup(async (cleanup) => {
    const ch = fresh(cleanup, { capacity: 1024 })
    const slot = await ch.reserve(300)
    assert.is(slot.buffer.length, 300)
    assert.is(ch.trySend('other'), false) // the slot holds the senders' lock
    slot.buffer.fill(9)
    const stale = slot.buffer
    slot.commit(200)
    assert.is(stale.length, 0)
    throwsCode(() => slot.commit(), Error, 'ERR_IPC_RELEASED')
    const aborted = await ch.reserve(50)
    aborted.buffer.fill(1)
    aborted.abort()
    assert.is(aborted.buffer.length, 0)
    assert.is(ch.stats().messages, 1)
    const m = await ch.receive({ copy: false })
    assert.is(m.type, 'bytes')
    assert.is(m.buffer.length, 200)
    assert.ok(m.buffer.every((x) => x === 9))
    assert.is(ch.tryReceive(), undefined) // the view holds the receivers' lock
    const view = m.buffer
    const copy = m.value
    m.release()
    m.release()
    assert.is(view.length, 0)
    assert.is(m.buffer.length, 0)
    assert.is(copy.length, 200)
    assert.equal(ch.stats().bytes, 0)
    ch.sendSync({ a: 1 })
    const v = await ch.receive({ copy: false })
    assert.is(v.type, 'value')
    assert.equal(v.value, { a: 1 })
    v.release()
  }))

test('reserve and copy: false wrap around the ring many times', () =>
  withCleanup(async (cleanup) => {
    const ch = fresh(cleanup, { capacity: 1024 })
    for (let i = 0; i < 500; i++) {
      const n = (i * 37) % 500
      const slot = await ch.reserve(n)
      slot.buffer.fill(i & 0xff)
      slot.commit()
      const m = await ch.receive({ copy: false })
      assert.is(m.buffer.length, n)
      assert.ok(m.buffer.every((x) => x === (i & 0xff)))
      m.release()
    }
    assert.equal(ch.stats().bytes, 0)
  }))

test('a message of maxMessage bytes fits an empty ring at once, wherever its positions are', () =>
  withCleanup((cleanup) => {
    const ch = fresh(cleanup, { capacity: 256 })
    assert.is(ch.maxMessage, 120)
    for (let i = 0; i < 40; i++) {
      ch.sendSync(Buffer.alloc((i * 8 + 1) % 121))
      ch.receiveSync(0)
      assert.is(ch.trySend(Buffer.alloc(120, i)), true)
      assert.ok(ch.receiveSync(0).value.every((x) => x === i))
    }
  }))

test("with maxMessage = capacity - 8, the largest message waits for a receiver to pass the ring's end", () =>
  withCleanup(async (cleanup) => {
    const ch = fresh(cleanup, { capacity: 256, maxMessage: 248 })
    for (let i = 0; i < 20; i++) {
      ch.sendSync(Buffer.alloc(i * 8 + 1))
      ch.receiveSync(0)
      const sent = ch.send(Buffer.alloc(248, i))
      assert.ok((await ch.receive()).every((x) => x === i))
      await sent
    }
    assert.is(ch.stats().bytes, 0)
  }))

test('close rejects pending operations, gives a held view back unconsumed, and later use throws ERR_IPC_CLOSED', () =>
  withCleanup(async (cleanup) => {
    const name = uniqueName('chan')
    const ch = fresh(cleanup, { capacity: 256 }, name)
    const other = Channel.open(name)
    cleanup(() => other.close())
    const pending = other.receive()
    other.sendSync('one')
    assert.is(await pending, 'one')
    other.sendSync('held')
    const m = await other.receive({ copy: false })
    const view = m.buffer
    const waiting = other.receive()
    const slot = await other.reserve(4)
    slot.buffer.write('lost')
    other.close()
    other.close()
    assert.is(view.length, 0)
    assert.is(slot.buffer.length, 0)
    throwsCode(() => slot.commit(), Error, 'ERR_IPC_CLOSED')
    slot.abort()
    await rejectsCode(waiting, Error, 'ERR_IPC_CLOSED')
    m.release()
    assert.equal(ch.receiveSync(1000), { value: 'held' })
    throwsCode(() => other.sendSync('x'), Error, 'ERR_IPC_CLOSED')
    throwsCode(() => other.trySend('x'), Error, 'ERR_IPC_CLOSED')
    throwsCode(() => other.tryReceive(), Error, 'ERR_IPC_CLOSED')
    throwsCode(() => other.receiveSync(0), Error, 'ERR_IPC_CLOSED')
    throwsCode(() => other.stats(), Error, 'ERR_IPC_CLOSED')
    throwsCode(() => other.seal(), Error, 'ERR_IPC_CLOSED')
    await rejectsCode(other.send('x'), Error, 'ERR_IPC_CLOSED')
    await rejectsCode(other.receive(), Error, 'ERR_IPC_CLOSED')
    await rejectsCode(other.reserve(1), Error, 'ERR_IPC_CLOSED')
    const third = Channel.open(name)
    third.sendSync('disposed')
    third[Symbol.dispose]()
    throwsCode(() => third.trySend('x'), Error, 'ERR_IPC_CLOSED')
    assert.equal(ch.receiveSync(0), { value: 'disposed' })
    assert.is(ch.receiveSync(0), undefined) // the closed slot sent nothing
  }))

test('unlink removes the name; open channels keep working', () =>
  withCleanup((cleanup) => {
    const name = uniqueName('chan')
    const ch = Channel.open(name, { capacity: 256 })
    cleanup(() => ch.close())
    ch.unlink()
    throwsCode(() => Channel.open(name, { create: false }), Error, 'ENOENT')
    ch.sendSync('still')
    assert.equal(ch.receiveSync(0), { value: 'still' })
  }))

test('worker threads send and receive on one name', () =>
  withCleanup(async (cleanup) => {
    const name = uniqueName('chan')
    const ch = fresh(cleanup, { capacity: 1024 }, name)
    const code = `
      const { workerData } = require('node:worker_threads')
      const { Channel } = require(${JSON.stringify(require.resolve('..'))})
      const ch = Channel.open(workerData.name)
      for (let i = 0; i < 2000; i++) ch.sendSync({ w: workerData.w, i })
      ch.close()`
    const exited = [0, 1].map((w) => {
      const worker = new Worker(code, { eval: true, workerData: { name, w } })
      return new Promise((resolve, reject) => worker.on('exit', resolve).on('error', reject))
    })
    const last = [-1, -1]
    for (let n = 0; n < 4000; n++) {
      const { w, i } = await ch.receive({ timeout: 10000 })
      assert.is(i, last[w] + 1)
      last[w] = i
    }
    assert.equal(await Promise.all(exited), [0, 0])
    assert.equal(last, [1999, 1999])
  }))

test.run()
