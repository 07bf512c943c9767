'use strict'
// The WebAssembly fast paths of Mutex and Semaphore (lib/fast-path/) and
// the paths without them (IPC_KIT_WASM=0, node --jitless) work on the same
// memory: processes on different paths take each other's units and wake each
// other (that they exclude each other is the Mutex torture test's job, in
// mutex-processes.test.js). Slots are reused and given back.
const fs = require('node:fs')
const path = require('node:path')
const { test } = require('uvu')
const assert = require('uvu/assert')
const { Mutex, Semaphore, IPCBuffer } = require('..')
const { uniqueName, uniquePath, withCleanup, runChild, runScript, nextMessage } = require('./helpers')

const FIXTURES = path.join(__dirname, 'fixtures')
// The fast path runs wherever WebAssembly does (arm64 under qemu-user included), unless turned off.
const FAST = process.env.IPC_KIT_WASM !== '0' && !process.execArgv.includes('--jitless')
const ALIASES = FAST ? 2 : 1 // mappings of a lock page or a semaphore
const PATHS = {
  wasm: {},
  atomics: { env: { IPC_KIT_WASM: '0' } },
  jitless: { execArgv: ['--jitless'] },
}

/** How many mappings of `name` (a /dev/shm object, or a path) this process has. */
function mappingsOf(name) {
  const file = name.startsWith('/') ? name : `/dev/shm/${name}`
  return fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.endsWith(file)).length
}

/** The same by inode: glibc's mapping of a semaphore it created names the temporary file it made it in. */
function mappingsOfInode(file) {
  const { ino } = fs.statSync(file)
  return fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.split(/\s+/)[4] === String(ino)).length
}

test('a Mutex maps its lock page a second time, into WebAssembly memory, and close() drops both', () =>
  withCleanup(async (cleanup) => {
    const name = uniqueName('alias')
    const m = new Mutex(name)
    cleanup(() => m.close())
    cleanup(() => m.unlink())
    assert.is(mappingsOf(name), ALIASES)
    assert.is(m.acquireSync(), true)
    assert.is(m.isLocked(), true)
    m.release()
    m.close()
    assert.is(mappingsOf(name), 0)
  }))

test(`the fast path is ${FAST ? 'in use' : 'off'} on ${process.arch}: a Semaphore's page and a file-backed Mutex's are mapped ${ALIASES === 2 ? 'twice' : 'once'}`, () =>
  withCleanup(async (cleanup) => {
    const name = uniqueName('inuse')
    const sem = Semaphore.posix(name, { initial: 1 })
    cleanup(() => sem.close())
    cleanup(() => sem.unlink())
    assert.is(mappingsOfInode(`/dev/shm/sem.${name}`), ALIASES)
    assert.is(sem.tryWait(), true)
    assert.is(sem.tryWait(), false)
    sem.post(2)
    assert.is(sem.value, 2)
    const file = uniquePath('inuse')
    const m = new Mutex(file, { kind: 'file' })
    cleanup(() => m.close())
    cleanup(() => m.unlink())
    assert.is(mappingsOf(file), ALIASES)
    assert.is(m.tryAcquire(), true)
    assert.is(fs.readFileSync(file).readInt32LE(0) !== 0, true) // the word taken is the file's (a pooled Buffer: not .buffer)
    m.release()
    sem.close()
    m.close()
    assert.is(mappingsOfInode(`/dev/shm/sem.${name}`), 0)
    assert.is(mappingsOf(file), 0)
  }))

/** Resolves once a waiter sleeps in the kernel on POSIX semaphore `name` (glibc keeps the count of sleepers after the value). */
async function sleeperOn(name) {
  const sem = IPCBuffer.file(`/dev/shm/sem.${name.slice(1)}`, { create: false })
  try {
    const deadline = performance.now() + 10000
    while (sem.readUInt32LE(4) === 0) {
      if (performance.now() > deadline) throw new Error('no waiter went to sleep')
      await new Promise((resolve) => setImmediate(resolve))
    }
  } finally {
    sem.close()
  }
}

