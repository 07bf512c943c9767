'use strict'
// Mutex within one process: the API contract, ordering, timeouts, aborts, bad input.
const { test } = require('uvu')
const assert = require('uvu/assert')
const { ETIMEDOUT } = require('node:os').constants.errno
const { Mutex, IPCBuffer, IPCError } = require('..')
const { uniqueName, uniquePath, uniqueKey, withCleanup, throwsCode } = require('./helpers')

/** A Mutex on a fresh POSIX name, removed afterwards; `open` makes more on the same name. */
function fresh(cleanup) {
  const name = uniqueName('mutex')
  const open = () => {
    const m = new Mutex(name)
    cleanup(() => m.close())
    return m
  }
  const m = open()
  cleanup(() => IPCBuffer.unlink('posix', name))
  return { m, open, name }
}

async function rejects(promise, check) {
  try {
    await promise
  } catch (err) {
    check(err)
    return err
  }
  throw new Error('expected a rejection')
}

const settled = (p) =>
  p.then(
    () => 'resolved',
    () => 'rejected',
  )
const tick = () => new Promise((resolve) => setImmediate(resolve))

test('tryAcquire, isLocked, release; a second Mutex on the name is excluded', () =>
  withCleanup((cleanup) => {
    const { m, open } = fresh(cleanup)
    const other = open()
    assert.is(m.isLocked(), false)
    assert.is(m.tryAcquire(), true)
    assert.is(m.isLocked(), true)
    assert.is(other.isLocked(), true)
    assert.is(m.tryAcquire(), false)
    assert.is(other.tryAcquire(), false)
    assert.is(other.acquireSync(0), false)
    assert.is(m.ownerDied, false)
    m.release()
    m.release() // not held: nothing
    assert.is(m.isLocked(), false)
    assert.is(other.acquireSync(), true)
    assert.is(m.tryAcquire(), false)
    other.release()
  }))

test('acquire resolves with an idempotent release function', () =>
  withCleanup(async (cleanup) => {
    const { m, open } = fresh(cleanup)
    const other = open()
    const release = await m.acquire()
    assert.type(release, 'function')
    const waiting = other.acquire()
    await tick()
    assert.is(await Promise.race([settled(waiting), tick().then(() => 'pending')]), 'pending')
    release()
    const releaseOther = await waiting
    release() // already released: must not free the other holder's lock
    assert.is(m.isLocked(), true)
    assert.is(m.tryAcquire(), false)
    releaseOther()
    assert.is(m.isLocked(), false)
  }))

test('acquires of one Mutex are served in order', () =>
  withCleanup(async (cleanup) => {
    const { m } = fresh(cleanup)
    const release = await m.acquire()
    const order = []
    const all = [0, 1, 2, 3, 4].map((i) =>
      m.acquire().then((rel) => {
        order.push(i)
        assert.is(m.tryAcquire(), false)
        setImmediate(rel)
      }),
    )
    assert.is(m.tryAcquire(), false) // queued acquires come first
    release()
    await Promise.all(all)
    await tick()
    assert.equal(order, [0, 1, 2, 3, 4])
    assert.is(m.isLocked(), false)
  }))

test('two Mutex objects on one name in one process wait for each other', () =>
  withCleanup(async (cleanup) => {
    const { m, open } = fresh(cleanup)
    const other = open()
    const order = []
    const release = await m.acquire()
    const a = other.acquire().then((rel) => (order.push('other'), rel()))
    const b = m.acquire().then((rel) => (order.push('m'), rel()))
    await tick()
    release()
    await Promise.all([a, b])
    assert.equal(order.sort(), ['m', 'other'])
    assert.is(m.isLocked(), false)
  }))

test('timeouts: 0 is a try, > 0 rejects with ETIMEDOUT; acquireSync would deadlock', () =>
  withCleanup(async (cleanup) => {
    const { m, open, name } = fresh(cleanup)
    const other = open()
    assert.is(m.tryAcquire(), true)
    const check = (err) => {
      assert.instance(err, IPCError)
      assert.is(err.code, 'ETIMEDOUT')
      assert.is(err.errno, -ETIMEDOUT)
      assert.is(err.syscall, 'futex')
      assert.is(err.path, '/' + name)
    }
    await rejects(other.acquire({ timeout: 0 }), check)
    const t0 = Date.now()
    await rejects(other.acquire({ timeout: 60 }), check)
    assert.ok(Date.now() - t0 >= 55, 'waited the timeout')
    await rejects(m.acquire({ timeout: 30 }), check)
    // Blocking this thread for a lock this thread holds can never succeed.
    throwsCode(() => m.acquireSync(), IPCError, 'EDEADLK')
    throwsCode(() => other.acquireSync(50), IPCError, 'EDEADLK')
    assert.is(other.acquireSync(0), false)
    m.release()
    assert.is(other.acquireSync(50), true)
    other.release()
  }))

