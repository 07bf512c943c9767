'use strict'
// The self-description in a header page: what an object says it is, and what
// opening it as something else does (EINVAL, nothing changed).
const { test } = require('uvu')
const assert = require('uvu/assert')
const fs = require('node:fs')
const path = require('node:path')
const { Channel, GuardedBuffer, IPCBuffer, IPCError, Mutex, SharedMap, inspect } = require('..')
const { uniqueName, uniqueKey, uniquePath, withCleanup, runNode, throwsCode } = require('./helpers')

const PACKAGE = path.join(__dirname, '..')

/** The object's bytes, read through a private copy-on-write mapping. */
function snapshot(kind, name) {
  if (kind === 'file') return fs.readFileSync(name)
  const buf =
    kind === 'sysv' ? IPCBuffer.sysv(name, { create: false }) : IPCBuffer.posix(name, { readonly: true, create: false })
  try {
    return Buffer.from(buf)
  } finally {
    buf.close()
  }
}

test('a data file holding two counters is not taken for a lock: EINVAL, not a byte or its size changed', () =>
  withCleanup((cleanup) => {
    const file = uniquePath('counters')
    const data = Buffer.alloc(16)
    data.writeUInt32LE(5, 0)
    fs.writeFileSync(file, data)
    cleanup(() => fs.unlinkSync(file))
    for (const open of [
      () => new Mutex(file, { kind: 'file' }),
      () => GuardedBuffer.open(file, { kind: 'file', size: 64 }),
      () => Channel.open(file, { kind: 'file' }),
    ]) {
      const err = throwsCode(open, IPCError, 'EINVAL')
      assert.match(err.message, /is not an ipc-kit (mutex|guarded buffer|channel): it was left unchanged/)
      assert.equal(fs.readFileSync(file), data)
    }
  }))

test('foreign POSIX and System V objects: EINVAL for every type, unchanged', () =>
  withCleanup((cleanup) => {
    const name = `/${uniqueName('desc')}`
    const key = uniqueKey()
    for (const [kind, id] of [
      ['posix', name],
      ['sysv', key],
    ]) {
      const buf = IPCBuffer[kind](id, { size: 3 * 4096 })
      cleanup(() => buf.close())
      cleanup(() => IPCBuffer.unlink(kind, id))
      buf.fill(0x5a, 100, 200) // a few bytes anywhere are enough to make it someone's data
      const before = snapshot(kind, id)
      throwsCode(() => new Mutex(id, { kind }), IPCError, 'EINVAL')
      throwsCode(() => GuardedBuffer.open(id, { kind, size: 100 }), IPCError, 'EINVAL')
      throwsCode(() => Channel.open(id, { kind }), IPCError, 'EINVAL')
      assert.equal(snapshot(kind, id), before)
    }
  }))

test('an object that says it is another type: EINVAL naming what it is, unchanged', () =>
  withCleanup(async (cleanup) => {
    const p = uniqueName('desc')
    // Made by another process.
    const made = await runNode(
      [
        '-e',
        `const k = require(${JSON.stringify(PACKAGE)}); k.Channel.open('/${p}-c', { capacity: 1024 }).close(); new k.Mutex('/${p}-m').close()`,
      ],
      { timeout: 20000 },
    )
    assert.is(made.code, 0, made.stderr)
    cleanup(() => IPCBuffer.unlink('posix', `/${p}-c`))
    cleanup(() => IPCBuffer.unlink('posix', `/${p}-m`))
    const channel = snapshot('posix', `/${p}-c`)
    const mutex = snapshot('posix', `/${p}-m`)
    assert.match(
      throwsCode(() => new Mutex(`/${p}-c`), IPCError, 'EINVAL').message,
      /the object is an ipc-kit channel, not a mutex/,
    )
    assert.match(
      throwsCode(() => GuardedBuffer.open(`/${p}-c`, { size: 10 }), IPCError, 'EINVAL').message,
      /is an ipc-kit channel, not a guarded buffer/,
    )
    assert.match(
      throwsCode(() => Channel.open(`/${p}-m`), IPCError, 'EINVAL').message,
      /is an ipc-kit mutex, not a channel/,
    )
    assert.match(
      throwsCode(() => SharedMap.open(`/${p}-m`, { size: 1 << 16 }), IPCError, 'EINVAL').message,
      /is an ipc-kit mutex, not a shared map/,
    )
    assert.match(
      throwsCode(() => SharedMap.open(`/${p}-c`, { create: false }), IPCError, 'EINVAL').message,
      /is an ipc-kit channel, not a shared map/,
    )
    assert.equal(snapshot('posix', `/${p}-c`), channel)
    assert.equal(snapshot('posix', `/${p}-m`), mutex)
  }))

