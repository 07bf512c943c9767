'use strict'
// Mutex and GuardedBuffer across real processes: exact counts, crash recovery,
// live owners kept, the liveness rules on forged lock words, no system call.
const { spawn, spawnSync } = require('node:child_process')
const { Worker } = require('node:worker_threads')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { test } = require('uvu')
const assert = require('uvu/assert')
const { GuardedBuffer, Mutex, IPCBuffer } = require('..')
const {
  uniqueName,
  uniquePath,
  withCleanup,
  runChild,
  runReport,
  runScript,
  nextMessage,
  skipIf,
  cannotRun,
  NODE,
} = require('./helpers')

const ROOT = path.join(__dirname, '..')
// The lock word's bits, as the addon defines them (native/mutex/lock_word.h).
const { ABANDONED, FOREIGN, OWNER_MASK, OWNER_NS, HAS_TOKEN } = require('../dist/native').mutex.LOCK

for (const flag of [[], ['--sync']]) {
  test(`4 processes x 100,000 increments ${flag.length ? 'with withLockSync' : 'with withLock'}: the exact count`, async () => {
    const { code, signal, stdout, stderr } = await runScript(
      path.join(ROOT, 'examples', 'counter.js'),
      ['--procs', '4', '--n', '100000', ...flag],
      90000,
    )
    assert.is(stderr, '')
    assert.is(signal, null)
    assert.match(stdout, /expected 400000\nfinal    400000\n/)
    assert.is(code, 0, stdout)
  })
}

/** A GuardedBuffer on a fresh name, removed afterwards. */
function guarded(cleanup, size = 8) {
  const name = uniqueName('guard')
  const g = GuardedBuffer.open(name, { size })
  cleanup(() => g.close())
  cleanup(() => g.unlink())
  return { g, name }
}

for (const how of ['acquire', 'acquireSync']) {
  test(`a holder SIGKILLed inside withLock: the next owner (${how}) gets it within a second, ownerDied`, () =>
    withCleanup(async (cleanup) => {
      const { g, name } = guarded(cleanup)
      let child
      const done = runChild('mutex-holder.js', ['posix', name, 'hang'], { onSpawn: (c) => (child = c), timeout: 30000 })
      cleanup(() => child.kill('SIGKILL'))
      await nextMessage(child, (m) => m === 'held')
      assert.is(g.mutex.isLocked(), true)
      assert.is(g.mutex.tryAcquire(), false)
      let took
      if (how === 'acquire') {
        const waiting = g.lock({ timeout: 10000 })
        await new Promise((resolve) => setTimeout(resolve, 50)) // waiting off the thread by now
        child.kill('SIGKILL')
        const t0 = performance.now()
        await waiting
        took = performance.now() - t0
      } else {
        child.kill('SIGKILL')
        const t0 = performance.now()
        // The event loop is blocked: the dead child stays a zombie, and counts as dead.
        assert.is(g.mutex.acquireSync(10000), true)
        took = performance.now() - t0
      }
      assert.ok(took < 1000, `took over in ${took.toFixed(0)} ms`)
      assert.is(g.mutex.ownerDied, true)
      assert.is(g.buffer.readUInt32LE(0), child.pid) // what the dead owner wrote is there to repair
      g.unlock()
      assert.is(g.mutex.ownerDied, false)
      assert.is(await g.withLock(() => g.mutex.ownerDied), false)
      const { signal } = await done
      assert.is(signal, 'SIGKILL')
    }))
}

// Each torture process takes the lock by another path (lib/fast-path/):
// WebAssembly, Atomics (IPC_KIT_WASM=0) and node --jitless (no WebAssembly).
const LOCK_PATHS = [{}, { env: { IPC_KIT_WASM: '0' } }, { execArgv: ['--jitless'] }]
const JITLESS_WARNING = /^Warning: disabling flag --expose_wasm due to conflicting flags\n/

