'use strict'
// IPCBuffer across real processes: sharing, closing, permissions, the GC, ESM.
const fs = require('node:fs')
const { join } = require('node:path')
const { spawn } = require('node:child_process')
const { suite } = require('uvu')
const assert = require('uvu/assert')
const { IPCBuffer } = require('..')
const { uniqueName, uniqueKey, uniquePath, withCleanup, runChild, nobody, notRoot, skipIf, NODE } = require('./helpers')

function idFor(kind) {
  return kind === 'sysv' ? uniqueKey() : kind === 'file' ? uniquePath(kind) : uniqueName(kind)
}

/** Runs test/fixtures/buffer-peer.js and returns its one report, asserting a clean exit. */
async function peer(args, options) {
  const { code, signal, messages, stderr } = await runChild('buffer-peer.js', args, options)
  assert.is(signal, null, `child died of ${signal}: ${stderr}`)
  assert.is(code, 0, `child exited ${code}: ${stderr}`)
  assert.is(messages.length, 1)
  return messages[0]
}

const shared = suite('IPCBuffer across processes')

for (const kind of ['posix', 'file', 'sysv']) {
  shared(`${kind}: bytes written here are read there, and back`, () =>
    withCleanup(async (cleanup) => {
      const id = idFor(kind)
      const buf = IPCBuffer[kind](id, { size: 4096 })
      cleanup(() => buf.close())
      cleanup(() => IPCBuffer.unlink(kind, id))
      buf.write('00112233deadbeef', 'hex')
      const seen = await peer(['read', kind, id, 8])
      assert.equal(seen, { length: 4096, hex: '00112233deadbeef' })
      const wrote = await peer(['write', kind, id, 'cafebabe'])
      assert.is(wrote.written, 4)
      assert.is(buf.toString('hex', 0, 8), 'cafebabedeadbeef')
    }),
  )

  shared(`${kind}: close() then every kind of access in a child: empty, no crash`, () =>
    withCleanup(async (cleanup) => {
      const id = idFor(kind)
      const buf = IPCBuffer[kind](id, { size: 4096 })
      cleanup(() => buf.close())
      cleanup(() => IPCBuffer.unlink(kind, id))
      const result = await peer(['closeThenAccess', kind, id])
      assert.equal(result.lengths, [0, 0, 0, 0, 0])
      assert.equal(result.read, [null, null, null]) // undefined, through JSON
      assert.is(result.atomics, 'TypeError')
      assert.is(result.dataView, 'TypeError')
      assert.is(result.str, '')
      assert.equal(result.methods, [
        ['fill', 'TypeError'],
        ['write', 0],
        ['copy', 0],
      ])
      assert.is(buf[0], 1) // the child's writes before close() arrived; none after
      assert.is(buf[4], 0)
    }),
  )
}

for (const kind of ['posix', 'file']) {
  shared(`${kind}: a readonly child sees our bytes, and its writes never reach us`, () =>
    withCleanup(async (cleanup) => {
      const id = idFor(kind)
      const buf = IPCBuffer[kind](id, { size: 4096 })
      cleanup(() => buf.close())
      cleanup(() => IPCBuffer.unlink(kind, id))
      buf[0] = 42
      const result = await peer(['readonlyWrite', kind, id, 9])
      assert.equal(result, { before: 42, after: 9, length: 4096 })
      assert.is(buf[0], 42)
      assert.ok(buf.subarray(1, 16).every((b) => b === 0))
    }),
  )
}

shared.run()

const permissions = suite('permissions')
const unprivileged = nobody()

for (const kind of ['posix', 'file', 'sysv']) {
  skipIf(notRoot, permissions)(`${kind}: an unprivileged child opening a 0600 object gets EACCES`, () =>
    withCleanup(async (cleanup) => {
      const id = idFor(kind)
      const buf = IPCBuffer[kind](id, { size: 64, mode: 0o600 })
      cleanup(() => buf.close())
      cleanup(() => IPCBuffer.unlink(kind, id))
      const denied = await peer(['open', kind, id], unprivileged)
      assert.is(denied.code, 'EACCES', JSON.stringify(denied))
      assert.is(denied.name, 'IPCError')
      assert.is(denied.syscall, kind === 'posix' ? 'shm_open' : kind === 'file' ? 'open' : 'shmget')
      // The same object with 0666 opens fine: the denial was the mode, not the fixture.
      const id2 = idFor(kind)
      const open = IPCBuffer[kind](id2, { size: 64, mode: 0o666 })
      cleanup(() => open.close())
      cleanup(() => IPCBuffer.unlink(kind, id2))
      assert.is((await peer(['open', kind, id2], unprivileged)).code, null)
    }),
  )
}

