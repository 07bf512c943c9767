'use strict'
// Smoke test of an installed ipc-kit (run by scripts/pack-smoke.js from a
// project that installed the npm tarball): the addon loads from the package's
// prebuilds, and each capability works, across two processes where it can.
// Plain Node, no test framework (the project has nothing else installed).
// To cover a new capability, add an entry to CHECKS (and a verb to child.js).
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const kit = require('ipc-kit')
const pkgDir = path.dirname(require.resolve('ipc-kit/package.json'))
// The command that starts a child Node: this one, or e.g. qemu + an arm64 node.
const NODE = process.env.IPC_KIT_TEST_NODE ? process.env.IPC_KIT_TEST_NODE.split(' ') : [process.execPath]
const id = `ipckit-smoke-${process.pid}`
const key = 0x5e000000 | (process.pid & 0xffffff)

const CHECKS = [
  { name: 'memory IPCBuffer', needs: 'IPCBuffer', run: memoryBuffer },
  { name: 'posix IPCBuffer across two processes', needs: 'IPCBuffer', run: () => sharedBuffer('posix', `${id}-buf`) },
  {
    name: 'file IPCBuffer across two processes',
    needs: 'IPCBuffer',
    run: () => sharedBuffer('file', path.join(os.tmpdir(), `${id}-buf`)),
  },
  { name: 'sysv IPCBuffer across two processes', needs: 'IPCBuffer', run: () => sharedBuffer('sysv', key) },
  { name: 'posix Semaphore across two processes', needs: 'Semaphore', run: () => semaphore('posix', `${id}-sem`) },
  { name: 'sysv Semaphore across two processes', needs: 'Semaphore', run: () => semaphore('sysv', key + 1) },
  { name: 'Mutex across two processes', needs: 'Mutex', run: () => mutex(`${id}-mutex`) },
  { name: 'GuardedBuffer across two processes', needs: 'GuardedBuffer', run: () => guarded(`${id}-guarded`) },
]

// Where the addon must come from: the package's prebuilds (the default), or
// with IPC_KIT_SMOKE_FROM=build, its own source build (build/Release).
function loadedFromExpectedPlace() {
  const file = require('node-gyp-build').resolve(pkgDir)
  const fromBuild = process.env.IPC_KIT_SMOKE_FROM === 'build'
  const expected = fromBuild
    ? path.join(pkgDir, 'build', 'Release')
    : path.join(pkgDir, 'prebuilds', `${process.platform}-${process.arch}`)
  assert.ok(file.startsWith(expected + path.sep), `addon loaded from ${file}, not from ${expected}`)
  if (!fromBuild)
    assert.ok(!fs.existsSync(path.join(pkgDir, 'build')), 'the package has a build/ folder: it was compiled')
  return path.relative(pkgDir, file)
}

async function esmMatchesCommonJS() {
  const esm = await import('ipc-kit')
  for (const name of Object.keys(kit)) assert.equal(esm[name], kit[name], `ESM export ${name}`)
}

function memoryBuffer() {
  const buf = kit.IPCBuffer(16)
  assert.equal(buf.kind, 'memory')
  assert.ok(Buffer.isBuffer(buf))
  buf.write('smoke')
  assert.equal(buf.toString('utf8', 0, 5), 'smoke')
  buf.close()
  assert.equal(buf.length, 0)
}

// The parent creates and writes; the child opens, checks and writes back.
async function sharedBuffer(kind, name) {
  const buf = kit.IPCBuffer[kind](name, { size: 64, create: 'exclusive' })
  try {
    assert.equal(buf.kind, kind)
    buf.writeUInt32LE(0x12345678, 0)
    const reply = await child('buffer', kind, name)
    assert.deepEqual(reply, { seen: 0x12345678 })
    assert.equal(buf.readUInt32LE(4), 0x9abcdef0)
  } finally {
    buf.close()
    kit.IPCBuffer.unlink(kind, name)
  }
  assert.equal(kit.IPCBuffer.exists(kind, name), false)
}

// The child posts; the parent's wait (which must not block the event loop) takes it.
async function semaphore(kind, name) {
  const sem = kit.Semaphore[kind](name, { initial: 0, create: 'exclusive' })
  try {
    assert.equal(sem.tryWait(), false)
    const waited = sem.wait({ timeout: 30000 })
    assert.deepEqual(await child('semaphore', kind, name), { posted: true })
    await waited
    assert.equal(sem.tryWait(), false)
  } finally {
    sem.close()
    kit.Semaphore.unlink(kind, name)
  }
}

// The parent holds the lock: the child cannot take it, waits for it, and gets
// it when the parent releases.
async function mutex(name) {
  const m = new kit.Mutex(name)
  try {
    const release = await m.acquire({ timeout: 10000 })
    const proc = startChild('mutex', name)
    assert.deepEqual(await proc.next(), { tryAcquire: false })
    assert.deepEqual(await proc.next(), { waiting: true })
    release()
    assert.deepEqual(await proc.next(), { acquired: true })
    assert.deepEqual(await proc.done, { code: 0, signal: null })
    assert.equal(m.tryAcquire(), true)
    m.release()
  } finally {
    m.close()
    m.unlink()
  }
}

// Both processes increment a shared counter under the buffer's own lock.
async function guarded(name) {
  const g = kit.GuardedBuffer.open(name, { size: 8, create: 'exclusive' })
  try {
    assert.equal(g.buffer.length, 8)
    await g.withLock((buf) => buf.writeUInt32LE(buf.readUInt32LE(0) + 1, 0))
    assert.deepEqual(await child('guarded', name), { counter: 2 })
    assert.equal(
      g.withLockSync((buf) => buf.readUInt32LE(0)),
      2,
    )
  } finally {
    g.close()
    g.unlink()
  }
}

/** Starts test/smoke/child.js: messages arrive in order through next(). */
function startChild(verb, ...args) {
  const [cmd, ...pre] = NODE
  const proc = spawn(cmd, [...pre, path.join(__dirname, 'child.js'), verb, ...args.map(String)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const queue = []
  const waiting = []
  proc.on('message', (m) => (waiting.length ? waiting.shift()(m) : queue.push(m)))
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60000)
  const done = new Promise((resolve, reject) => {
    proc.on('error', reject)
    proc.on('exit', (code, signal) => {
      clearTimeout(timer)
      for (const w of waiting.splice(0)) w({ exited: code, signal })
      resolve({ code, signal })
    })
  })
  return { next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r))), done }
}

/** Runs a child to completion and returns its one message. */
async function child(verb, ...args) {
  const proc = startChild(verb, ...args)
  const message = await proc.next()
  assert.deepEqual(await proc.done, { code: 0, signal: null })
  return message
}

async function main() {
  const file = loadedFromExpectedPlace()
  console.log(`smoke: node ${process.version} ${process.arch}, ipc-kit from ${file}`)
  await esmMatchesCommonJS()
  let failed = 0
  for (const check of CHECKS) {
    if (typeof kit[check.needs] !== 'function') {
      failed++
      console.log(`FAIL ${check.name}: ipc-kit exports no ${check.needs}`)
      continue
    }
    try {
      await check.run()
      console.log(`ok ${check.name}`)
    } catch (err) {
      failed++
      console.log(`FAIL ${check.name}\n${err && err.stack}`)
    }
  }
  if (failed) process.exitCode = 1
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
