'use strict'
// SharedMap in one process: the Map interface, values and keys, ttl, update,
// stats, capacity and eviction, and bad input. Across processes:
// shared-map-processes.test.js; under SIGKILLs: shared-map-torture.test.js.
const { test } = require('uvu')
const assert = require('uvu/assert')
const { Worker } = require('node:worker_threads')
const { SharedMap, IPCBuffer, IPCError } = require('..')
const { uniqueName, uniqueKey, uniquePath, withCleanup, throwsCode, accounted } = require('./helpers')

/** A new map under a unique name, closed and removed by cleanup. */
function fresh(cleanup, options = {}) {
  const name = uniqueName('sm')
  const map = SharedMap.open(name, { size: 1 << 20, ...options })
  cleanup(() => map.unlink())
  cleanup(() => map.close())
  return { map, name }
}

/** Waits (bounded) until Date.now() has passed `deadline`. */
async function until(deadline) {
  while (Date.now() <= deadline)
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, deadline - Date.now() + 1)))
}

test('the Map interface: set returns the map, get, has, delete, size, clear', () =>
  withCleanup((cleanup) => {
    const { map } = fresh(cleanup)
    assert.is(map.set('a', 'one'), map)
    map.set('b', 'two')
    assert.is(map.get('a'), 'one')
    assert.is(map.get('missing'), undefined)
    assert.is(map.has('a'), true)
    assert.is(map.has('missing'), false)
    assert.is(map.size, 2)
    map.set('a', 'uno')
    assert.is(map.get('a'), 'uno')
    assert.is(map.size, 2)
    assert.is(map.delete('a'), true)
    assert.is(map.delete('a'), false)
    assert.is(map.has('a'), false)
    assert.is(map.size, 1)
    map.clear()
    assert.is(map.size, 0)
    assert.is(map.get('b'), undefined)
    assert.is(Object.prototype.toString.call(map), '[object SharedMap]')
    accounted(map)
  }))

test('values: Buffers and Uint8Arrays come back as Buffers, strings as strings, others through v8 serialization; fresh copies', () =>
  withCleanup((cleanup) => {
    const { map } = fresh(cleanup)
    const bytes = Buffer.from([0, 1, 2, 250])
    map.set('buf', bytes)
    map.set('u8', new Uint8Array([9, 8, 7]))
    map.set('empty', Buffer.alloc(0))
    map.set('str', 'héllo wörld ✓')
    map.set('emptystr', '')
    const obj = { a: 1, nested: { list: [1, 'two', null] }, when: new Date(0), big: 10n, m: new Map([[1, 2]]) }
    map.set('obj', obj)
    map.set('f64', new Float64Array([1.5, -2]))
    map.set('num', 42)
    map.set('undef', undefined)
    map.set('null', null)

    const got = map.get('buf')
    assert.ok(Buffer.isBuffer(got))
    assert.equal([...got], [0, 1, 2, 250])
    got[0] = 99
    assert.is(map.get('buf')[0], 0, 'the returned Buffer is a copy')
    assert.is.not(map.get('buf'), map.get('buf'))
    bytes[1] = 77
    assert.is(map.get('buf')[1], 1, 'the stored value is a copy of what was set')
    const u8 = map.get('u8')
    assert.ok(Buffer.isBuffer(u8))
    assert.equal([...u8], [9, 8, 7])
    assert.is(map.get('empty').length, 0)
    assert.is(map.get('str'), 'héllo wörld ✓')
    assert.is(map.get('emptystr'), '')
    assert.equal(map.get('obj'), obj)
    assert.is.not(map.get('obj'), map.get('obj'))
    const f64 = map.get('f64')
    assert.ok(f64 instanceof Float64Array)
    assert.equal([...f64], [1.5, -2])
    assert.is(map.get('num'), 42)
    assert.is(map.get('undef'), undefined)
    assert.is(map.has('undef'), true)
    assert.is(map.get('null'), null)
    // Not structured-clone-able: thrown before anything changes.
    const before = map.size
    assert.throws(() => map.set('fn', () => 1), /could not be cloned/)
    assert.is(map.size, before)
    assert.is(map.has('fn'), false)
  }))