test('abort rejects with the signal reason and leaves the lock alone', () =>
  withCleanup(async (cleanup) => {
    const { m, open } = fresh(cleanup)
    const other = open()
    const aborted = AbortSignal.abort(new Error('before'))
    await rejects(m.acquire({ signal: aborted }), (err) => assert.is(err.message, 'before'))
    assert.is(m.isLocked(), false)
    assert.is(m.tryAcquire(), true)
    const ac = new AbortController()
    const queued = m.acquire({ signal: ac.signal }) // queued behind our own hold
    const ac2 = new AbortController()
    const contended = other.acquire({ signal: ac2.signal }) // waiting off the thread
    await tick()
    const reason = new Error('stop')
    ac.abort(reason)
    ac2.abort(reason)
    await rejects(queued, (err) => assert.is(err, reason))
    await rejects(contended, (err) => assert.is(err, reason))
    assert.is(m.isLocked(), true)
    m.release()
    assert.is(m.isLocked(), false)
    assert.is(other.tryAcquire(), true)
    other.release()
  }))

test('cancel rejects pending acquires with ERR_IPC_CANCELED; the holder keeps the lock', () =>
  withCleanup(async (cleanup) => {
    const { m, open } = fresh(cleanup)
    const other = open()
    const release = await m.acquire()
    const pending = [m.acquire(), m.acquire({ timeout: 5000 })]
    const contended = other.acquire()
    await tick()
    m.cancel()
    other.cancel()
    for (const p of [...pending, contended]) await rejects(p, (err) => assert.is(err.code, 'ERR_IPC_CANCELED'))
    assert.is(m.isLocked(), true)
    release()
    assert.is(m.isLocked(), false)
    assert.is(await settled(m.acquire().then((r) => r())), 'resolved')
  }))

test('runExclusive returns the result and releases on throw and on rejection', () =>
  withCleanup(async (cleanup) => {
    const { m } = fresh(cleanup)
    assert.is(await m.runExclusive(() => 42), 42)
    assert.is(await m.runExclusive(async () => (assert.is(m.isLocked(), true), 'async')), 'async')
    await rejects(
      m.runExclusive(() => {
        throw new Error('sync throw')
      }),
      (err) => assert.is(err.message, 'sync throw'),
    )
    assert.is(m.isLocked(), false)
    await rejects(
      m.runExclusive(async () => Promise.reject(new Error('rejected'))),
      (err) => assert.is(err.message, 'rejected'),
    )
    assert.is(m.isLocked(), false)
    await rejects(
      m.runExclusive(() => 1, { timeout: -1 }),
      (err) => assert.is(err.code, 'ERR_OUT_OF_RANGE'),
    )
  }))

test('close rejects pending acquires, releases the lock, later use throws ERR_IPC_CLOSED', () =>
  withCleanup(async (cleanup) => {
    const { m, open } = fresh(cleanup)
    const other = open()
    const third = open()
    assert.is(m.tryAcquire(), true)
    const pending = m.acquire()
    const contended = other.acquire()
    await tick()
    m.close()
    m.close()
    other.close()
    await rejects(pending, (err) => assert.is(err.code, 'ERR_IPC_CLOSED'))
    await rejects(contended, (err) => assert.is(err.code, 'ERR_IPC_CLOSED'))
    assert.is(third.isLocked(), false)
    throwsCode(() => m.tryAcquire(), Error, 'ERR_IPC_CLOSED')
    throwsCode(() => m.acquireSync(), Error, 'ERR_IPC_CLOSED')
    throwsCode(() => m.isLocked(), Error, 'ERR_IPC_CLOSED')
    await rejects(m.acquire(), (err) => assert.is(err.code, 'ERR_IPC_CLOSED'))
    m.release() // nothing held: nothing to do
    third[Symbol.dispose]()
    throwsCode(() => third.tryAcquire(), Error, 'ERR_IPC_CLOSED')
  }))