test('torture: 3 processes (WebAssembly, Atomics, --jitless) mixing every acquire form with timeouts, aborts and cancel never overlap', () =>
  withCleanup(async (cleanup) => {
    const { g, name } = guarded(cleanup, 16)
    const fixture = path.join(__dirname, 'fixtures', 'mutex-torture.js')
    const runs = await Promise.all(LOCK_PATHS.map((how) => runScript(fixture, [name, 1500], 60000, how)))
    let total = 0
    for (const { code, stdout, stderr } of runs) {
      assert.is(stderr.replace(JITLESS_WARNING, ''), '')
      assert.is(code, 0)
      const holds = Number(/^holds (\d+)\n$/.exec(stdout)[1])
      assert.ok(holds > 0)
      total += holds
    }
    assert.is(
      g.withLockSync((buf) => Number(buf.readBigUInt64LE(0))),
      total,
    )
    assert.is(g.mutex.isLocked(), false)
  }))

test('a live owner is never robbed: a child holds for 3 s while we wait with timeouts', () =>
  withCleanup(async (cleanup) => {
    const { g, name } = guarded(cleanup)
    let child
    const done = runChild('mutex-holder.js', ['posix', name, 'hold', 3000], {
      onSpawn: (c) => (child = c),
      timeout: 30000,
    })
    cleanup(() => child.kill('SIGKILL'))
    await nextMessage(child, (m) => m === 'held')
    const t0 = performance.now()
    assert.is(g.mutex.acquireSync(800), false)
    assert.ok(performance.now() - t0 >= 790)
    try {
      await g.lock({ timeout: 800 })
      assert.unreachable('took a lock a live process holds')
    } catch (err) {
      assert.is(err.code, 'ETIMEDOUT')
    }
    const release = await g.lock({ timeout: 20000 })
    assert.ok(performance.now() - t0 >= 2000, 'the lock came only once the child let go')
    assert.is(g.mutex.ownerDied, false)
    release()
    const { code, signal, messages } = await done
    assert.is(signal, null)
    assert.is(code, 0)
    assert.equal(messages, ['held', 'released'])
  }))

test('signals interrupting a blocked acquireSync resume it with the time left (CLOCK_MONOTONIC)', () =>
  withCleanup(async (cleanup) => {
    const name = uniqueName('eintr')
    const m = new Mutex(name)
    cleanup(() => m.close())
    cleanup(() => m.unlink())
    assert.is(m.tryAcquire(), true)
    let child
    let timer
    const done = runChild('mutex-holder.js', ['posix', name, 'sync-wait', 600], { onSpawn: (c) => (child = c) })
    cleanup(() => clearInterval(timer))
    await nextMessage(child, (msg) => msg === 'waiting')
    timer = setInterval(() => child.signalCode === null && child.exitCode === null && child.kill('SIGUSR2'), 10)
    const result = await nextMessage(child, (msg) => typeof msg === 'object')
    clearInterval(timer)
    assert.is(result.got, false)
    assert.ok(result.elapsed >= 595, `gave up after ${result.elapsed.toFixed(0)} ms`)
    assert.ok(result.elapsed < 3000, `gave up after ${result.elapsed.toFixed(0)} ms`)
    const { code } = await done
    assert.is(code, 0)
    m.release()
  }))

/** The pid of a process that has exited and been reaped. */
function deadPid() {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
  return Number(child.stdout)
}

function startTime(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) >>> 0
}