test('keys: strings and Buffers, a string and a Buffer of the same bytes are different keys; unicode, long and empty keys', () =>
  withCleanup((cleanup) => {
    const { map } = fresh(cleanup)
    map.set('abc', 'string key')
    map.set(Buffer.from('abc'), 'buffer key')
    map.set(new Uint8Array([0x61, 0x62, 0x63, 0]), 'uint8array key')
    map.set('ключ 🔑', 'unicode')
    const long = 'x'.repeat(5000) + 'é'
    map.set(long, 'long')
    map.set('', 'empty')
    assert.is(map.get('abc'), 'string key')
    assert.is(map.get(Buffer.from('abc')), 'buffer key')
    assert.is(map.get(Buffer.from([0x61, 0x62, 0x63, 0])), 'uint8array key')
    assert.is(map.get('ключ 🔑'), 'unicode')
    assert.is(map.get(long), 'long')
    assert.is(map.get('x'.repeat(5000) + 'e'), undefined)
    assert.is(map.get(''), 'empty')
    const keys = [...map.keys()]
    assert.is(keys.length, 6)
    assert.ok(keys.includes('abc'))
    assert.ok(keys.includes(long))
    const bufferKeys = keys
      .filter((k) => Buffer.isBuffer(k))
      .map((k) => k.toString('hex'))
      .sort()
    assert.equal(bufferKeys, ['616263', '61626300'])
  }))

test('iteration: entries, keys, values, forEach and for...of see every entry once', () =>
  withCleanup((cleanup) => {
    const { map } = fresh(cleanup)
    const want = new Map()
    for (let i = 0; i < 500; i++) {
      want.set(`k${i}`, i % 2 ? `v${i}` : { i })
      map.set(`k${i}`, want.get(`k${i}`))
    }
    const seen = new Map([...map])
    assert.is(seen.size, 500)
    for (const [k, v] of want) assert.equal(seen.get(k), v)
    assert.is([...map.entries()].length, 500)
    assert.equal([...map.keys()].sort(), [...want.keys()].sort())
    assert.is([...map.values()].length, 500)
    let calls = 0
    const self = {}
    map.forEach(function (value, key, m) {
      assert.is(this, self)
      assert.is(m, map)
      assert.equal(value, want.get(key))
      calls++
    }, self)
    assert.is(calls, 500)
  }))

test('ttl: an entry past its ttl is never returned, nor iterated, and its space is reclaimed; a number is taken as the ttl (keyv)', () =>
  withCleanup(async (cleanup) => {
    const { map } = fresh(cleanup)
    const t0 = Date.now()
    map.set('short', 'gone soon', { ttl: 200 })
    map.set('keyv-style', 'gone soon too', 200)
    map.set('long', 'stays', { ttl: 60000 })
    map.set('forever', 'stays')
    const early = map.get('short')
    if (Date.now() < t0 + 200) assert.is(early, 'gone soon')
    await until(Date.now() + 200)
    assert.is(map.get('short'), undefined)
    assert.is(map.has('short'), false)
    assert.is(map.get('keyv-style'), undefined)
    assert.is(map.get('long'), 'stays')
    assert.equal([...map.keys()].sort(), ['forever', 'long'])
    assert.is(map.delete('short'), false, 'an expired entry is not there to delete')
    // Its space comes back: expired entries are reclaimed when room is needed.
    const small = fresh(cleanup, { size: 64 << 10, eviction: 'none' }).map
    const big = Buffer.alloc(8000)
    const t1 = Date.now()
    let n = 0
    while (n < 100) {
      try {
        small.set(`e${n}`, big, { ttl: 1000 })
      } catch (err) {
        assert.is(err.code, 'ENOSPC')
        break
      }
      n++
    }
    assert.ok(n >= 4 && n < 100, `${n} fitted`)
    assert.ok(Date.now() < t1 + 1000, 'filled before the first expired')
    await until(t1 + 1000)
    for (let i = 0; i < n; i++) small.set(`f${i}`, big)
    const stats = accounted(small)
    assert.is(stats.expired, n)
    assert.is(stats.entries, n)
  }))

