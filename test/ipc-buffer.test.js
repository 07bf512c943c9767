'use strict'
// IPCBuffer in one process: kinds, options, lifetime, the legacy call forms, bad input.
const fs = require('node:fs')
const { suite } = require('uvu')
const assert = require('uvu/assert')
const { EEXIST, EISDIR, ENOENT } = require('node:os').constants.errno
const { IPCBuffer, IPCError, Semaphore, Mutex, GuardedBuffer } = require('..')
const { uniqueName, uniqueKey, uniquePath, withCleanup, throwsCode } = require('./helpers')

/** Opens a fresh object of `kind` and registers its removal. */
function fresh(kind, cleanup, options = { size: 4096 }) {
  const id = kind === 'sysv' ? uniqueKey() : kind === 'file' ? uniquePath(kind) : uniqueName(kind)
  const buf = IPCBuffer[kind](id, options)
  cleanup(() => buf.close())
  cleanup(() => IPCBuffer.unlink(kind, id))
  return { id, buf }
}

function sysvPerms(key) {
  const line = fs
    .readFileSync('/proc/sysvipc/shm', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((cols) => Number(cols[0]) === key)
  return line && { perms: parseInt(line[2], 8), size: Number(line[3]) }
}

function objectStat(kind, id) {
  if (kind === 'posix') return fs.statSync('/dev/shm/' + id)
  if (kind === 'file') return fs.statSync(id)
  const info = sysvPerms(id)
  return { mode: info.perms, size: info.size }
}

// One contract for every shared kind.
for (const kind of ['posix', 'file', 'sysv']) {
  const t = suite(`IPCBuffer.${kind}`)

  t('is a Buffer of the requested size, zero-filled', () =>
    withCleanup((cleanup) => {
      const { id, buf } = fresh(kind, cleanup)
      assert.ok(buf instanceof Buffer)
      assert.ok(buf instanceof Uint8Array)
      assert.ok(buf instanceof IPCBuffer)
      assert.ok(Buffer.isBuffer(buf))
      assert.is(buf.kind, kind)
      assert.is(buf.name, kind === 'posix' ? '/' + id : id)
      assert.is(buf.length, 4096)
      assert.is(buf.byteLength, 4096)
      assert.ok(buf.every((b) => b === 0))
      assert.ok(IPCBuffer.exists(kind, id))
    }),
  )

  t('Buffer and Uint8Array methods work on shared memory', () =>
    withCleanup((cleanup) => {
      const { buf } = fresh(kind, cleanup)
      buf.writeUInt32LE(0xdeadbeef, 0)
      buf.writeDoubleBE(Math.PI, 8)
      buf.write('héllo', 16, 'utf8')
      assert.is(buf.readUInt32LE(0), 0xdeadbeef)
      assert.is(buf.readDoubleBE(8), Math.PI)
      assert.is(buf.toString('utf8', 16, 22), 'héllo')
      assert.is(buf.indexOf('llo'), 19)
      buf.fill(0xab, 100, 200)
      assert.is(
        buf.subarray(100, 200).every((b) => b === 0xab),
        true,
      )
      assert.is(buf.slice(0, 4).toString('hex'), 'efbeadde')
      assert.is(Buffer.compare(buf.subarray(100, 104), Buffer.from([0xab, 0xab, 0xab, 0xab])), 0)
      const copy = Buffer.concat([buf.subarray(0, 4)])
      assert.is(copy.toString('hex'), 'efbeadde')
      const words = new Int32Array(buf.buffer, buf.byteOffset, 4)
      assert.is(Atomics.add(words, 1, 5), 0)
      assert.is(Atomics.load(words, 1), 5)
      assert.is(JSON.stringify(buf.subarray(0, 2)), '{"type":"Buffer","data":[239,190]}')
    }),
  )

  t("create: 'exclusive' fails with EEXIST, false with ENOENT", () =>
    withCleanup((cleanup) => {
      const { id } = fresh(kind, cleanup)
      const exists = throwsCode(() => IPCBuffer[kind](id, { size: 4096, create: 'exclusive' }), IPCError, 'EEXIST')
      assert.is(exists.errno, -EEXIST)
      assert.ok(exists.syscall === 'shm_open' || exists.syscall === 'open' || exists.syscall === 'shmget')
      assert.ok(exists.message.startsWith('EEXIST: file already exists, '), exists.message)
      const missing = kind === 'sysv' ? uniqueKey() : kind === 'file' ? uniquePath('missing') : uniqueName('missing')
      const absent = throwsCode(() => IPCBuffer[kind](missing, { size: 64, create: false }), IPCError, 'ENOENT')
      assert.is(absent.errno, -ENOENT)
      if (kind === 'sysv') assert.is(absent.key, missing)
      else assert.is(absent.path, kind === 'posix' ? '/' + missing : missing)
      throwsCode(() => IPCBuffer[kind](missing), IPCError, 'ENOENT')
      assert.is(IPCBuffer.exists(kind, missing), false)
    }),
  )

  t('opening an existing object without size maps all of it and shares bytes', () =>
    withCleanup((cleanup) => {
      const { id, buf } = fresh(kind, cleanup)
      buf[4095] = 99
      const again = IPCBuffer[kind](id)
      cleanup(() => again.close())
      assert.is(again.length, 4096)
      assert.is(again[4095], 99)
      again[0] = 7
      assert.is(buf[0], 7)
    }),
  )

  t('created objects get exactly mode, whatever the umask', () =>
    withCleanup((cleanup) => {
      const old = process.umask(0o077)
      cleanup(() => process.umask(old))
      const { id } = fresh(kind, cleanup, { size: 64, mode: 0o664 })
      assert.is(objectStat(kind, id).mode & 0o777, 0o664)
      const { id: id2 } = fresh(kind, cleanup, { size: 64 })
      assert.is(objectStat(kind, id2).mode & 0o777, 0o600)
    }),
  )

  t('unlink() removes the name and the mapping stays usable', () =>
    withCleanup((cleanup) => {
      const id = kind === 'sysv' ? uniqueKey() : kind === 'file' ? uniquePath('u') : uniqueName('u')
      const buf = IPCBuffer[kind](id, { size: 128 })
      cleanup(() => buf.close())
      buf.unlink()
      assert.is(IPCBuffer.exists(kind, id), false)
      buf[5] = 5
      assert.is(buf[5], 5)
      throwsCode(() => IPCBuffer.unlink(kind, id), IPCError, 'ENOENT')
    }),
  )

  t('close() empties the buffer, aliases and views; idempotent; dispose closes', () =>
    withCleanup((cleanup) => {
      const { buf } = fresh(kind, cleanup)
      const alias = IPCBuffer(buf, 16, 8)
      const view = buf.subarray(10, 20)
      buf.close()
      buf.close()
      assert.is(buf.length, 0)
      assert.is(alias.length, 0)
      assert.is(view.length, 0)
      buf[0] = 1
      assert.is(buf[0], undefined)
      assert.is(buf.toString(), '')
      assert.is(buf.kind, kind)
      throwsCode(() => buf.flush(), Error, 'ERR_IPC_CLOSED')
      const { buf: other } = fresh(kind, cleanup)
      other[Symbol.dispose]()
      assert.is(other.length, 0)
    }),
  )

  t('flush() and flushAsync() succeed; flushAsync rejects once closed', () =>
    withCleanup(async (cleanup) => {
      const { buf } = fresh(kind, cleanup)
      buf.fill(3)
      buf.flush()
      await buf.flushAsync()
      const pending = buf.flushAsync() // closing while an msync runs must not unmap under it
      buf.close()
      await pending
      try {
        await buf.flushAsync()
        assert.unreachable('flushAsync after close resolved')
      } catch (err) {
        assert.is(err.code, 'ERR_IPC_CLOSED')
      }
    }),
  )

  t('a large mapping is reported to the GC as external memory', () =>
    withCleanup((cleanup) => {
      const before = process.memoryUsage().external
      const { buf } = fresh(kind, cleanup, { size: 64 << 20 })
      const during = process.memoryUsage().external
      buf.close()
      const after = process.memoryUsage().external
      // Other external memory may come and go meanwhile: allow 1 MiB of slack.
      assert.ok(during - before >= 63 << 20, `external grew by ${during - before}`)
      assert.ok(during - after >= 63 << 20, `external shrank by ${during - after}`)
    }),
  )

  t.run()
}

// Growth: POSIX and files grow, never shrink; System V segments have a fixed size.
const grow = suite('growing')

for (const kind of ['posix', 'file']) {
  grow(`${kind}: a larger size grows the object, zero-filled; a smaller one never shrinks it`, () =>
    withCleanup((cleanup) => {
      const { id, buf } = fresh(kind, cleanup, { size: 100 })
      buf.fill(1)
      const bigger = IPCBuffer[kind](id, { size: 10000 })
      cleanup(() => bigger.close())
      assert.is(bigger.length, 10000)
      assert.is(bigger[99], 1)
      assert.ok(bigger.subarray(100).every((b) => b === 0))
      assert.is(objectStat(kind, id).size, 10000)
      const smaller = IPCBuffer[kind](id, { size: 10 })
      cleanup(() => smaller.close())
      assert.is(smaller.length, 10)
      assert.is(objectStat(kind, id).size, 10000)
    }),
  )
}

grow('sysv: a larger size than the segment is EINVAL, and says why', () =>
  withCleanup((cleanup) => {
    const { id } = fresh('sysv', cleanup, { size: 100 })
    const err = throwsCode(() => IPCBuffer.sysv(id, { size: 100000 }), IPCError, 'EINVAL')
    assert.match(err.message, /cannot grow/)
    const smaller = IPCBuffer.sysv(id, { size: 10 })
    cleanup(() => smaller.close())
    assert.is(smaller.length, 10)
  }),
)

grow('an empty existing file without size is a clear EINVAL', () =>
  withCleanup((cleanup) => {
    const path = uniquePath('empty')
    fs.writeFileSync(path, '')
    cleanup(() => fs.unlinkSync(path))
    const err = throwsCode(() => IPCBuffer.file(path), IPCError, 'EINVAL')
    assert.match(err.message, /empty/)
  }),
)

grow.run()

const files = suite('file-backed')

files('holds the file’s existing bytes and writes reach the file after flush()', () =>
  withCleanup((cleanup) => {
    const path = uniquePath('existing')
    fs.writeFileSync(path, 'hello, file')
    cleanup(() => fs.unlinkSync(path))
    const buf = IPCBuffer.file(path)
    cleanup(() => buf.close())
    assert.is(buf.length, 11)
    assert.is(buf.toString(), 'hello, file')
    buf.write('HELLO')
    buf.flush()
    assert.is(fs.readFileSync(path, 'utf8'), 'HELLO, file')
  }),
)

files('a grown file is zero-filled on disk', () =>
  withCleanup(async (cleanup) => {
    const path = uniquePath('grown')
    fs.writeFileSync(path, 'abc')
    cleanup(() => fs.unlinkSync(path))
    const buf = IPCBuffer.file(path, { size: 8 })
    cleanup(() => buf.close())
    buf[7] = 0x7a
    await buf.flushAsync()
    assert.equal([...fs.readFileSync(path)], [0x61, 0x62, 0x63, 0, 0, 0, 0, 0x7a])
  }),
)

files.run()

const readonly = suite('readonly')

for (const kind of ['posix', 'file']) {
  readonly(`${kind}: sees others' writes, keeps its own private`, () =>
    withCleanup((cleanup) => {
      const { id, buf } = fresh(kind, cleanup, { size: 8192 })
      const ro = IPCBuffer[kind](id, { readonly: true })
      cleanup(() => ro.close())
      assert.is(ro.length, 8192)
      buf[0] = 11
      assert.is(ro[0], 11)
      ro[4096] = 5 // its own page now: private copy
      assert.is(ro[4096], 5)
      assert.is(buf[4096], 0)
      buf[4097] = 6 // written by the other side after ro copied that page: not seen
      assert.is(ro[4097], 0)
      buf[1] = 12 // a page ro never wrote: still shared
      assert.is(ro[1], 12)
    }),
  )

  readonly(`${kind}: never creates, and cannot grow`, () =>
    withCleanup((cleanup) => {
      const { id } = fresh(kind, cleanup, { size: 64 })
      throwsCode(() => IPCBuffer[kind](id, { readonly: true, create: true }), TypeError, 'ERR_INVALID_ARG_VALUE')
      const err = throwsCode(() => IPCBuffer[kind](id, { readonly: true, size: 128 }), IPCError, 'EINVAL')
      assert.match(err.message, /readonly open cannot grow/)
      const part = IPCBuffer[kind](id, { readonly: true, size: 32 })
      cleanup(() => part.close())
      assert.is(part.length, 32)
    }),
  )
}

readonly('sysv: refused with a clear TypeError (no copy-on-write mapping exists)', () => {
  const err = throwsCode(() => IPCBuffer.sysv(uniqueKey(), { readonly: true }), TypeError, 'ERR_INVALID_ARG_VALUE')
  assert.match(err.message, /System V/)
})

readonly.run()

const forms = suite('legacy call forms')

forms('IPCBuffer(size) and new IPCBuffer(size): process-private memory', () => {
  for (const buf of [IPCBuffer(10), new IPCBuffer(10)]) {
    assert.ok(buf instanceof Buffer)
    assert.ok(buf instanceof IPCBuffer)
    assert.is(buf.kind, 'memory')
    assert.is(buf.name, undefined)
    assert.is(buf.length, 10)
    assert.ok(buf.every((b) => b === 0))
    buf.close()
    assert.is(buf.length, 0)
  }
})

forms('IPCBuffer(size, encoding): the encoding is the default of toString and write', () => {
  const buf = IPCBuffer(4, 'hex')
  assert.is(buf.write('0a0b'), 2)
  assert.is(buf.toString(), '0a0b0000')
  assert.is(buf.write('ff', 3), 1)
  assert.is(buf.write('eeee', 1, 1), 1)
  assert.is(buf.toString(), '0aee00ff')
  assert.is(buf.toString('base64'), 'Cu4A/w==')
  assert.is(buf.write('zz', 'utf8'), 2)
  assert.is(buf.toString('utf8', 0, 2), 'zz')
})

forms('IPCBuffer(string[, encoding]): memory holding the string', () => {
  const a = new IPCBuffer('héllo')
  assert.is(a.kind, 'memory')
  assert.is(a.toString(), 'héllo')
  assert.is(a.length, 6)
  const b = IPCBuffer('68656c6c6f', 'hex')
  assert.is(b.length, 5)
  assert.is(b.toString('utf8'), 'hello')
  assert.is(b.toString(), '68656c6c6f')
  b.close()
  assert.is(b.length, 0)
  assert.is(IPCBuffer('x').toString(), 'x') // a small string is never in Buffer's pool
})

forms('IPCBuffer(parent, length[, encoding][, offset]): an alias of the same memory', () =>
  withCleanup((cleanup) => {
    const { buf } = fresh('posix', cleanup, { size: 64 })
    const a = IPCBuffer(buf, 8, 4)
    const b = new IPCBuffer(buf, 4, 'hex', 2)
    const c = IPCBuffer(buf, 16)
    assert.is(a.length, 8)
    assert.is(a.kind, 'posix')
    assert.is(a.name, buf.name)
    a[0] = 0xaa
    assert.is(buf[4], 0xaa)
    buf[2] = 0x01
    assert.is(b.toString(), '0100aa00')
    assert.is(c.length, 16)
    const plain = Buffer.from('plain buffer')
    const d = IPCBuffer(plain, 5, 6)
    assert.is(d.toString(), 'buffe')
    d.close() // someone else's memory: never detached
    assert.is(plain.length, 12)
    throwsCode(() => IPCBuffer(buf, 65), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => IPCBuffer(buf, 10, 60), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => IPCBuffer(buf, -1), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => IPCBuffer(buf, 4, 'nope', 0), TypeError, 'ERR_INVALID_ARG_VALUE')
  }),
)

forms("IPCBuffer(size, '*name'), (size, path), (size, key) and with an encoding", () =>
  withCleanup((cleanup) => {
    const name = uniqueName('forms')
    const path = uniquePath('forms')
    const key = uniqueKey()
    cleanup(() => IPCBuffer.unlink('posix', name))
    cleanup(() => IPCBuffer.unlink('file', path))
    cleanup(() => IPCBuffer.unlink('sysv', key))
    const p = IPCBuffer(32, '*' + name)
    const f = new IPCBuffer(32, path)
    const s = IPCBuffer(32, key)
    const e = IPCBuffer(32, 'base64', '*' + name)
    for (const buf of [p, f, s, e]) cleanup(() => buf.close())
    assert.equal([p.kind, f.kind, s.kind, e.kind], ['posix', 'file', 'sysv', 'posix'])
    assert.equal([p.name, f.name, s.name], ['/' + name, path, key])
    p.write('AAEC', 'base64')
    assert.is(e.toString().slice(0, 4), 'AAEC')
    assert.ok(fs.existsSync(path))
    assert.is(fs.statSync(path).size, 32)
  }),
)

forms.run()

const bad = suite('bad input')

bad('sizes: wrong type is a TypeError; negative, fractional, NaN, Infinity, zero or huge a RangeError', () => {
  const name = uniqueName('bad')
  throwsCode(() => IPCBuffer.posix(name, { size: '10' }), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => IPCBuffer.posix(name, { size: 10n }), TypeError, 'ERR_INVALID_ARG_TYPE')
  for (const size of [-1, 1.5, NaN, Infinity, -Infinity, 0, 2 ** 53, Number.MAX_VALUE]) {
    throwsCode(() => IPCBuffer.posix(name, { size }), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => IPCBuffer.sysv(uniqueKey(), { size }), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => IPCBuffer.file(uniquePath(), { size }), RangeError, 'ERR_OUT_OF_RANGE')
  }
  for (const size of [-1, 1.5, NaN, Infinity, 2 ** 53])
    throwsCode(() => IPCBuffer(size), RangeError, 'ERR_OUT_OF_RANGE')
  assert.is(IPCBuffer.exists('posix', name), false)
})

bad('names: wrong type, empty, slash inside, NUL, too long', () => {
  for (const name of [undefined, null, 12, {}, Symbol('x')]) {
    throwsCode(() => IPCBuffer.posix(name, { size: 8 }), TypeError, 'ERR_INVALID_ARG_TYPE')
  }
  for (const name of ['', '/', 'a/b', '/a/b', 'a\0b', '.', '..', 'x'.repeat(256), '/' + 'é'.repeat(128)]) {
    throwsCode(() => IPCBuffer.posix(name, { size: 8 }), TypeError, 'ERR_INVALID_ARG_VALUE')
  }
  throwsCode(() => IPCBuffer.file('', { size: 8 }), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => IPCBuffer.file('a\0b', { size: 8 }), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => IPCBuffer.file(Buffer.from('x'), { size: 8 }), TypeError, 'ERR_INVALID_ARG_TYPE')
  // 255 bytes is the limit, and allowed.
  const longest = 'ipckit-' + process.pid + '-' + 'l'.repeat(255 - 8 - String(process.pid).length)
  assert.is(longest.length, 255)
  const buf = IPCBuffer.posix(longest, { size: 8 })
  buf.close()
  IPCBuffer.unlink('posix', longest)
})

bad('names that do not survive UTF-8 (lone surrogates) are refused for every class; sem.X is not shared memory', () =>
  withCleanup(async (cleanup) => {
    const name = uniqueName('utf')
    // '\uD800' and '\uDBFF' would both reach the system as U+FFFD: one object for two names.
    for (const bad of [`/${name}\uD800`, `${name}\uDBFF`, `\uDC00${name}`]) {
      throwsCode(() => IPCBuffer.posix(bad, { size: 8 }), TypeError, 'ERR_INVALID_ARG_VALUE')
      throwsCode(() => IPCBuffer.file(`/tmp/${bad}`, { size: 8 }), TypeError, 'ERR_INVALID_ARG_VALUE')
      throwsCode(() => Semaphore.posix(bad, { initial: 0 }), TypeError, 'ERR_INVALID_ARG_VALUE')
      throwsCode(() => new Mutex(bad), TypeError, 'ERR_INVALID_ARG_VALUE')
      throwsCode(() => GuardedBuffer.open(bad, { size: 8 }), TypeError, 'ERR_INVALID_ARG_VALUE')
      throwsCode(() => IPCBuffer.exists('posix', bad), TypeError, 'ERR_INVALID_ARG_VALUE')
    }
    assert.is(fs.readdirSync('/dev/shm').filter((f) => f.includes(name)).length, 0)
    // Paired surrogates are proper Unicode, and fine.
    const emoji = IPCBuffer.posix(`${name}-\u{1F600}`, { size: 8 })
    cleanup(() => IPCBuffer.unlink('posix', `${name}-\u{1F600}`))
    emoji.close()
    // glibc keeps POSIX semaphore X as /dev/shm/sem.X: shared memory of that name would be its bytes.
    const sem = Semaphore.posix(name, { initial: 1 })
    cleanup(() => sem.close())
    cleanup(() => sem.unlink())
    for (const semName of [`sem.${name}`, `/sem.${name}`, `/sem.other`]) {
      const err = throwsCode(() => IPCBuffer.posix(semName, { size: 8 }), TypeError, 'ERR_INVALID_ARG_VALUE')
      assert.match(err.message, /must not start with 'sem.'/)
      throwsCode(() => IPCBuffer.posix(semName), TypeError, 'ERR_INVALID_ARG_VALUE')
      throwsCode(() => new Mutex(semName), TypeError, 'ERR_INVALID_ARG_VALUE')
      throwsCode(() => IPCBuffer(8, `*${semName.replace(/^\//, '')}`), TypeError, 'ERR_INVALID_ARG_VALUE')
      throwsCode(() => IPCBuffer.unlink('posix', semName), TypeError, 'ERR_INVALID_ARG_VALUE')
    }
    assert.is(sem.value, 1)
    // 'sem.' elsewhere in a name, and semaphores named sem.X, are fine.
    const semLike = Semaphore.posix(`sem.${name}`, { initial: 0 })
    cleanup(() => semLike.close())
    cleanup(() => semLike.unlink())
  }),
)

bad('keys: not non-zero 32-bit integers', () => {
  throwsCode(() => IPCBuffer.sysv('12', { size: 8 }), TypeError, 'ERR_INVALID_ARG_TYPE')
  for (const key of [0, 1.5, NaN, Infinity, -(2 ** 31) - 1, 2 ** 32, 2 ** 32 + 1]) {
    throwsCode(() => IPCBuffer.sysv(key, { size: 8 }), RangeError, 'ERR_OUT_OF_RANGE')
  }
})

bad('options: wrong types and values', () => {
  const name = uniqueName('opts')
  throwsCode(() => IPCBuffer.posix(name, 5), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => IPCBuffer.posix(name, { size: 8, create: 'yes' }), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => IPCBuffer.posix(name, { create: 'exclusive' }), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => IPCBuffer.posix(name, { size: 8, mode: '600' }), TypeError, 'ERR_INVALID_ARG_TYPE')
  for (const mode of [-1, 0o1000, 1.5]) {
    throwsCode(() => IPCBuffer.posix(name, { size: 8, mode }), RangeError, 'ERR_OUT_OF_RANGE')
  }
  throwsCode(() => IPCBuffer.posix(name, { size: 8, readonly: 1 }), TypeError, 'ERR_INVALID_ARG_TYPE')
  assert.is(IPCBuffer.exists('posix', name), false)
})

bad('statics and call forms: unknown kinds, ids and arguments', () => {
  throwsCode(() => IPCBuffer.unlink('shm', 'x'), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => IPCBuffer.exists('memory', 'x'), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => IPCBuffer.exists('posix', 5), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => IPCBuffer.exists('sysv', 0), RangeError, 'ERR_OUT_OF_RANGE')
  throwsCode(() => IPCBuffer(), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => IPCBuffer({}), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => IPCBuffer(8, {}), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => IPCBuffer(8, '*'), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => IPCBuffer(8, '*a/b'), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => IPCBuffer(8, 0), RangeError, 'ERR_OUT_OF_RANGE')
  throwsCode(() => IPCBuffer('abc', 'klingon'), TypeError, 'ERR_INVALID_ARG_VALUE')
})

bad('missing objects and directories are IPCErrors worded like fs errors', () => {
  const err = throwsCode(() => IPCBuffer.file('/nonexistent-dir-ipckit/x', { size: 8 }), IPCError, 'ENOENT')
  assert.is(err.message, "ENOENT: no such file or directory, open '/nonexistent-dir-ipckit/x'")
  assert.is(err.syscall, 'open')
  assert.is(err.path, '/nonexistent-dir-ipckit/x')
  assert.is(err.name, 'IPCError')
  assert.ok(err instanceof Error)
  const dir = throwsCode(() => IPCBuffer.file('/tmp', { size: 8 }), IPCError, 'EISDIR')
  assert.is(dir.errno, -EISDIR)
})

bad.run()