test("liveness rules on forged lock words: dead, reused, unwritten; another namespace's owner by its token only", () =>
  withCleanup(async (cleanup) => {
    const name = uniqueName('forged')
    const m = new Mutex(name)
    cleanup(() => m.close())
    cleanup(() => m.unlink())
    const header = IPCBuffer.posix(name)
    cleanup(() => header.close())
    const word = new Uint32Array(header.buffer, header.byteOffset, OWNER_NS + 1)
    // Our own tag (this pid namespace, with a token), and how our namespace mixes into
    // start stamps (native/mutex/lock_word.h, StartStamp: start time ^ f(namespace)).
    assert.is(m.tryAcquire(), true)
    const here = word[OWNER_NS]
    const mix = (word[1] ^ startTime(process.pid)) >>> 0
    m.release()
    const stamp = (start) => (start ^ mix) >>> 0
    assert.is(here & HAS_TOKEN, HAS_TOKEN)
    const elsewhere = (here ^ 0x5a5a0000) & ~HAS_TOKEN // another namespace's
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' })
    cleanup(() => sleeper.kill('SIGKILL'))
    await new Promise((resolve) => sleeper.once('spawn', resolve))
    const live = sleeper.pid
    const dead = deadPid()
    const forge = (w, s, tag = here) => {
      word[0] = w
      word[OWNER_NS] = tag
      word[1] = s
    }
    // Gone: taken over.
    forge(dead, 12345)
    assert.is(m.acquireSync(3000), true)
    assert.is(m.ownerDied, true)
    m.release()
    // Alive, but started at another time: its pid was reused, the owner is gone.
    forge(live, stamp(startTime(live) + 1))
    assert.is(m.acquireSync(3000), true)
    assert.is(m.ownerDied, true)
    m.release()
    forge(live, stamp(startTime(live) + 7))
    const release = await m.acquire({ timeout: 3000 })
    assert.is(m.ownerDied, true)
    release()
    // Alive with the recorded start time, or start not yet written: kept.
    forge(live, stamp(startTime(live)))
    assert.is(m.acquireSync(300), false)
    // Marked abandoned by its ending thread: taken over however alive /proc says it is.
    forge(live | ABANDONED, stamp(startTime(live)))
    const t0 = performance.now()
    assert.is(m.acquireSync(3000), true)
    assert.is(m.ownerDied, true)
    assert.ok(performance.now() - t0 < 150, `taken over after ${(performance.now() - t0).toFixed(0)} ms`)
    m.release()
    forge(live, 0)
    assert.is(m.acquireSync(300), false)
    // Taken and never stamped (its owner died between the two stores): held dead after 2 s.
    forge(live, 0)
    const t1 = performance.now()
    assert.is(m.acquireSync(8000), true)
    assert.is(m.ownerDied, true)
    assert.ok(performance.now() - t1 >= 1900, `taken over after ${(performance.now() - t1).toFixed(0)} ms`)
    m.release()
    // Owner in another pid namespace without a token: never judged, even if its pid means nothing here.
    forge(dead, 12345, elsewhere)
    assert.is(m.acquireSync(300), false)
    assert.is(word[0] & OWNER_MASK, dead) // untouched (a waiter only adds the WAITERS bit)
    // An owner whose namespace is unknown is not judged from /proc either.
    forge(dead | FOREIGN, 12345, here & ~HAS_TOKEN)
    assert.is(m.acquireSync(300), false)
    // Owner in another namespace that had a token: no process holds it any more, so it is gone.
    forge(live, stamp(startTime(live)), elsewhere | HAS_TOKEN)
    assert.is(m.acquireSync(3000), true)
    assert.is(m.ownerDied, true)
    assert.is(word[OWNER_NS], here) // the new owner's tag
    m.release()
    forge(0, 0)
    assert.is(m.tryAcquire(), true)
    m.release()
  }))

const noPidNamespace = cannotRun('unshare', ['--pid', '--fork', '--mount-proc', 'true'])
const HOLDER = path.join(__dirname, 'fixtures', 'mutex-holder.js')

/** This process's tag in a lock word (its pid namespace, with a token). */
function ourTag() {
  const name = uniqueName('tag')
  const m = new Mutex(name)
  try {
    m.acquireSync()
    const header = IPCBuffer.posix(name)
    const tag = new Uint32Array(header.buffer, header.byteOffset, OWNER_NS + 1)[OWNER_NS]
    header.close()
    return tag
  } finally {
    m.close()
    m.unlink()
  }
}

/**
 * Runs test/fixtures/mutex-holder.js in a new pid namespace (a container, as
 * far as pids go): sh is its pid 1, node its pid 2. Resolves with its stdout
 * once it has exited.
 */