test('update: an atomic read-modify-write; undefined deletes; a throwing fn changes nothing; a promise is refused', () =>
  withCleanup((cleanup) => {
    const { map } = fresh(cleanup)
    assert.is(
      map.update('n', (old) => (old ?? 0) + 1),
      1,
    )
    assert.is(
      map.update('n', (old) => old + 1),
      2,
    )
    assert.is(map.get('n'), 2)
    assert.is(
      map.update('n', () => undefined),
      undefined,
    )
    assert.is(map.has('n'), false)
    map.set('keep', 'old')
    assert.throws(
      () =>
        map.update('keep', () => {
          throw new Error('boom')
        }),
      /boom/,
    )
    assert.is(map.get('keep'), 'old')
    throwsCode(() => map.update('keep', async () => 'new'), TypeError, 'ERR_INVALID_ARG_VALUE')
    assert.is(map.get('keep'), 'old')
    // fn may read the map; writing to it from fn would deadlock, and says so.
    assert.is(
      map.update('copy', () => map.get('keep') + '!'),
      'old!',
    )
    throwsCode(() => map.update('x', () => map.set('y', 1)), IPCError, 'EDEADLK')
    assert.is(map.has('y'), false)
    throwsCode(() => map.update('x', 'nope'), TypeError, 'ERR_INVALID_ARG_TYPE')
    // Buffer keys survive fn using the map.
    map.update(Buffer.from([1, 2]), () => map.get('keep'))
    assert.is(map.get(Buffer.from([1, 2])), 'old')
  }))

test('update keeps the ttl unless given a new one', () =>
  withCleanup(async (cleanup) => {
    const { map } = fresh(cleanup)
    const t0 = Date.now()
    map.set('a', 1, { ttl: 300 })
    map.update('a', (n) => n + 1)
    map.set('b', 1, { ttl: 300 })
    map.update('b', (n) => n + 1, { ttl: 60000 })
    assert.ok(Date.now() < t0 + 300, 'updated before the ttl passed')
    await until(Date.now() + 300)
    assert.is(map.get('a'), undefined)
    assert.is(map.get('b'), 2)
  }))

test('Buffer values of every size: each get returns bytes of its own, untouched by later gets', () =>
  withCleanup((cleanup) => {
    const { map } = fresh(cleanup)
    const sizes = [1, 100, 4095, 4096, 8192, 8193, 20000]
    for (const n of sizes) map.set(`b${n}`, Buffer.alloc(n, n & 0xff))
    const got = []
    // More gets than one pool of Buffers holds, kept alive together.
    for (let round = 0; round < 20; round++) for (const n of sizes) got.push([n, map.get(`b${n}`)])
    for (const [n, buf] of got) buf.fill(0xee)
    for (const n of sizes) {
      const again = map.get(`b${n}`)
      assert.is(again.length, n)
      assert.ok(
        again.every((b) => b === (n & 0xff)),
        `${n} bytes: the stored value is unchanged`,
      )
    }
    got[0][1].fill(1)
    assert.ok(
      got.slice(1).every(([, buf]) => buf.every((b) => b === 0xee)),
      'writing into one value changes no other value',
    )
  }))

test('stats: hits and misses of many opens of one map (more than its 32 stripes of counters) add up', () =>
  withCleanup((cleanup) => {
    const { map, name } = fresh(cleanup)
    map.set('a', 1)
    const opens = Array.from({ length: 40 }, () => SharedMap.open(name))
    for (const m of opens) cleanup(() => m.close())
    opens.forEach((m, i) => {
      for (let g = 0; g <= i; g++) m.get('a')
      m.get('missing')
    })
    const stats = map.stats()
    assert.is(stats.hits, (40 * 41) / 2)
    assert.is(stats.misses, 40)
  }))