test('the description: type, layout, creation time, creator; a Mutex opens a GuardedBuffer lock, a GuardedBuffer grows a Mutex page', () =>
  withCleanup(async (cleanup) => {
    const p = uniqueName('desc')
    const before = Date.now()
    // The pid printed as a string: Node 24 colours a logged number when FORCE_COLOR is set.
    const made = await runNode(
      [
        '-e',
        `const k = require(${JSON.stringify(PACKAGE)}); k.GuardedBuffer.open('/${p}-g', { size: 10 }).close(); console.log(String(process.pid))`,
      ],
      { timeout: 20000 },
    )
    assert.is(made.code, 0, made.stderr)
    cleanup(() => IPCBuffer.unlink('posix', `/${p}-g`))
    const d = inspect(`/${p}-g`)
    assert.equal(
      [d.type, d.ipcKit, d.layout, d.creator],
      ['guarded-buffer', true, 1, { pid: Number(/(\d+)\s*$/.exec(made.stdout)?.[1]), alive: false }],
    )
    assert.ok(Date.parse(d.created) >= before - 5 && Date.parse(d.created) <= Date.now())
    const m = new Mutex(`/${p}-g`)
    cleanup(() => m.close())
    assert.is(m.tryAcquire(), true)
    m.release()
    const lock = new Mutex(`/${p}-m`)
    cleanup(() => lock.close())
    cleanup(() => lock.unlink())
    assert.is(inspect(`/${p}-m`).type, 'mutex')
    const g = GuardedBuffer.open(`/${p}-m`, { size: 100 })
    cleanup(() => g.close())
    assert.is(g.buffer.length, 100)
    assert.is(inspect(`/${p}-m`).type, 'guarded-buffer')
  }))

test('an object that is entirely zero (or empty) becomes a lock, after a brief wait for its creator', () =>
  withCleanup((cleanup) => {
    const name = `/${uniqueName('desc')}`
    const blank = IPCBuffer.posix(name, { size: 4096 })
    cleanup(() => blank.close())
    cleanup(() => blank.unlink())
    const t0 = Date.now()
    const m = new Mutex(name)
    cleanup(() => m.close())
    assert.ok(Date.now() - t0 >= 200, 'waited for a creator first')
    assert.is(inspect(name).type, 'mutex')
    assert.is(inspect(name).creator.pid, process.pid)
    const file = uniquePath('empty')
    fs.writeFileSync(file, '')
    cleanup(() => fs.unlinkSync(file))
    const f = new Mutex(file, { kind: 'file' })
    cleanup(() => f.close())
    assert.is(fs.statSync(file).size, 4096)
    assert.is(inspect(file).type, 'mutex')
    // Too small to be one, though zero: left alone.
    const tiny = uniquePath('tiny')
    fs.writeFileSync(tiny, Buffer.alloc(16))
    cleanup(() => fs.unlinkSync(tiny))
    throwsCode(() => new Mutex(tiny, { kind: 'file' }), IPCError, 'EINVAL')
    assert.is(fs.statSync(tiny).size, 16)
  }))

test('openers racing the creation of one name all get the same lock, none an error', () =>
  withCleanup(async (cleanup) => {
    for (let round = 0; round < 3; round++) {
      const name = `/${uniqueName('desc')}`
      cleanup(() => IPCBuffer.unlink('posix', name))
      const code = `const k = require(${JSON.stringify(PACKAGE)}); const m = new k.Mutex('${name}'); m.acquireSync(); m.release(); m.close(); console.log('ok')`
      // Six Node starts at once: under emulation on 2 cores that takes a minute.
      const results = await Promise.all(Array.from({ length: 6 }, () => runNode(['-e', code], { timeout: 120000 })))
      for (const r of results) assert.equal([r.code, r.stdout.trim(), r.stderr], [0, 'ok', ''])
      assert.is(inspect(name).type, 'mutex')
    }
  }))

test.run()