function inPidNamespace(cleanup, args) {
  const child = spawn(
    'unshare',
    ['--pid', '--fork', '--mount-proc', '/bin/sh', '-c', `"${process.execPath}" "${HOLDER}" ${args.join(' ')}; true`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  cleanup(() => child.kill('SIGKILL'))
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', () => resolve(out))
  })
}

for (const kind of ['file', 'posix']) {
  skipIf(noPidNamespace, test)(
    `pid namespaces (${kind}): a holder that dies in one is taken over with ownerDied from a third, and from the first`,
    () =>
      withCleanup(async (cleanup) => {
        const name = kind === 'file' ? uniquePath('ns-lock') : uniqueName('ns-lock')
        // The first opener, in this namespace.
        const m = new Mutex(name, { kind })
        cleanup(() => m.close())
        cleanup(() => m.unlink())
        for (let round = 0; round < 2; round++) {
          // A second container takes the lock and dies holding it.
          assert.match(await inPidNamespace(cleanup, [kind, name, 'die-holding']), /held/)
          assert.is(m.isLocked(), true)
          if (round === 0) {
            // A third container takes it over.
            const out = await inPidNamespace(cleanup, [kind, name, 'print-acquire', 10000])
            assert.equal(JSON.parse(out), { got: true, ownerDied: true })
          } else {
            // And so does the first.
            const t0 = performance.now()
            assert.is(m.acquireSync(10000), true)
            assert.is(m.ownerDied, true)
            assert.ok(performance.now() - t0 < 2000, `took over in ${(performance.now() - t0).toFixed(0)} ms`)
            m.release()
          }
          assert.is(m.isLocked(), false)
        }
      }),
  )
}

for (const { label, env } of [
  { label: 'futex_waitv', env: {} },
  { label: 'engine fallback', env: { IPC_KIT_FUTEX_WAITV: '0' } },
  { label: 'no pidfds', env: { IPC_KIT_PIDFD: '0' } },
]) {
  skipIf(noPidNamespace, test)(
    `pid namespaces (${label}): 20 idle acquire()s on locks a holder in another namespace holds wake no thread, and its death is told at once (its token is watched)`,
    () =>
      withCleanup(async (cleanup) => {
        const r = await livenessRun(cleanup, 'ns-death', [20, 3000], env)
        // Checking its token every 200 ms woke the engine's thread ~15 times in 3 s
        // here (its threads, one per lock without futex_waitv, ~300).
        assert.ok(r.wakeups < 2, `${r.wakeups} wake-ups of the addon's threads in 3 s`)
        assert.is(r.ownerDied, 20)
        const most = Math.max(...r.ms)
        assert.ok(most < 1000, `taken over ${most.toFixed(0)} ms after the kill`)
      }),
  )
}

skipIf(noPidNamespace, test)('pid namespaces: an owner in another namespace is never judged from here', () =>
  withCleanup(async (cleanup) => {
    const { g, name } = guarded(cleanup)
    // sh is pid 1 in the new namespace and node pid 2: here, pid 2 is kthreadd, alive
    // and started at another time, so a naive check would call the owner's pid reused.
    const fixture = path.join(__dirname, 'fixtures', 'mutex-holder.js')
    const child = spawn(
      'unshare',
      [
        '--pid',
        '--fork',
        '--mount-proc',
        '/bin/sh',
        '-c',
        `"${process.execPath}" "${fixture}" posix ${name} print-hold 2500; true`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    cleanup(() => child.kill('SIGKILL'))
    let out = ''
    await new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => (out += d) && out.includes('held') && resolve())
      child.once('exit', () => reject(new Error(`the holder exited: ${out}`)))
    })
    const header = IPCBuffer.posix(name)
    cleanup(() => header.close())
    const word = new Uint32Array(header.buffer, header.byteOffset, OWNER_NS + 1)
    assert.is(word[0] & OWNER_MASK, 2, 'the holder is pid 2 in its namespace')
    assert.is(word[OWNER_NS] & HAS_TOKEN, HAS_TOKEN, 'the holder has a token')
    assert.is.not(word[OWNER_NS], ourTag(), 'the holder is in another namespace')
    assert.is(g.mutex.acquireSync(1000), false)
    const release = await g.lock({ timeout: 20000 }) // once the holder lets go
    assert.is(g.mutex.ownerDied, false)
    release()
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)))
  }),
)