for (const [waiterPath, posterPath] of [
  ['atomics', 'wasm'],
  ['wasm', 'atomics'],
  ['jitless', 'wasm'],
  ['wasm', 'jitless'],
]) {
  for (const mode of ['sync', 'async']) {
    test(`a ${waiterPath} child sleeping in ${mode === 'sync' ? 'waitSync' : 'wait()'} is woken by a ${posterPath} post`, () =>
      withCleanup(async (cleanup) => {
        const name = '/' + uniqueName('wake')
        const sem = Semaphore.posix(name, { initial: 0 })
        cleanup(() => sem.close())
        cleanup(() => sem.unlink())
        let waiter
        const waited = runChild('semaphore-child.js', ['wait', 'posix', name, mode], {
          onSpawn: (c) => (waiter = c),
          ...PATHS[waiterPath],
        })
        cleanup(() => waiter.kill('SIGKILL'))
        await nextMessage(waiter, (m) => m.ready)
        await sleeperOn(name)
        if (posterPath === 'wasm') {
          sem.post()
        } else {
          const posted = await runChild('semaphore-child.js', ['post', 'posix', name, 1], PATHS[posterPath])
          assert.equal(posted.messages, [{ posted: true }])
        }
        const { code, messages } = await waited
        assert.equal(messages, [{ ready: true }, { waited: true }])
        assert.is(code, 0)
        assert.is(sem.value, 0)
      }))
  }
}

test('units posted on one path are taken on the other, exactly', () =>
  withCleanup(async (cleanup) => {
    const name = '/' + uniqueName('units')
    const sem = Semaphore.posix(name, { initial: 0 })
    cleanup(() => sem.close())
    cleanup(() => sem.unlink())
    const posted = await runChild('semaphore-child.js', ['post', 'posix', name, 5], PATHS.atomics)
    assert.equal(posted.messages, [{ posted: true }])
    let taken = 0
    while (sem.tryWait()) taken++
    assert.is(taken, 5)
    sem.post(3)
    const waited = await runChild('semaphore-child.js', ['wait', 'posix', name, 'sync'], PATHS.jitless)
    assert.equal(waited.messages, [{ ready: true }, { waited: true }])
    assert.is(sem.value, 2)
  }))

test('slots are reused: 3,000 Mutexes opened and closed in turn, 1,500 open at once', () =>
  withCleanup(async (cleanup) => {
    const name = uniqueName('many')
    const open = [new Mutex(name)]
    cleanup(() => open.forEach((m) => m.close()))
    cleanup(() => open[0].unlink())
    for (let i = 0; i < 3000; i++) {
      const m = new Mutex(name)
      assert.is(m.acquireSync(), true)
      m.release()
      m.close()
    }
    while (open.length < 1500) open.push(new Mutex(name))
    // Every object sees the lock the others take: more objects than one memory's slots.
    for (const m of [open[0], open[1023], open[1024], open[1499]]) {
      assert.is(m.tryAcquire(), true)
      for (const other of [open[0], open[1024], open[1499]]) assert.is(other.isLocked(), true)
      assert.is(open[700].tryAcquire(), false)
      m.release()
    }
    assert.is(mappingsOf(name), 1500 * ALIASES)
  }))

test('Mutexes and Semaphores collected without close() give their slots and mappings back', async () => {
  const prefix = uniqueName('gc')
  const { code, stdout, stderr } = await runScript(path.join(FIXTURES, 'fast-path-gc.js'), [prefix], 60000, {
    execArgv: ['--expose-gc'],
  })
  assert.is(stderr, '')
  assert.is(code, 0)
  const [, during, after] = /^during (\d+) after (\d+)\n$/.exec(stdout).map(Number)
  assert.is(during, 80 * ALIASES)
  assert.is(after, 0)
})

test.run()
