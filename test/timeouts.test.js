'use strict'
// Long timeouts mean long: past setTimeout's limit (2^31 - 1 ms) every class
// keeps waiting, with no TimeoutOverflowWarning, until the wait is ended
// another way (abort, cancel, a post, a release).
const { test } = require('uvu')
const assert = require('uvu/assert')
const { GuardedBuffer, Mutex, Semaphore } = require('..')
const { uniqueName, withCleanup, runChild, freshSemaphore } = require('./helpers')

const LONG = [2 ** 31, 2 ** 32 + 5, 1e13, Number.MAX_SAFE_INTEGER, Infinity]
const WATCH_MS = 200

/** Collects the process warnings emitted while `fn` runs. */
async function warningsDuring(fn) {
  const warnings = []
  const onWarning = (w) => warnings.push(`${w.name}: ${w.message}`)
  process.on('warning', onWarning)
  try {
    await fn()
    // Warnings are emitted on a later tick.
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('warning', onWarning)
  }
  return warnings
}

/** Tracks how `promise` settles: { state, value, done }. */
function track(promise) {
  const t = { state: 'pending', value: undefined }
  t.done = promise.then(
    (value) => Object.assign(t, { state: 'resolved', value }),
    (value) => Object.assign(t, { state: 'rejected', value }),
  )
  return t
}

const elapse = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
/** Calls fn once `ms` have really passed: a timer may fire early (its start is the event loop's cached time). */
function afterReally(ms, fn) {
  const t0 = performance.now()
  const check = () => {
    const left = ms - (performance.now() - t0)
    if (left > 0) setTimeout(check, Math.ceil(left))
    else fn()
  }
  setTimeout(check, ms)
}

test(`every async wait with a timeout past 2^31 - 1 ms is still pending after ${WATCH_MS} ms, with no warning; abort and cancel end it`, () =>
  withCleanup(async (cleanup) => {
    const name = uniqueName('long')
    const holder = GuardedBuffer.open(name, { size: 8 })
    cleanup(() => holder.close())
    cleanup(() => holder.unlink())
    const g = GuardedBuffer.open(name, { create: false })
    cleanup(() => g.close())
    const m = new Mutex(name)
    cleanup(() => m.close())
    const sems = ['posix', 'sysv'].map((kind) => freshSemaphore(kind, cleanup))
    holder.mutex.acquireSync()
    const aborters = []
    const waits = []
    const warnings = await warningsDuring(async () => {
      for (const timeout of LONG) {
        const signal = () => aborters[aborters.push(new AbortController()) - 1].signal
        for (const sem of sems)
          waits.push([`${sem.kind} wait(${timeout})`, track(sem.wait({ timeout, signal: signal() }))])
        waits.push([`Mutex acquire(${timeout})`, track(m.acquire({ timeout, signal: signal() }))])
        waits.push([
          `Mutex runExclusive(${timeout})`,
          track(m.runExclusive(() => 'ran', { timeout, signal: signal() })),
        ])
        waits.push([`GuardedBuffer lock(${timeout})`, track(g.lock({ timeout, signal: signal() }))])
        waits.push([
          `GuardedBuffer withLock(${timeout})`,
          track(g.withLock(() => 'ran', { timeout, signal: signal() })),
        ])
      }
      await elapse(WATCH_MS)
    })
    assert.equal(warnings, [])
    for (const [what, t] of waits) assert.is(t.state, 'pending', `${what} settled: ${t.value && t.value.code}`)
    for (const aborter of aborters) aborter.abort()
    await Promise.all(waits.map(([, t]) => t.done))
    for (const [what, t] of waits) {
      assert.is(t.state, 'rejected', what)
      assert.is(t.value.name, 'AbortError', what)
    }
    // cancel() ends one too, and the lock still changes hands normally.
    const cancelled = track(m.acquire({ timeout: Number.MAX_SAFE_INTEGER }))
    await elapse(20)
    m.cancel()
    await cancelled.done
    assert.is(cancelled.state, 'rejected')
    assert.is(cancelled.value.code, 'ERR_IPC_CANCELED')
    const later = m.acquire({ timeout: 2 ** 31 })
    holder.mutex.release()
    const release = await later
    release()
    for (const sem of sems) assert.is(sem.value, 0) // the aborted waits took nothing
  }))

for (const kind of ['posix', 'sysv']) {
  test(`${kind} waitSync(2^31) in a child is still blocked after ${WATCH_MS} ms and is woken by a post`, () =>
    withCleanup(async (cleanup) => {
      const sem = freshSemaphore(kind, cleanup)
      let readyAt
      const run = runChild('semaphore-child.js', ['signalled', kind, sem.name, 2 ** 31], {
        onMessage: (m, child) => {
          if (!m.ready) return
          readyAt = performance.now()
          afterReally(WATCH_MS, () => {
            if (child.exitCode === null && child.signalCode === null) sem.post()
          })
        },
      })
      const { code, signal, stderr, messages } = await run
      assert.is(signal, null, stderr)
      assert.is(code, 0, stderr)
      assert.is(messages[1].taken, true)
      assert.ok(messages[1].took >= WATCH_MS - 5, `woke after ${messages[1].took} ms`)
      assert.ok(performance.now() - readyAt >= WATCH_MS)
      assert.is(sem.value, 0)
    }))
}

for (const timeout of [2 ** 31, Number.MAX_SAFE_INTEGER]) {
  test(`Mutex acquireSync(${timeout}) in a child is still blocked after ${WATCH_MS} ms and takes the lock once released`, () =>
    withCleanup(async (cleanup) => {
      const name = uniqueName('long-sync')
      const m = new Mutex(name)
      cleanup(() => m.close())
      cleanup(() => m.unlink())
      m.acquireSync()
      const run = runChild('mutex-holder.js', ['posix', name, 'sync-wait', timeout], {
        onMessage: (msg) => msg === 'waiting' && afterReally(WATCH_MS, () => m.release()),
      })
      const { code, signal, stderr, messages } = await run
      assert.is(signal, null, stderr)
      assert.is(code, 0, stderr)
      assert.is(messages[1].got, true)
      assert.ok(messages[1].elapsed >= WATCH_MS - 5, `took the lock after ${messages[1].elapsed} ms`)
    }))
}

test('bad timeouts are still refused: negative and NaN are RangeError', async () => {
  const name = uniqueName('long-bad')
  const m = new Mutex(name)
  try {
    for (const timeout of [-1, NaN, -Infinity]) {
      assert.throws(
        () => m.acquireSync(timeout),
        (err) => err.code === 'ERR_OUT_OF_RANGE',
      )
      await m.acquire({ timeout }).then(
        () => assert.unreachable('resolved'),
        (err) => assert.is(err.code, 'ERR_OUT_OF_RANGE'),
      )
    }
  } finally {
    m.close()
    m.unlink()
  }
})

test.run()