const noKillChild = noPidNamespace || cannotRun('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', 'true'])
skipIf(noKillChild, test)(
  'torture: holders in 3 pid namespaces, SIGKILLed (mostly inside the lock) and replaced by new namespaces, never overlap; every dead holder is taken over',
  () =>
    withCleanup(async (cleanup) => {
      const name = uniquePath('ns-torture')
      const g = GuardedBuffer.open(name, { kind: 'file', size: 24 })
      cleanup(() => g.close())
      cleanup(() => g.unlink())
      const data = g.buffer
      const KILLS = 8
      const byId = new Map() // a holder's ID (bytes 8..11 while it holds) -> its unshare process
      const results = []
      const alive = () => [...byId.values()].filter((c) => c.exitCode === null && c.signalCode === null)
      // Each in its own pid namespace; killing unshare (--kill-child) kills the namespace.
      const start = () => {
        const child = spawn(
          'unshare',
          [
            '--pid',
            '--fork',
            '--mount-proc',
            '--kill-child',
            '/bin/sh',
            '-c',
            `"${process.execPath}" "${HOLDER}" file ${name} torture; exit $?`,
          ],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        )
        cleanup(() => child.kill('SIGKILL'))
        let out = ''
        const started = new Promise((resolve) => {
          child.stdout.on('data', (d) => {
            out += d
            const id = /^id (\d+)\n/.exec(out)
            if (id && !byId.has(Number(id[1]))) {
              byId.set(Number(id[1]), child)
              resolve()
            }
          })
          child.once('exit', resolve)
        })
        results.push(new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, out }))))
        return started
      }
      await Promise.all([start(), start(), start()])
      let kills = 0
      while (kills < KILLS) {
        // The holder of the moment (the ID in bytes 8..11), or every third time (or when
        // none shows up soon) any of them.
        let victim
        for (let turn = 0; victim === undefined && turn < 2000 && kills % 3 !== 2; turn++) {
          victim = alive().find((c) => c === byId.get(data.readUInt32LE(8)))
          if (victim === undefined) await new Promise((resolve) => setImmediate(resolve))
        }
        victim ??= alive()[Math.floor(Math.random() * alive().length)]
        victim.kill('SIGKILL')
        kills++
        await start() // a new namespace in its place, once it runs
      }
      data[16] = 1 // the survivors stop
      const ends = await Promise.all(results)
      assert.is(ends.filter((e) => e.signal === 'SIGKILL').length, kills)
      let holds = 0
      for (const { code, signal, out } of ends) {
        if (signal === 'SIGKILL') continue
        assert.is(code, 0, code === 1 ? 'two holders at once' : code === 2 ? 'a lock never came in 5 s' : out)
        holds += JSON.parse(out.slice(out.indexOf('{'))).holds
      }
      assert.is(kills, KILLS)
      assert.ok(holds > 0)
      // A holder killed last, inside, leaves a lock this namespace takes over too.
      assert.is(g.mutex.acquireSync(5000), true)
      if (g.mutex.ownerDied) data.writeUInt32LE(data.readUInt32LE(12) + 1, 12)
      const takeovers = data.readUInt32LE(12)
      g.mutex.release()
      assert.ok(takeovers >= 1, 'no kill landed inside the lock')
      assert.ok(Number(data.readBigUInt64LE(0)) >= holds)
      console.log(`    (${kills} kills, ${takeovers} taken over from a dead holder, ${holds} holds by the survivors)`)
    }),
)