test('close() racing a contended acquire on the waiter thread: no lock leaked, nothing touched after unmap', () =>
  withCleanup(async (cleanup) => {
    const name = uniqueName('race')
    cleanup(() => IPCBuffer.unlink('posix', name))
    const probe = new Mutex(name)
    cleanup(() => probe.close())
    for (let i = 0; i < 150; i++) {
      const holder = new Mutex(name)
      const waiter = new Mutex(name)
      assert.is(holder.tryAcquire(), true)
      const pending = settled(waiter.acquire())
      // Let go and close at nearby moments, in either order.
      const letGo = i % 3 === 0 ? tick() : new Promise((resolve) => setTimeout(resolve, i % 4))
      const closeAt = i % 2 === 0 ? tick() : new Promise((resolve) => setTimeout(resolve, i % 5))
      await Promise.all([letGo.then(() => holder.release()), closeAt.then(() => waiter.close())])
      const outcome = await pending
      assert.ok(outcome === 'resolved' || outcome === 'rejected')
      holder.close()
      // Whatever happened, the lock is free again.
      assert.is(probe.isLocked(), false, `iteration ${i}: ${outcome}`)
    }
  }))

test('file and System V kinds; unlink removes the name', () =>
  withCleanup((cleanup) => {
    const path = uniquePath('mutex')
    const key = uniqueKey()
    for (const [id, kind] of [
      [path, 'file'],
      [key, 'sysv'],
    ]) {
      const a = new Mutex(id, { kind })
      const b = new Mutex(id, { kind })
      cleanup(() => a.close())
      cleanup(() => b.close())
      cleanup(() => IPCBuffer.exists(kind, id) && IPCBuffer.unlink(kind, id))
      assert.is(a.tryAcquire(), true)
      assert.is(b.tryAcquire(), false)
      a.release()
      assert.is(b.acquireSync(10), true)
      b.release()
      assert.is(IPCBuffer.exists(kind, id), true)
      a.unlink()
      assert.is(IPCBuffer.exists(kind, id), false)
    }
    // A number is a System V key by default.
    const byKey = new Mutex(uniqueKey())
    byKey.unlink()
    byKey.close()
  }))

test('create: false and exclusive; an object that is not a lock is refused', () =>
  withCleanup((cleanup) => {
    const name = uniqueName('mutex')
    throwsCode(() => new Mutex(name, { create: false }), IPCError, 'ENOENT')
    const m = new Mutex(name, { create: 'exclusive' })
    cleanup(() => m.close())
    cleanup(() => m.unlink())
    throwsCode(() => new Mutex(name, { create: 'exclusive' }), IPCError, 'EEXIST')
    const junk = uniqueName('junk')
    const buf = IPCBuffer.posix(junk, { size: 4096 })
    cleanup(() => buf.close())
    cleanup(() => buf.unlink())
    buf.fill(0xab)
    const err = throwsCode(() => new Mutex(junk), IPCError, 'EINVAL')
    assert.match(err.message, /not an ipc-kit mutex: it was left unchanged/)
    assert.ok(buf.every((b) => b === 0xab))
  }))

test('bad arguments throw before any system call', () =>
  withCleanup(async (cleanup) => {
    throwsCode(() => new Mutex(), TypeError, 'ERR_INVALID_ARG_TYPE')
    throwsCode(() => new Mutex(''), TypeError, 'ERR_INVALID_ARG_VALUE')
    throwsCode(() => new Mutex('a/b'), TypeError, 'ERR_INVALID_ARG_VALUE')
    throwsCode(() => new Mutex(0), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => new Mutex('x', { kind: 'memory' }), TypeError, 'ERR_INVALID_ARG_VALUE')
    throwsCode(() => new Mutex('x', { mode: 'rw' }), TypeError, 'ERR_INVALID_ARG_TYPE')
    throwsCode(() => new Mutex('x', { create: 'yes' }), TypeError, 'ERR_INVALID_ARG_VALUE')
    throwsCode(() => new Mutex('x', 5), TypeError, 'ERR_INVALID_ARG_TYPE')
    const { m } = fresh(cleanup)
    throwsCode(() => m.acquireSync('1'), TypeError, 'ERR_INVALID_ARG_TYPE')
    throwsCode(() => m.acquireSync(-1), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => m.acquireSync(NaN), RangeError, 'ERR_OUT_OF_RANGE')
    await rejects(m.acquire({ timeout: '5' }), (err) => assert.is(err.code, 'ERR_INVALID_ARG_TYPE'))
    await rejects(m.acquire({ signal: {} }), (err) => assert.is(err.code, 'ERR_INVALID_ARG_TYPE'))
    await rejects(m.acquire(3), (err) => assert.is(err.code, 'ERR_INVALID_ARG_TYPE'))
    await rejects(m.runExclusive('fn'), (err) => assert.is(err.code, 'ERR_INVALID_ARG_TYPE'))
    assert.is(m.isLocked(), false)
  }))

test.run()
