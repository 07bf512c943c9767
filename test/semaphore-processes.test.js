'use strict'
// Semaphore across real processes: wait/post both ways, SEM_UNDO after a
// SIGKILL, permissions, conservation against another process's posts, and a
// pending wait's hold on process exit.
const { suite } = require('uvu')
const assert = require('uvu/assert')
const { withCleanup, runChild, nobody, notRoot, skipIf, freshSemaphore } = require('./helpers')

const fresh = freshSemaphore

/** Runs test/fixtures/semaphore-child.js; asserts a clean exit; returns its messages. */
async function child(args, options) {
  const { code, signal, messages, stderr } = await runChild('semaphore-child.js', args, options)
  assert.is(signal, null, `child died of ${signal}: ${stderr}`)
  assert.is(code, 0, `child exited ${code}: ${stderr} ${JSON.stringify(messages)}`)
  return { messages }
}

for (const kind of ['posix', 'sysv']) {
  const t = suite(`Semaphore across processes (${kind})`)

  for (const mode of ['sync', 'async']) {
    t(`a child's ${mode} wait takes the unit this process posts`, () =>
      withCleanup(async (cleanup) => {
        const sem = fresh(kind, cleanup)
        const done = child(['wait', kind, sem.name, mode], {
          onMessage: (m) => m.ready && sem.post(),
        })
        const { messages } = await done
        assert.equal(messages, [{ ready: true }, { waited: true }])
        assert.is(sem.value, 0)
      }))
  }

  t('wait() here resolves on a post from a child; waitSync() here too', () =>
    withCleanup(async (cleanup) => {
      const sem = fresh(kind, cleanup)
      const pending = sem.wait({ timeout: 15000 })
      await child(['post', kind, sem.name, 2])
      await pending
      assert.is(sem.waitSync(5000), true)
      assert.is(sem.value, 0)
    }))

  t('no unit is lost: waits with tiny timeouts racing another process posting', () =>
    withCleanup(async (cleanup) => {
      const sem = fresh(kind, cleanup)
      const POSTS = 2000
      let received = 0
      let refused = 0
      let posting = true
      const poster = runChild('semaphore-child.js', ['post-loop', kind, sem.name, POSTS])
      const waits = []
      const finished = poster.then(() => (posting = false))
      while (posting) {
        for (let i = 0; i < 20; i++) {
          waits.push(
            sem.wait({ timeout: (i % 4) * 0.3 }).then(
              () => received++,
              (err) => {
                assert.is(err.code, 'ETIMEDOUT')
                refused++
              },
            ),
          )
        }
        await new Promise((r) => setTimeout(r, 1))
      }
      const { code, messages } = await poster
      await finished
      assert.is(code, 0)
      assert.equal(messages.at(-1), { posted: POSTS })
      await Promise.all(waits)
      let left = 0
      while (sem.waitSync(100)) left++
      assert.ok(refused > 0, 'no wait timed out: the race did not happen')
      assert.is(received + left, POSTS)
    }))

  t('signals interrupting waitSync (EINTR) resume it with the time left', () =>
    withCleanup(async (cleanup) => {
      const sem = fresh(kind, cleanup)
      let timer
      cleanup(() => clearInterval(timer))
      const { messages } = await child(['signalled', kind, sem.name, 400], {
        onMessage: (m, proc) => {
          if (m.ready) timer = setInterval(() => proc.kill('SIGUSR2'), 40)
          else clearInterval(timer)
        },
      })
      const { taken, took } = messages[1]
      assert.is(taken, false)
      assert.ok(took >= 400 && took <= 500, `waitSync(400) under signals took ${took} ms`)
    }))

  skipIf(notRoot, t)('an unprivileged child opening a 0600 semaphore gets EACCES; 0666 lets it in', () =>
    withCleanup(async (cleanup) => {
      const closed = fresh(kind, cleanup, { mode: 0o600 })
      const { messages } = await child(['open', kind, closed.name], nobody())
      assert.equal(messages, [{ code: 'EACCES', syscall: kind === 'posix' ? 'sem_open' : 'semget', name: 'IPCError' }])
      const open = fresh(kind, cleanup, { mode: 0o666 })
      assert.equal((await child(['open', kind, open.name], nobody())).messages, [{ ok: true }])
    }))

  t('a pending wait keeps the process alive, as a timer would; close() lets it exit', () =>
    withCleanup(async (cleanup) => {
      const sem = fresh(kind, cleanup)
      const t0 = performance.now()
      const { code, signal, stdout, stderr } = await runChild('semaphore-child.js', ['pending-wait', kind, sem.name, 300])
      assert.is(signal, null, stderr)
      assert.is(code, 0, stderr)
      assert.is(stdout, 'ETIMEDOUT') // it lived to see its wait time out
      assert.ok(performance.now() - t0 >= 300)
      const { messages } = await child(['close-pending', kind, sem.name], { timeout: 10000 })
      assert.equal(messages, [{ ready: true }, { code: 'ERR_IPC_CLOSED' }])
      assert.is(sem.value, 0)
    }))

  t.run()
}

const undo = suite('System V undo')

/** A child takes the one unit, then dies of SIGKILL holding it; returns the value after. */
async function killHolder(sem, holdArgs) {
  let reported
  const { signal } = await runChild('semaphore-child.js', ['hold', 'sysv', sem.name, ...holdArgs], {
    onMessage: (m, proc) => {
      reported = m
      proc.kill('SIGKILL')
    },
  })
  assert.equal(reported, { taken: true, value: 0 })
  assert.is(signal, 'SIGKILL')
  return sem.value
}

undo('undo: true gives back the unit of a child killed with SIGKILL while holding it', () =>
  withCleanup(async (cleanup) => {
    const sem = fresh('sysv', cleanup, { initial: 1, undo: true })
    assert.is(sem.undo, true)
    // The kernel undid the child's semop when it died.
    assert.is(await killHolder(sem, ['undo']), 1)
  }))

undo('without undo the unit stays taken, as it does for POSIX semaphores', () =>
  withCleanup(async (cleanup) => {
    const sem = fresh('sysv', cleanup, { initial: 1 })
    assert.is(await killHolder(sem, []), 0)
  }))

undo.run()