/** Runs test/fixtures/mutex-liveness.js MODE with `args` (and `env`); resolves with its report. */
const livenessRun = (cleanup, mode, args, env) => runReport('mutex-liveness.js', cleanup, mode, args, env)

// How a waiter learns that the owner died: the owner watcher's pidfds
// (native/mutex/owner_watch.h), with the engine's fallback, and as on kernels
// before 6.9 (a process's pidfd only: its other threads mark their locks as they end).
const OWNER_WATCH = require('../dist/native').mutex.OWNER_WATCH
const WATCHES = [
  { label: 'pidfds', env: {}, needs: ['threads'] },
  { label: 'pidfds, engine fallback (IPC_KIT_FUTEX_WAITV=0)', env: { IPC_KIT_FUTEX_WAITV: '0' }, needs: ['threads'] },
  {
    label: 'process pidfds only (IPC_KIT_PIDFD=process)',
    env: { IPC_KIT_PIDFD: 'process' },
    needs: ['threads', 'processes'],
  },
  {
    label: 'process pidfds only, engine fallback',
    env: { IPC_KIT_PIDFD: 'process', IPC_KIT_FUTEX_WAITV: '0' },
    needs: ['threads', 'processes'],
  },
]
for (const { label, env, needs } of WATCHES) {
  const run = skipIf(!needs.includes(OWNER_WATCH) && `the kernel watches ${OWNER_WATCH} here`, test)

  run(
    `owner death (${label}): 10 pending acquire()s whose holder process is SIGKILLed resolve with ownerDied at once`,
    () =>
      withCleanup(async (cleanup) => {
        const r = await livenessRun(cleanup, 'death', [10], env)
        assert.is(r.ownerDied, 10)
        // A few ms here (a check every 200 ms took up to 400); a shared machine gets a margin.
        const most = Math.max(...r.ms)
        assert.ok(most < 1000, `taken over ${most.toFixed(0)} ms after the kill`)
      }),
  )

  run(
    `owner death (${label}): 100 idle acquire()s on locks a worker thread of another process holds wake no thread, and when it ends all resolve with ownerDied at once`,
    () =>
      withCleanup(async (cleanup) => {
        const r = await livenessRun(cleanup, 'thread-death', [100, 3000], env)
        // Checking every 200 ms woke the engine's thread 8-16 times in 3 s here (its
        // threads, one per lock without futex_waitv, ~1,000).
        assert.ok(r.wakeups < 2, `${r.wakeups} wake-ups of the addon's threads in 3 s`)
        assert.is(r.ownerDied, 100)
        const most = Math.max(...r.ms)
        // The ending thread marks its locks (a check every 200 ms took ~200 ms).
        assert.ok(most < 1000, `taken over ${most.toFixed(0)} ms after the thread ended`)
      }),
  )

  run(`owner liveness (${label}): 1,000 idle acquire()s on locks a live process holds cost < 1% of a core`, () =>
    withCleanup(async (cleanup) => {
      const r = await livenessRun(cleanup, 'idle', [1000, 3000], env)
      assert.is(r.pending, 1000, 'no lock was taken from its live owner')
      // Reading /proc every 200 ms for each cost ~5% of a core here.
      assert.ok(r.cpuPercent < 1, `1,000 idle acquires took ${r.cpuPercent.toFixed(2)}% of a core`)
    }),
  )
}

test("a lock taken over from a dead holder for an acquire closed before it got the result is given back as a dead holder's: the next holder (another process) sees ownerDied", () =>
  withCleanup(async (cleanup) => {
    const r = await livenessRun(cleanup, 'undo-died', [])
    assert.is(r.taken, true, 'the engine never took the lock over')
    assert.is(r.settled, 'ERR_IPC_CLOSED')
    // Released cleanly instead, the next holder saw ownerDied false.
    assert.equal(r.next, { got: true, ownerDied: true })
  }))

