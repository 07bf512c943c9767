'use strict'
// Semaphore in one process: one contract suite run against both kinds, then
// bad input. Cross-process behaviour: semaphore-processes.test.js; the event
// loop, workers and addon copies: semaphore-threads.test.js.
const fs = require('node:fs')
const { suite } = require('uvu')
const assert = require('uvu/assert')
const { EEXIST, ETIMEDOUT } = require('node:os').constants.errno
const { Semaphore, IPCError, SEM_VALUE_MAX, SEMVMX } = require('..')
const { uniqueName, uniqueKey, withCleanup, throwsCode, rejectsCode, freshSemaphore } = require('./helpers')

const KINDS = {
  posix: { id: () => uniqueName('sem'), open: Semaphore.posix, max: SEM_VALUE_MAX, syscall: 'sem_clockwait' },
  sysv: { id: () => uniqueKey(), open: Semaphore.sysv, max: SEMVMX, syscall: 'semtimedop' },
}

const fresh = freshSemaphore

const elapsed = (t0) => performance.now() - t0

for (const kind of Object.keys(KINDS)) {
  const { id, open, max, syscall } = KINDS[kind]
  const t = suite(`Semaphore (${kind})`)

  t('creates with initial, opens the same one, counts with post/tryWait/value', () =>
    withCleanup((cleanup) => {
      const name = id()
      const a = open(name, { initial: 2 })
      cleanup(() => a.close())
      cleanup(() => Semaphore.unlink(kind, name))
      assert.is(a.kind, kind)
      assert.is(a.name, kind === 'posix' ? '/' + name : name)
      assert.is(a.created, true)
      assert.is(a.value, 2)
      const b = open(name)
      cleanup(() => b.close())
      assert.is(b.created, false)
      assert.is(b.value, 2)
      assert.is(b.tryWait(), true)
      assert.is(a.tryWait(), true)
      assert.is(a.tryWait(), false)
      assert.is(b.value, 0)
      a.post()
      b.post(3)
      b.post(0)
      assert.is(a.value, 4)
      // `initial` only applies to a semaphore the call creates.
      const c = open(name, { initial: 9 })
      cleanup(() => c.close())
      assert.is(c.created, false)
      assert.is(c.value, 4)
    }),
  )

  t('create: false needs it to exist, exclusive needs it absent; no initial means open', () =>
    withCleanup((cleanup) => {
      const name = id()
      throwsCode(() => open(name), IPCError, 'ENOENT')
      throwsCode(() => open(name, { initial: 1, create: false }), IPCError, 'ENOENT')
      const a = open(name, { create: 'exclusive' })
      cleanup(() => a.close())
      cleanup(() => Semaphore.unlink(kind, name))
      assert.is(a.value, 0)
      const err = throwsCode(() => open(name, { initial: 1, create: 'exclusive' }), IPCError, 'EEXIST')
      assert.is(err.errno, -EEXIST)
      if (kind === 'posix') assert.is(err.path, '/' + name)
      else assert.is(err.key, name)
    }),
  )

  t('the constructor form: a string is POSIX, a number System V', () =>
    withCleanup((cleanup) => {
      const name = id()
      const sem = new Semaphore(name, 3)
      cleanup(() => sem.close())
      cleanup(() => Semaphore.unlink(kind, name))
      assert.ok(sem instanceof Semaphore)
      assert.is(sem.kind, kind)
      assert.is(sem.value, 3)
      const again = new Semaphore(name)
      cleanup(() => again.close())
      assert.is(again.value, 3)
    }),
  )

  t('counts up to the kind maximum; one more is a RangeError, an overflowing post an IPCError', () =>
    withCleanup((cleanup) => {
      const sem = fresh(kind, cleanup, { initial: max })
      assert.is(sem.value, max)
      throwsCode(() => open(id(), { initial: max + 1 }), RangeError, 'ERR_OUT_OF_RANGE')
      throwsCode(() => sem.post(max + 1), RangeError, 'ERR_OUT_OF_RANGE')
      throwsCode(() => sem.post(1), IPCError, kind === 'posix' ? 'EOVERFLOW' : 'ERANGE')
      assert.is(sem.value, max)
    }),
  )

  t('waitSync: takes a unit at hand; 0 is a try; returns false after the timeout', () =>
    withCleanup((cleanup) => {
      const sem = fresh(kind, cleanup, { initial: 1 })
      assert.is(sem.waitSync(), true)
      assert.is(sem.waitSync(0), false)
      const t0 = performance.now()
      assert.is(sem.waitSync(150), false)
      const took = elapsed(t0)
      assert.ok(took >= 150 && took < 250, `waitSync(150) took ${took} ms`)
      sem.post()
      assert.is(sem.waitSync(10000), true)
    }),
  )

  t('wait(): resolves at once with a unit at hand, later when one is posted', () =>
    withCleanup(async (cleanup) => {
      const sem = fresh(kind, cleanup, { initial: 1 })
      assert.is(await sem.wait(), undefined)
      const other = open(sem.name)
      cleanup(() => other.close())
      const pending = sem.wait()
      setTimeout(() => other.post(), 20)
      await pending
      assert.is(sem.value, 0)
    }),
  )

  t('wait(): waits are served first in, first out', () =>
    withCleanup(async (cleanup) => {
      const sem = fresh(kind, cleanup)
      const order = []
      const waits = [0, 1, 2, 3].map((i) => sem.wait({ timeout: 10000 }).then(() => order.push(i)))
      for (let i = 0; i < 4; i++) {
        sem.post()
        await waits[i]
      }
      assert.equal(order, [0, 1, 2, 3])
      assert.is(sem.value, 0)
    }),
  )

  t('wait({ timeout }): rejects ETIMEDOUT no earlier than asked and within 100 ms after', () =>
    withCleanup(async (cleanup) => {
      const sem = fresh(kind, cleanup)
      for (const timeout of [30, 250]) {
        const t0 = performance.now()
        const err = await rejectsCode(sem.wait({ timeout }), IPCError, 'ETIMEDOUT')
        const took = elapsed(t0)
        assert.ok(took >= timeout && took <= timeout + 100, `timeout ${timeout} rejected after ${took} ms`)
        assert.is(err.errno, -ETIMEDOUT)
        assert.is(err.syscall, syscall)
      }
      // The same while another wait keeps the waiter thread in its slices.
      const busy = sem.wait().catch((err) => err.code)
      for (const delay of [7, 23, 41]) {
        await new Promise((r) => setTimeout(r, delay))
        const t0 = performance.now()
        await rejectsCode(sem.wait({ timeout: 5 }), IPCError, 'ETIMEDOUT')
        const took = elapsed(t0)
        assert.ok(took >= 5 && took <= 105, `timeout 5 beside a pending wait rejected after ${took} ms`)
      }
      sem.post()
      await busy
      // 0 is a try: it settles now, either way.
      await rejectsCode(sem.wait({ timeout: 0 }), IPCError, 'ETIMEDOUT')
      sem.post()
      await sem.wait({ timeout: 0 })
      assert.is(sem.value, 0)
    }),
  )

  t('wait({ signal }): rejects with the reason (AbortError by default) within 100 ms, takes nothing', () =>
    withCleanup(async (cleanup) => {
      const sem = fresh(kind, cleanup)
      const early = new AbortController()
      early.abort()
      const first = await sem.wait({ signal: early.signal }).catch((e) => e)
      assert.is(first.name, 'AbortError')
      const ac = new AbortController()
      const t0 = performance.now()
      setTimeout(() => ac.abort(), 120)
      const err = await sem.wait({ signal: ac.signal }).catch((e) => e)
      const took = elapsed(t0)
      assert.is(err.name, 'AbortError')
      assert.ok(took >= 119 && took <= 220, `aborted after ${took} ms`)
      const reason = new Error('mine')
      const custom = new AbortController()
      const pending = sem.wait({ signal: custom.signal, timeout: 10000 })
      custom.abort(reason)
      assert.is(await pending.catch((e) => e), reason)
      // Nothing was taken for them: the one unit posted is there to take (a
      // waiter thread still in its slice may hold it a moment, then gives it back).
      sem.post()
      assert.is(sem.waitSync(1000), true)
      assert.is(sem.waitSync(50), false)
    }),
  )

  t('close(): pending waits reject ERR_IPC_CLOSED; later use throws or rejects it; idempotent', () =>
    withCleanup(async (cleanup) => {
      const sem = fresh(kind, cleanup)
      const waits = [sem.wait(), sem.wait({ timeout: 10000 }), sem.wait({ signal: new AbortController().signal })]
      sem.close()
      for (const w of waits) await rejectsCode(w, Error, 'ERR_IPC_CLOSED')
      sem.close()
      sem[Symbol.dispose]()
      throwsCode(() => sem.post(), Error, 'ERR_IPC_CLOSED')
      throwsCode(() => sem.tryWait(), Error, 'ERR_IPC_CLOSED')
      throwsCode(() => sem.waitSync(0), Error, 'ERR_IPC_CLOSED')
      throwsCode(() => sem.value, Error, 'ERR_IPC_CLOSED')
      await rejectsCode(sem.wait(), Error, 'ERR_IPC_CLOSED')
      const other = open(sem.name)
      cleanup(() => other.close())
      assert.is(other.value, 0)
    }),
  )

  t('unlink(): removes the name; Semaphore.unlink of an absent one is ENOENT', () =>
    withCleanup((cleanup) => {
      const name = id()
      const sem = open(name, { initial: 1 })
      cleanup(() => sem.close())
      sem.unlink()
      throwsCode(() => open(name), IPCError, 'ENOENT')
      throwsCode(() => Semaphore.unlink(kind, name), IPCError, 'ENOENT')
      if (kind === 'posix') assert.is(sem.tryWait(), true) // the open handle still works
    }),
  )

  if (kind === 'sysv') {
    t('unlink() removes a System V set at once: pending waits and later calls fail with EIDRM', () =>
      withCleanup(async (cleanup) => {
        const sem = open(id(), { initial: 0 })
        cleanup(() => sem.close())
        const waits = [sem.wait(), sem.wait(), sem.wait({ timeout: 10000 })]
        setTimeout(() => sem.unlink(), 20)
        for (const w of waits) await rejectsCode(w, IPCError, 'EIDRM')
        throwsCode(() => sem.post(), IPCError, 'EIDRM')
        throwsCode(() => sem.value, IPCError, 'EIDRM')
        throwsCode(() => sem.waitSync(0), IPCError, 'EIDRM')
      }),
    )
  }

  t('mode: a created semaphore gets exactly mode, whatever the umask', () =>
    withCleanup((cleanup) => {
      const old = process.umask(0o077)
      cleanup(() => process.umask(old))
      const sem = fresh(kind, cleanup, { mode: 0o664 })
      const dflt = fresh(kind, cleanup)
      assert.is(modeOf(kind, sem.name), 0o664)
      assert.is(modeOf(kind, dflt.name), 0o600)
    }),
  )

  t('no unit is lost or invented: thousands of tiny-timeout and aborted waits racing posts', () =>
    withCleanup(async (cleanup) => {
      const sem = fresh(kind, cleanup)
      const poster = open(sem.name)
      cleanup(() => poster.close())
      let received = 0
      let refused = 0
      let posted = 0
      const waits = []
      for (let i = 0; i < 3000; i++) {
        const ac = i % 3 === 0 ? new AbortController() : undefined
        const timeout = i % 3 === 0 ? undefined : (i % 5) * 0.25
        waits.push(
          sem.wait({ timeout, signal: ac?.signal }).then(
            () => received++,
            (err) => {
              assert.ok(err.code === 'ETIMEDOUT' || err.name === 'AbortError', String(err))
              refused++
            },
          ),
        )
        if (ac) setTimeout(() => ac.abort(), i % 4)
        if (i % 2 === 0) {
          poster.post()
          posted++
        }
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1))
      }
      await Promise.all(waits)
      assert.ok(received > 0 && refused > 0, `received ${received}, refused ${refused}`)
      assert.is(received + drain(sem), posted)
    }),
  )

  t('no unit is lost when close() meets posts: units received + units left = units posted', () =>
    withCleanup(async (cleanup) => {
      const keeper = fresh(kind, cleanup)
      let received = 0
      let posted = 0
      for (let round = 0; round < 200; round++) {
        const sem = open(keeper.name)
        const waits = [0, 1, 2, 3, 4].map(() =>
          sem.wait().then(
            () => received++,
            (err) => assert.is(err.code, 'ERR_IPC_CLOSED'),
          ),
        )
        keeper.post(round % 4)
        posted += round % 4
        if (round % 2) await new Promise(setImmediate)
        sem.close()
        await Promise.all(waits)
      }
      assert.is(received + drain(keeper), posted)
    }),
  )

  t.run()
}