permissions.run()

const lifetime = suite('lifetime')

lifetime('unclosed buffers are unmapped by GC; close() then GC never unmaps twice', async () => {
  const prefix = uniqueName('gc')
  const { code, signal, messages, stderr } = await runChild('buffer-gc.js', [prefix], { execArgv: ['--expose-gc'] })
  assert.is(signal, null, stderr)
  assert.is(code, 0, stderr)
  const [r] = messages
  assert.is(r.before, 0)
  assert.is(r.during, 50, '50 mappings of the objects')
  assert.is(r.after, 0, 'mappings of the objects left after GC')
  assert.ok(r.survivorOk, 'a mapping made after close() was unmapped by the old finalizer')
})

lifetime('10,000 open/close cycles leave the fd count and /proc/self/maps unchanged', () => {
  const count = (dir) => fs.readdirSync(dir).length
  // Mappings of files, shm objects and System V segments: every line with a path.
  // (Anonymous lines come and go as V8's heap grows; ours are never anonymous.)
  const maps = () =>
    fs
      .readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .filter((line) => line.trim().split(/\s+/).length >= 6).length
  const name = uniqueName('cycle')
  const key = uniqueKey()
  const path = uniquePath('cycle')
  const warm = () => {
    IPCBuffer.posix(name, { size: 4096 }).close()
    IPCBuffer.sysv(key, { size: 4096 }).close()
    IPCBuffer.file(path, { size: 4096 }).close()
  }
  try {
    warm()
    const fdsBefore = count('/proc/self/fd')
    const mapsBefore = maps()
    for (let i = 0; i < 10000; i++) {
      const kind = ['posix', 'sysv', 'file'][i % 3]
      const buf =
        kind === 'posix'
          ? IPCBuffer.posix(name, { size: 4096 })
          : kind === 'sysv'
            ? IPCBuffer.sysv(key, { size: 4096 })
            : IPCBuffer.file(path, { size: 4096 })
      buf[i % 4096] = 1
      buf.close()
    }
    assert.is(count('/proc/self/fd'), fdsBefore)
    assert.is(maps(), mapsBefore)
  } finally {
    IPCBuffer.unlink('posix', name)
    IPCBuffer.unlink('sysv', key)
    IPCBuffer.unlink('file', path)
  }
})

lifetime.run()

const entry = suite('entry points')

entry(
  'ESM: import { IPCBuffer } from "ipc-kit"',
  () =>
    new Promise((resolve, reject) => {
      const [cmd, ...pre] = NODE
      const code =
        "import { IPCBuffer, IPCError } from 'ipc-kit'; import kit from 'ipc-kit'; " +
        'const b = IPCBuffer(4); console.log(`${b instanceof Buffer} ${typeof IPCError} ${kit.IPCBuffer === IPCBuffer}`)'
      const child = spawn(cmd, [...pre, '--input-type=module', '-e', code], { cwd: join(__dirname, '..') })
      let out = ''
      child.stdout.on('data', (d) => (out += d))
      child.stderr.on('data', (d) => (out += d))
      child.on('error', reject)
      child.on('close', (status) => {
        try {
          assert.is(status, 0, out)
          assert.is(out.trim(), 'true function true')
          resolve()
        } catch (err) {
          reject(err)
        }
      })
    }),
)

entry('types: dist/index.d.ts declares the public API', () => {
  const dts = fs.readFileSync(join(__dirname, '..', 'dist', 'index.d.ts'), 'utf8')
  assert.match(dts, /IPCBuffer/)
  assert.match(dts, /IPCError/)
  const bufferDts = fs.readFileSync(join(__dirname, '..', 'dist', 'ipc-buffer.d.ts'), 'utf8')
  assert.match(bufferDts, /posix\(name: string, options\?: OpenOptions\): IPCBuffer/)
})

entry.run()