test('stats: entries, bytes, hits, misses; every byte is live, free or overhead', () =>
  withCleanup((cleanup) => {
    const { map } = fresh(cleanup)
    let stats = accounted(map)
    assert.equal(
      {
        entries: stats.entries,
        bytes: stats.bytes,
        hits: stats.hits,
        misses: stats.misses,
        evictions: stats.evictions,
        total: stats.total,
      },
      { entries: 0, bytes: 0, hits: 0, misses: 0, evictions: 0, total: 1 << 20 },
    )
    map.set('a', 'x'.repeat(100))
    map.set('b', Buffer.alloc(1000))
    map.get('a')
    map.get('b')
    map.get('a')
    map.get('nope')
    stats = accounted(map)
    assert.is(stats.entries, 2)
    assert.is(stats.hits, 3)
    assert.is(stats.misses, 1)
    assert.ok(stats.bytes >= 1100 + 2 * 32 && stats.bytes < 1100 + 2 * 64, `${stats.bytes} bytes`)
    map.delete('b')
    assert.ok(accounted(map).bytes < 200)
  }))

test("eviction 'lru': a full map evicts, keeps its size bounded, and keeps what is read over what is not", () =>
  withCleanup((cleanup) => {
    const { map } = fresh(cleanup, { size: 256 << 10 })
    const value = 'v'.repeat(200)
    const hot = []
    for (let i = 0; i < 100; i++) {
      hot.push(`hot${i}`)
      map.set(`hot${i}`, value)
    }
    for (let i = 0; i < 5000; i++) {
      map.set(`cold${i}`, value)
      map.get(hot[i % hot.length])
    }
    const stats = accounted(map)
    assert.ok(stats.evictions > 3000, `${stats.evictions} evictions`)
    assert.ok(stats.entries < 1200)
    const hotLeft = hot.filter((k) => map.has(k)).length
    let coldLeft = 0
    for (let i = 0; i < 1000; i++) coldLeft += map.has(`cold${i}`)
    assert.ok(hotLeft >= 90, `only ${hotLeft} of 100 hot keys left`)
    assert.ok(coldLeft < 50, `${coldLeft} of the 1000 oldest cold keys left`)
  }))

test("eviction 'lru' makes room for entries of every size in a fragmented map", () =>
  withCleanup((cleanup) => {
    const { map } = fresh(cleanup, { size: 128 << 10 })
    for (let i = 0; i < 3000; i++) {
      const size = i % 10 === 0 ? 20000 : 10 + ((i * 7919) % 900)
      map.set(`k${i % 700}`, Buffer.alloc(size, i & 255))
      assert.is(map.get(`k${i % 700}`).length, size)
    }
    accounted(map)
  }))

test("eviction 'none': a set that does not fit throws ENOSPC and changes nothing", () =>
  withCleanup((cleanup) => {
    const { map } = fresh(cleanup, { size: 64 << 10, eviction: 'none' })
    const value = Buffer.alloc(1000, 1)
    let n = 0
    let error
    for (; n < 1000; n++) {
      try {
        map.set(`k${n}`, value)
      } catch (err) {
        error = err
        break
      }
    }
    assert.ok(error instanceof IPCError)
    assert.is(error.code, 'ENOSPC')
    assert.ok(n > 40 && n < 64, `${n} entries fitted`)
    const before = accounted(map)
    throwsCode(() => map.set(`k${n}`, value), IPCError, 'ENOSPC')
    throwsCode(() => map.set('k0', Buffer.alloc(5000)), IPCError, 'ENOSPC')
    assert.equal(accounted(map), before)
    assert.equal(map.get('k0'), value, 'the old value stays')
    assert.is(map.has(`k${n}`), false)
    map.set('k0', 'short now')
    map.set(`k${n}`, value)
    assert.equal(map.get(`k${n}`), value)
    assert.is(map.get('k0'), 'short now')
    assert.is(accounted(map).evictions, 0)
  }))