/**
 * Takes every unit left and counts them. A unit in flight (taken by a waiter
 * thread for a wait that went away) is back within microseconds: a 100 ms
 * silence means there is none.
 */
function drain(sem) {
  let left = 0
  while (sem.waitSync(100)) left++
  return left
}

function modeOf(kind, name) {
  if (kind === 'posix') return fs.statSync(`/dev/shm/sem.${name.slice(1)}`).mode & 0o777
  const line = fs
    .readFileSync('/proc/sysvipc/sem', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((cols) => Number(cols[0]) === name)
  return parseInt(line[2], 8) & 0o777
}

const bad = suite('Semaphore: bad input throws before any system call')

bad('names, keys and the constructor', () => {
  throwsCode(() => Semaphore.posix(42), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => Semaphore.posix(''), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => Semaphore.posix('/'), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => Semaphore.posix('a/b'), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => Semaphore.posix('a\0b'), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => Semaphore.posix('..'), TypeError, 'ERR_INVALID_ARG_VALUE')
  // NAME_MAX less the 'sem.' prefix
  throwsCode(() => Semaphore.posix('x'.repeat(252), { initial: 0 }), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => Semaphore.sysv('1'), TypeError, 'ERR_INVALID_ARG_TYPE')
  for (const key of [0, 1.5, 2 ** 32, -(2 ** 31) - 1, NaN])
    throwsCode(() => Semaphore.sysv(key), RangeError, 'ERR_OUT_OF_RANGE')
  throwsCode(() => new Semaphore({}), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => new Semaphore(null, 1), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => new Semaphore(uniqueName('bad'), -1), RangeError, 'ERR_OUT_OF_RANGE')
  throwsCode(() => new Semaphore(uniqueKey(), SEMVMX + 1), RangeError, 'ERR_OUT_OF_RANGE')
  throwsCode(() => Semaphore.unlink('file', 'x'), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => Semaphore.unlink('posix', 1), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => Semaphore.unlink('sysv', 0), RangeError, 'ERR_OUT_OF_RANGE')
})

bad('options', () => {
  const name = uniqueName('bad')
  const key = uniqueKey()
  throwsCode(() => Semaphore.posix(name, 5), TypeError, 'ERR_INVALID_ARG_TYPE')
  for (const initial of [-1, 1.5, SEM_VALUE_MAX + 1, NaN]) {
    throwsCode(() => Semaphore.posix(name, { initial }), RangeError, 'ERR_OUT_OF_RANGE')
  }
  throwsCode(() => Semaphore.posix(name, { initial: '1' }), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => Semaphore.sysv(key, { initial: SEMVMX + 1 }), RangeError, 'ERR_OUT_OF_RANGE')
  throwsCode(() => Semaphore.posix(name, { create: 'yes' }), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => Semaphore.posix(name, { initial: 0, mode: 0o1000 }), RangeError, 'ERR_OUT_OF_RANGE')
  throwsCode(() => Semaphore.posix(name, { initial: 0, mode: '600' }), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => Semaphore.posix(name, { initial: 0, undo: true }), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => Semaphore.sysv(key, { initial: 0, undo: 1 }), TypeError, 'ERR_INVALID_ARG_TYPE')
  // Nothing was created by any of these.
  throwsCode(() => Semaphore.posix(name), IPCError, 'ENOENT')
  throwsCode(() => Semaphore.sysv(key), IPCError, 'ENOENT')
})

bad('wait, waitSync and post arguments', () =>
  withCleanup(async (cleanup) => {
    const name = uniqueName('bad')
    const sem = Semaphore.posix(name, { initial: 1 })
    cleanup(() => sem.close())
    cleanup(() => Semaphore.unlink('posix', name))
    await rejectsCode(sem.wait(5), TypeError, 'ERR_INVALID_ARG_TYPE')
    await rejectsCode(sem.wait({ timeout: -1 }), RangeError, 'ERR_OUT_OF_RANGE')
    await rejectsCode(sem.wait({ timeout: NaN }), RangeError, 'ERR_OUT_OF_RANGE')
    await rejectsCode(sem.wait({ timeout: '10' }), TypeError, 'ERR_INVALID_ARG_TYPE')
    await rejectsCode(sem.wait({ signal: {} }), TypeError, 'ERR_INVALID_ARG_TYPE')
    throwsCode(() => sem.waitSync(-1), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => sem.waitSync('1'), TypeError, 'ERR_INVALID_ARG_TYPE')
    throwsCode(() => sem.post(-1), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => sem.post(1.5), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => sem.post('1'), TypeError, 'ERR_INVALID_ARG_TYPE')
    throwsCode(() => sem.post(SEM_VALUE_MAX + 1), RangeError, 'ERR_OUT_OF_RANGE')
    assert.is(sem.value, 1) // none of these took or added a unit
  }),
)

bad.run()