for (const { label, env } of [
  { label: 'futex_waitv', env: {} },
  { label: 'engine fallback', env: { IPC_KIT_FUTEX_WAITV: '0' } },
]) {
  test(`owner never stamped (${label}): 20 idle acquire()s wake no thread until the 2 s pass, then resolve with ownerDied`, () =>
    withCleanup(async (cleanup) => {
      const r = await livenessRun(cleanup, 'unstamped', [20, 1500], env)
      // Looking every 200 ms woke the engine's thread 4-5 times in 1.5 s here (its
      // threads, one per lock without futex_waitv, 60-90).
      assert.ok(r.wakeups < 2, `${r.wakeups} wake-ups of the addon's threads in 1.5 s`)
      assert.is(r.ownerDied, 20)
      const least = Math.min(...r.ms)
      const most = Math.max(...r.ms)
      assert.ok(least >= 1900, `taken over ${least.toFixed(0)} ms after the acquire`)
      assert.ok(most < 3500, `taken over ${most.toFixed(0)} ms after the acquire`)
    }))
}

test('owner death without pidfds (IPC_KIT_PIDFD=0): a worker thread holder that ends marks its locks: taken over at once', () =>
  withCleanup(async (cleanup) => {
    const r = await livenessRun(cleanup, 'thread-death', [10], { IPC_KIT_PIDFD: '0' })
    assert.is(r.ownerDied, 10)
    const most = Math.max(...r.ms)
    assert.ok(most < 1000, `taken over ${most.toFixed(0)} ms after the thread ended`)
  }))

test('owner death without pidfds (IPC_KIT_PIDFD=0): the periodic check still takes over from a SIGKILLed holder', () =>
  withCleanup(async (cleanup) => {
    const r = await livenessRun(cleanup, 'death', [10], { IPC_KIT_PIDFD: '0' })
    assert.is(r.ownerDied, 10)
    const most = Math.max(...r.ms)
    assert.ok(most < 3000, `taken over ${most.toFixed(0)} ms after the kill`)
  }))

// Under qemu-user (npm run test:arm64) strace would count the emulator's own
// calls; qemu's QEMU_STRACE logs the emulated program's, one line per call.
const qemu = /qemu/.test(path.basename(NODE[0]))
const noStrace = !qemu && cannotRun('strace', ['-f', '-c', '-o', '/dev/null', 'true'])
skipIf(noStrace, test)('an uncontended acquireSync() + release() makes no system call (strace -c -f)', async () => {
  const name = uniqueName('strace')
  const m = new Mutex(name)
  const fixture = path.join(__dirname, 'fixtures', 'mutex-holder.js')
  try {
    const count = (pairs) => {
      if (qemu) {
        const r = spawnSync(NODE[0], [...NODE.slice(1), fixture, 'posix', name, 'pairs', String(pairs)], {
          env: { ...process.env, QEMU_STRACE: '1' },
          encoding: 'utf8',
          maxBuffer: 1 << 26,
          timeout: 300000,
        })
        assert.is(r.status, 0, r.stderr.slice(-2000))
        return r.stderr.split('\n').filter((l) => /^\d+ \w+\(/.test(l)).length
      }
      const out = path.join(os.tmpdir(), `${uniqueName('strace')}.txt`)
      try {
        const r = spawnSync(
          'strace',
          ['-f', '-c', '-o', out, process.execPath, fixture, 'posix', name, 'pairs', String(pairs)],
          { timeout: 60000 },
        )
        assert.is(r.status, 0, String(r.stderr))
        const total = fs
          .readFileSync(out, 'utf8')
          .split('\n')
          .find((l) => /\btotal$/.test(l.trim()))
        return Number(total.trim().split(/\s+/)[3])
      } finally {
        fs.rmSync(out, { force: true })
      }
    }
    const few = count(10)
    const many = count(1000000)
    // One call per pair would add a million; JIT and GC housekeeping add a few.
    assert.ok(many - few < 2000, `${few} system calls for 10 pairs, ${many} for 1,000,000`)
  } finally {
    m.unlink()
    m.close()
  }
})

test.run()
