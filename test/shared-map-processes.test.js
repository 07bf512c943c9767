'use strict'
// SharedMap across real processes: writes seen by every process, atomic
// update, shared counters, a writer killed while holding the lock, and keyv.
const { test } = require('uvu')
const assert = require('uvu/assert')
const { SharedMap } = require('..')
const { verifySharedMap } = require('../dist/shared-map')
const { uniqueName, withCleanup, runChild } = require('./helpers')
const { checkValue } = require('./fixtures/shared-map-values')

function fresh(cleanup, options = {}) {
  const name = uniqueName('smp')
  const map = SharedMap.open(name, { size: 4 << 20, ...options })
  cleanup(() => map.unlink())
  cleanup(() => map.close())
  return { map, name }
}

/** Runs the child fixture; resolves with its JSON result; fails on any other exit. */
async function child(name, ...args) {
  const { code, signal, stdout, stderr } = await runChild('shared-map-child.js', [name, ...args], { timeout: 60000 })
  assert.is(stderr, '')
  assert.equal([code, signal], [0, null])
  return JSON.parse(stdout)
}

async function poll(what, fn, timeout = 20000) {
  const t0 = Date.now()
  for (;;) {
    const value = fn()
    if (value !== undefined) return value
    if (Date.now() - t0 > timeout) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

test('what processes write, every process reads: three writers at once, values of every shape', () =>
  withCleanup(async (cleanup) => {
    const { map, name } = fresh(cleanup)
    await Promise.all(['a', 'b', 'c'].map((prefix) => child(name, 'set', prefix, 600)))
    assert.is(map.size, 1800)
    for (const prefix of ['a', 'b', 'c']) {
      for (let i = 0; i < 600; i++) assert.is(checkValue(i, map.get(`${prefix}${i}`)), undefined, `${prefix}${i}`)
    }
    assert.is(verifySharedMap(map).entries, 1800)
  }))

test('update() is atomic across processes: 4 processes x 500 increments', () =>
  withCleanup(async (cleanup) => {
    const { map, name } = fresh(cleanup)
    await Promise.all([1, 2, 3, 4].map(() => child(name, 'incr', 'count', 500)))
    assert.is(map.get('count'), 2000)
  }))

test('stats: hits and misses are counted across processes', () =>
  withCleanup(async (cleanup) => {
    const { map, name } = fresh(cleanup)
    map.set('there', 1)
    await Promise.all([child(name, 'reads', 300, 100), child(name, 'reads', 200, 50)])
    map.get('there')
    const stats = map.stats()
    assert.is(stats.hits, 501)
    assert.is(stats.misses, 150)
  }))

test('a writer SIGKILLed holding the lock: reads go on meanwhile, the next writer repairs the map, the key keeps its old value', () =>
  withCleanup(async (cleanup) => {
    const { map, name } = fresh(cleanup, { size: 256 << 10 })
    const signal = fresh(cleanup, { size: 64 << 10 })
    for (let i = 0; i < 200; i++) map.set(`k${i}`, `value ${i}`)
    map.set('held', 'old')
    let proc
    const exited = runChild('shared-map-child.js', [name, 'hold', 'held', signal.name], {
      onSpawn: (c) => (proc = c),
      timeout: 60000,
    })
    cleanup(() => proc.kill('SIGKILL'))
    await poll('the child to hold the lock', () => signal.map.get('holding'))
    // Reads take no lock: they are served while a writer holds it.
    const t0 = performance.now()
    for (let i = 0; i < 200; i++) assert.is(map.get(`k${i}`), `value ${i}`)
    assert.is(map.get('held'), 'old')
    assert.ok(performance.now() - t0 < 1000)
    proc.kill('SIGKILL')
    const { signal: died } = await exited
    assert.is(died, 'SIGKILL')
    // The next writer takes the lock over and repairs.
    map.set('after', 'works')
    assert.is(map.get('after'), 'works')
    assert.is(map.get('held'), 'old')
    const stats = map.stats()
    assert.is(stats.recoveries, 1)
    assert.is(stats.entries, 202)
    assert.is(verifySharedMap(map).entries, 202)
    assert.is(stats.bytes + stats.free + stats.overhead, stats.total)
  }))

test('keyv: a Keyv over the same SharedMap in two processes shares values and ttl', () =>
  withCleanup(async (cleanup) => {
    const { default: Keyv } = await import('keyv')
    const { map, name } = fresh(cleanup)
    const keyv = new Keyv({ store: map })
    await keyv.set('parent', { hello: 'from the parent' })
    const result = await child(name, 'keyv', 'kid')
    const t0 = Date.now()
    assert.equal(result, { parent: { hello: 'from the parent' }, missing: true })
    assert.equal(await keyv.get('kid:a'), { from: 'child', list: [1, 2, 3] })
    // The child gave kid:b a ttl of 50 ms: keyv passes it to the store.
    await poll('kid:b to expire', () => (map.has('keyv:kid:b') ? undefined : true))
    assert.ok(Date.now() - t0 < 5000)
    assert.is(await keyv.get('kid:b'), undefined)
    assert.is(await keyv.delete('kid:a'), true)
    assert.is(await keyv.get('kid:a'), undefined)
    await keyv.clear()
    assert.is(map.size, 0)
  }))

test.run()
