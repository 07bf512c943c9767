'use strict'
// GuardedBuffer: one name for the bytes and their lock, on every kind.
const { test } = require('uvu')
const assert = require('uvu/assert')
const { GuardedBuffer, IPCBuffer, Mutex, IPCError } = require('..')
const { uniqueName, uniquePath, uniqueKey, withCleanup, throwsCode, runChild, nextMessage } = require('./helpers')

const KINDS = {
  posix: () => uniqueName('guard'),
  file: () => uniquePath('guard'),
  sysv: () => uniqueKey(),
}

for (const [kind, makeId] of Object.entries(KINDS)) {
  test(`${kind}: two opens share the bytes and the lock; unlink removes both; reopening starts from zeros`, () =>
    withCleanup(async (cleanup) => {
      const id = makeId()
      cleanup(() => IPCBuffer.exists(kind, id) && IPCBuffer.unlink(kind, id))
      const a = GuardedBuffer.open(id, { size: 100, kind })
      cleanup(() => a.close())
      const b = GuardedBuffer.open(id, { kind })
      cleanup(() => b.close())
      assert.instance(a.buffer, IPCBuffer)
      assert.is(a.buffer.length, 100)
      assert.is(b.buffer.length, 100)
      assert.instance(a.mutex, Mutex)
      a.withLockSync((buf) => buf.write('shared', 0))
      assert.is(b.buffer.toString('utf8', 0, 6), 'shared')
      const release = await a.lock()
      assert.is(b.mutex.tryAcquire(), false)
      // The name's lock is also what `new Mutex(name)` opens.
      const m = new Mutex(id, { kind })
      cleanup(() => m.close())
      assert.is(m.isLocked(), true)
      assert.is(m.tryAcquire(), false)
      release()
      assert.is(m.tryAcquire(), true)
      assert.is(a.mutex.isLocked(), true)
      m.release()
      a.unlink()
      assert.is(IPCBuffer.exists(kind, id), false)
      a.close()
      b.close()
      m.close()
      const c = GuardedBuffer.open(id, { size: 100, kind })
      cleanup(() => c.close())
      assert.is(c.buffer.toString('utf8', 0, 6), '\0'.repeat(6))
      assert.is(c.mutex.isLocked(), false)
      c.unlink()
    }))
}

test('a child process sees the bytes and waits for the lock', () =>
  withCleanup(async (cleanup) => {
    const name = uniqueName('guard')
    const g = GuardedBuffer.open(name, { size: 8 })
    cleanup(() => g.close())
    cleanup(() => g.unlink())
    let child
    const done = runChild('mutex-holder.js', ['posix', name, 'hold', 200], { onSpawn: (c) => (child = c) })
    cleanup(() => child.kill('SIGKILL'))
    await nextMessage(child, (m) => m === 'held')
    throwsCode(() => g.withLockSync(() => 1, 20), IPCError, 'ETIMEDOUT')
    const t0 = performance.now()
    const got = await g.withLock((buf) => (buf.writeUInt32LE(7, 0), 'mine'))
    assert.is(got, 'mine')
    assert.ok(performance.now() - t0 >= 100, 'waited for the child')
    assert.is((await done).code, 0)
  }))

test('withLock returns the result and releases on throw; withLockSync; lock/unlock', () =>
  withCleanup(async (cleanup) => {
    const name = uniqueName('guard')
    const g = GuardedBuffer.open(name, { size: 16 })
    cleanup(() => g.close())
    cleanup(() => g.unlink())
    assert.is(await g.withLock(async (buf) => ((buf[0] = 5), buf.length)), 16)
    try {
      await g.withLock(() => {
        throw new Error('boom')
      })
      assert.unreachable()
    } catch (err) {
      assert.is(err.message, 'boom')
    }
    assert.is(g.mutex.isLocked(), false)
    assert.throws(
      () =>
        g.withLockSync(() => {
          throw new Error('sync boom')
        }),
      /sync boom/,
    )
    assert.is(g.mutex.isLocked(), false)
    assert.is(
      g.withLockSync((buf) => buf[0]),
      5,
    )
    await g.lock()
    assert.is(g.mutex.isLocked(), true)
    g.unlock()
    assert.is(g.mutex.isLocked(), false)
    const other = GuardedBuffer.open(name)
    cleanup(() => other.close())
    await g.lock()
    // Held by this very thread: blocking for it could never end.
    throwsCode(() => other.withLockSync(() => 1, 20), IPCError, 'EDEADLK')
    try {
      await other.withLock(() => 1, { timeout: 20 })
      assert.unreachable()
    } catch (err) {
      assert.is(err.code, 'ETIMEDOUT')
    }
    g.unlock()
  }))

test('close empties the buffer, releases the lock and is idempotent; dispose closes', () =>
  withCleanup(async (cleanup) => {
    const name = uniqueName('guard')
    const g = GuardedBuffer.open(name, { size: 16 })
    cleanup(() => IPCBuffer.unlink('posix', name))
    const other = GuardedBuffer.open(name)
    cleanup(() => other.close())
    await g.lock()
    g.close()
    g.close()
    assert.is(g.buffer.length, 0)
    assert.is(other.mutex.tryAcquire(), true)
    other.unlock()
    throwsCode(() => g.withLockSync(() => 1), Error, 'ERR_IPC_CLOSED')
    const scoped = GuardedBuffer.open(name)
    assert.is(scoped.buffer.length, 16)
    other.buffer[0] = 1
    assert.is(scoped.buffer[0], 1)
    scoped[Symbol.dispose]()
    assert.is(scoped.buffer.length, 0)
  }))

test('bad arguments throw before any system call', () => {
  throwsCode(() => GuardedBuffer.open(), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => GuardedBuffer.open('x', { size: 0 }), RangeError, 'ERR_OUT_OF_RANGE')
  throwsCode(() => GuardedBuffer.open('x', { size: 1.5 }), RangeError, 'ERR_OUT_OF_RANGE')
  throwsCode(() => GuardedBuffer.open('x', { size: '8' }), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => GuardedBuffer.open('x', { kind: 'memory', size: 8 }), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => GuardedBuffer.open('x', 'posix'), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => GuardedBuffer.open(uniqueName('absent')), IPCError, 'ENOENT')
})

test('an object too small to hold the lock page and data is refused', () =>
  withCleanup((cleanup) => {
    const name = uniqueName('small')
    const buf = IPCBuffer.posix(name, { size: 4096 })
    cleanup(() => buf.close())
    cleanup(() => buf.unlink())
    const err = throwsCode(() => GuardedBuffer.open(name), IPCError, 'EINVAL')
    assert.match(err.message, /pass options.size/)
  }))

test.run()