test('maxEntries: lru keeps at most that many entries; none throws ENOSPC at the limit', () =>
  withCleanup((cleanup) => {
    const lru = fresh(cleanup, { maxEntries: 50 }).map
    for (let i = 0; i < 500; i++) lru.set(`k${i}`, i)
    assert.is(lru.size, 50)
    assert.is(lru.get('k499'), 499)
    assert.is(accounted(lru).evictions, 450)
    const none = fresh(cleanup, { maxEntries: 10, eviction: 'none' }).map
    for (let i = 0; i < 10; i++) none.set(`k${i}`, i)
    throwsCode(() => none.set('k10', 10), IPCError, 'ENOSPC')
    none.set('k3', 'replacing is fine')
    assert.is(none.size, 10)
  }))

test('every kind: posix, file and sysv maps', () =>
  withCleanup((cleanup) => {
    const path = uniquePath('smf')
    const key = uniqueKey()
    for (const [id, kind] of [
      [path, 'file'],
      [key, 'sysv'],
    ]) {
      const map = SharedMap.open(id, { size: 64 << 10, kind })
      cleanup(() => map.unlink())
      cleanup(() => map.close())
      map.set('a', kind)
      const again = SharedMap.open(id, { kind })
      cleanup(() => again.close())
      assert.is(again.get('a'), kind)
    }
  }))

test('open: an existing map without options, exclusive creation, a missing name, not a map', () =>
  withCleanup((cleanup) => {
    const { map, name } = fresh(cleanup, { size: 64 << 10, eviction: 'none' })
    map.set('x', 1)
    const other = SharedMap.open(name)
    cleanup(() => other.close())
    assert.is(other.get('x'), 1)
    assert.is(other.stats().total, 64 << 10, 'opening does not resize')
    const bigger = SharedMap.open(name, { size: 1 << 20 })
    cleanup(() => bigger.close())
    assert.is(bigger.stats().total, 64 << 10, 'an existing map keeps its layout')
    throwsCode(() => SharedMap.open(name, { size: 64 << 10, create: 'exclusive' }), IPCError, 'EEXIST')
    throwsCode(() => SharedMap.open(uniqueName('nope')), IPCError, 'ENOENT')
    throwsCode(() => SharedMap.open(uniqueName('nope'), { size: 1 << 20, create: false }), IPCError, 'ENOENT')
    const junkName = uniqueName('junk')
    const junk = IPCBuffer.posix(junkName, { size: 64 << 10 })
    cleanup(() => junk.unlink())
    cleanup(() => junk.close())
    junk.fill(0x5a)
    throwsCode(() => SharedMap.open(junkName), IPCError, 'EINVAL')
  }))

test('bad input: TypeError or RangeError before anything happens', () =>
  withCleanup((cleanup) => {
    const { map } = fresh(cleanup, { size: 64 << 10 })
    for (const k of [1, null, undefined, {}, ['a'], Symbol('s')]) {
      throwsCode(() => map.get(k), TypeError, 'ERR_INVALID_ARG_TYPE')
      throwsCode(() => map.set(k, 1), TypeError, 'ERR_INVALID_ARG_TYPE')
      throwsCode(() => map.has(k), TypeError, 'ERR_INVALID_ARG_TYPE')
      throwsCode(() => map.delete(k), TypeError, 'ERR_INVALID_ARG_TYPE')
    }
    throwsCode(() => map.set('x'.repeat(70000), 1), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => map.get(Buffer.alloc(70000)), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => map.set('big', Buffer.alloc(64 << 10)), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => map.set('a', 1, { ttl: -1 }), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => map.set('a', 1, { ttl: 0 }), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => map.set('a', 1, { ttl: NaN }), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => map.set('a', 1, { ttl: '5' }), TypeError, 'ERR_INVALID_ARG_TYPE')
    throwsCode(() => map.set('a', 1, 'ttl'), TypeError, 'ERR_INVALID_ARG_TYPE')
    throwsCode(() => map.forEach(1), TypeError, 'ERR_INVALID_ARG_TYPE')
    assert.is(map.size, 0)
    const name = uniqueName('bad')
    throwsCode(() => SharedMap.open(name, { size: -1 }), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => SharedMap.open(name, { size: 2 ** 40 }), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => SharedMap.open(name, { size: 4096 }), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => SharedMap.open(name, { size: '1mb' }), TypeError, 'ERR_INVALID_ARG_TYPE')
    throwsCode(() => SharedMap.open(name, { size: 1 << 20, eviction: 'fifo' }), TypeError, 'ERR_INVALID_ARG_VALUE')
    throwsCode(() => SharedMap.open(name, { size: 1 << 20, maxEntries: 0 }), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => SharedMap.open(name, { size: 1 << 20, maxEntrySize: 2 << 20 }), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => SharedMap.open(name, { size: 1 << 20, kind: 'memory' }), TypeError, 'ERR_INVALID_ARG_VALUE')
    throwsCode(() => SharedMap.open(name, { create: true }), TypeError, 'ERR_INVALID_ARG_VALUE')
    throwsCode(() => SharedMap.open('a/b', { size: 1 << 20 }), TypeError, 'ERR_INVALID_ARG_VALUE')
    throwsCode(() => SharedMap.open(name, 'options'), TypeError, 'ERR_INVALID_ARG_TYPE')
    assert.is(IPCBuffer.exists('posix', name), false)
  }))

