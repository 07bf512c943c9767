'use strict'
// Opening a POSIX or file object never waits on another program's lock, and
// never fails because another process is creating the object at that moment.
const fs = require('node:fs')
const { spawn } = require('node:child_process')
const { test } = require('uvu')
const assert = require('uvu/assert')
const { IPCBuffer } = require('..')
const { uniqueName, uniquePath, withCleanup, runChild, skipIf, cannotRun } = require('./helpers')

const withPython = skipIf(cannotRun('python3', ['-c', 'import fcntl']), test)

/** Another program holding flock(LOCK_SH) on `file` until killed; resolves once it holds it. */
function holdFlock(file, cleanup) {
  const code =
    'import fcntl, sys, time\nf = open(sys.argv[1])\nfcntl.flock(f, fcntl.LOCK_SH)\nprint("locked", flush=True)\ntime.sleep(60)'
  const holder = spawn('python3', ['-c', code, file], { stdio: ['ignore', 'pipe', 'inherit'] })
  cleanup(() => holder.kill('SIGKILL'))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the lock holder did not start')), 10000)
    holder.stdout.once('data', () => {
      clearTimeout(timer)
      resolve(holder)
    })
  })
}

for (const kind of ['posix', 'file']) {
  withPython(
    `${kind}: another program's flock never blocks an open that does not grow; one that must grow gives up after a bounded wait`,
    () =>
      withCleanup(async (cleanup) => {
        const id = kind === 'posix' ? uniqueName('flock') : uniquePath('flock')
        const buf = IPCBuffer[kind](id, { size: 4096 })
        cleanup(() => buf.close())
        cleanup(() => IPCBuffer.unlink(kind, id))
        const holder = await holdFlock(kind === 'posix' ? `/dev/shm/${id}` : id, cleanup)
        for (const options of [undefined, { size: 4096 }, { size: 100 }, { readonly: true }]) {
          const t0 = performance.now()
          const opened = IPCBuffer[kind](id, options)
          const took = performance.now() - t0
          opened.close()
          assert.ok(
            took < 500,
            `open(${JSON.stringify(options)}) took ${took.toFixed(0)} ms under another program's lock`,
          )
        }
        const t0 = performance.now()
        let err
        try {
          IPCBuffer[kind](id, { size: 8192 })
        } catch (e) {
          err = e
        }
        const took = performance.now() - t0
        assert.ok(err, "growing under another program's lock succeeded")
        assert.is(err.code, 'EAGAIN')
        assert.is(err.syscall, 'flock')
        assert.match(err.message, /another process has held a lock \(flock\) on the object for 2 s/)
        assert.ok(took >= 1900 && took < 6000, `gave up after ${took.toFixed(0)} ms`)
        assert.is(fs.statSync(kind === 'posix' ? `/dev/shm/${id}` : id).size, 4096)
        // Once the other program lets go, growing works.
        holder.kill('SIGKILL')
        await new Promise((resolve) => holder.once('exit', resolve))
        const grown = IPCBuffer[kind](id, { size: 8192 })
        cleanup(() => grown.close())
        assert.is(grown.length, 8192)
      }),
  )
}

test('3,000 opens without a size, each racing the creation of its object by another process: none fails', () =>
  withCleanup(async (cleanup) => {
    const prefix = uniqueName('race')
    const count = 3000
    cleanup(() => {
      for (let i = 0; i < count; i++) {
        try {
          IPCBuffer.unlink('posix', `${prefix}-${i}`)
        } catch {}
      }
    })
    let creator
    const created = runChild('create-many.js', [prefix, count], { timeout: 120000, onSpawn: (c) => (creator = c) })
    cleanup(() => creator.kill('SIGKILL'))
    // Each open starts before its object exists (ENOENT: again) and so meets it as it is made.
    const failures = []
    const deadline = performance.now() + 120000
    for (let i = 0; i < count && performance.now() < deadline; i++) {
      for (;;) {
        try {
          const buf = IPCBuffer.posix(`${prefix}-${i}`)
          if (buf.length !== 4096) failures.push(`length ${buf.length}`)
          buf.close()
          break
        } catch (err) {
          if (err.code === 'ENOENT' && performance.now() < deadline) continue
          failures.push(`${err.code}: ${err.message}`)
          break
        }
      }
    }
    const { code, signal, stderr } = await created
    assert.is(signal, null, stderr)
    assert.is(code, 0, stderr)
    assert.equal(failures, [], `${failures.length} of ${count} opens failed, e.g. ${failures[0]}`)
  }))

test.run()