test('maxEntrySize bounds key + value; the largest entry allowed always fits', () =>
  withCleanup((cleanup) => {
    const { map } = fresh(cleanup, { size: 64 << 10, maxEntrySize: 40000 })
    map.set('small', 'x')
    map.set('k', Buffer.alloc(40000 - 1))
    assert.is(map.get('k').length, 39999)
    throwsCode(() => map.set('k', Buffer.alloc(40000)), RangeError, 'ERR_OUT_OF_RANGE')
    accounted(map)
  }))

test('closed: every method throws ERR_IPC_CLOSED; close is idempotent; dispose closes', () =>
  withCleanup((cleanup) => {
    const { map, name } = fresh(cleanup)
    map.close()
    map.close()
    for (const call of [
      () => map.get('a'),
      () => map.set('a', 1),
      () => map.has('a'),
      () => map.delete('a'),
      () => map.clear(),
      () => map.update('a', () => 1),
      () => map.stats(),
      () => map.size,
      () => [...map],
    ]) {
      throwsCode(call, Error, 'ERR_IPC_CLOSED')
    }
    const m = SharedMap.open(name)
    m.set('a', 1)
    m[Symbol.dispose]()
    const again = SharedMap.open(name)
    assert.is(again.get('a'), 1)
    again[Symbol.dispose]()
    throwsCode(() => again.get('a'), Error, 'ERR_IPC_CLOSED')
  }))

test('worker threads share the map with their process', () =>
  withCleanup(async (cleanup) => {
    const { map, name } = fresh(cleanup)
    const code = `
      const { workerData, parentPort } = require('node:worker_threads')
      const { SharedMap } = require(${JSON.stringify(require.resolve('..'))})
      const map = SharedMap.open(workerData)
      for (let i = 0; i < 1000; i++) map.update('count', (n) => (n ?? 0) + 1)
      map.set('from-' + require('node:worker_threads').threadId, map.get('main'))
      map.close()
      parentPort.postMessage('done')`
    map.set('main', 'hello')
    const workers = [1, 2].map(() => new Worker(code, { eval: true, workerData: name }))
    for (let i = 0; i < 1000; i++) map.update('count', (n) => (n ?? 0) + 1)
    await Promise.all(
      workers.map((w) => new Promise((resolve, reject) => w.on('message', resolve).on('error', reject))),
    )
    await Promise.all(workers.map((w) => w.terminate()))
    assert.is(map.get('count'), 3000)
    assert.equal(
      [...map.keys()].filter((k) => k.startsWith('from-')).map((k) => map.get(k)),
      ['hello', 'hello'],
    )
  }))

test.run()
