'use strict'
// System V keys as C sees them (key_t is a signed 32-bit number: ftok(),
// Boost's xsi_key and shmget(0xDEADBEEF, ...) make keys with bit 31 set),
// checked against a C-style peer (libc through python3's ctypes) and ipcs;
// and unlink() of a segment that is already removed.
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { test } = require('uvu')
const assert = require('uvu/assert')
const { IPCBuffer, Semaphore, Mutex, GuardedBuffer } = require('..')
const { uniqueKey, withCleanup, throwsCode, skipIf, cannotRun, FIXTURES } = require('./helpers')

const withPython = skipIf(cannotRun('python3', ['-c', 'import ctypes; ctypes.CDLL(None).shmget']), test)

/** Runs test/fixtures/sysv-peer.py; returns its one line. */
function peer(...args) {
  const run = spawnSync('python3', [path.join(FIXTURES, 'sysv-peer.py'), ...args.map(String)], {
    timeout: 20000,
    encoding: 'utf8',
  })
  assert.is(run.status, 0, run.stderr)
  return run.stdout.trim()
}

/** A unique key with bit 31 set, unsigned and signed. */
function highKey() {
  const unsigned = (uniqueKey() | 0x80000000) >>> 0
  return { unsigned, signed: unsigned | 0, hex: '0x' + unsigned.toString(16) }
}

/** The key column of ipcs for `table` ('-m' or '-s'), as ipcs prints it (0x%08x). */
function ipcsKeys(table) {
  const run = spawnSync('ipcs', [table], { encoding: 'utf8', timeout: 10000 })
  return run.stdout.split('\n').map((line) => line.split(/\s+/)[0])
}

withPython('a segment C made with a key past 2^31 opens by its signed and unsigned key; name is the unsigned key', () =>
  withCleanup(async (cleanup) => {
    const key = highKey()
    peer('shm-create', key.signed, 'cafebabe')
    cleanup(() => IPCBuffer.unlink('sysv', key.unsigned))
    const byUnsigned = IPCBuffer.sysv(key.unsigned)
    cleanup(() => byUnsigned.close())
    const bySigned = IPCBuffer.sysv(key.signed)
    cleanup(() => bySigned.close())
    assert.is(byUnsigned.toString('hex', 0, 4), 'cafebabe')
    assert.is(byUnsigned.name, key.unsigned)
    assert.is(bySigned.name, key.unsigned)
    bySigned.write('d00d', 'hex')
    assert.is(peer('shm-read', key.hex, 4), 'd00dbabe')
  }),
)

withPython('IPCBuffer, Semaphore, Mutex and GuardedBuffer create objects under such keys that C and ipcs find', () =>
  withCleanup(async (cleanup) => {
    const seg = highKey()
    const buf = IPCBuffer.sysv(seg.signed, { size: 4096 })
    cleanup(() => buf.close())
    cleanup(() => buf.unlink())
    buf.write('0102', 'hex')
    assert.is(peer('shm-read', seg.unsigned, 2), '0102')
    assert.ok(ipcsKeys('-m').includes(seg.hex), `ipcs -m lists ${seg.hex}`)
    assert.throws(
      () => IPCBuffer.sysv(seg.unsigned, { size: 4096, create: 'exclusive' }),
      (err) => err.code === 'EEXIST',
    )

    const semKey = highKey()
    const sem = Semaphore.sysv(semKey.unsigned, { initial: 3 })
    cleanup(() => sem.close())
    cleanup(() => sem.unlink())
    assert.is(sem.name, semKey.unsigned)
    assert.is(peer('sem-value', semKey.signed), '3')
    const again = Semaphore.sysv(semKey.signed)
    cleanup(() => again.close())
    assert.is(again.name, semKey.unsigned)
    assert.is(again.tryWait(), true)
    assert.is(sem.value, 2)
    assert.ok(ipcsKeys('-s').includes(semKey.hex), `ipcs -s lists ${semKey.hex}`)

    const lockKey = highKey()
    const m = new Mutex(lockKey.signed)
    cleanup(() => m.close())
    cleanup(() => m.unlink())
    const m2 = new Mutex(lockKey.unsigned)
    cleanup(() => m2.close())
    assert.is(m.tryAcquire(), true)
    assert.is(m2.isLocked(), true)
    m.release()

    const guardKey = highKey()
    const g = GuardedBuffer.open(guardKey.unsigned, { size: 16 })
    cleanup(() => g.close())
    cleanup(() => g.unlink())
    const g2 = GuardedBuffer.open(guardKey.signed)
    cleanup(() => g2.close())
    g.buffer[0] = 9
    assert.is(g2.buffer[0], 9)
  }),
)

test('keys: every non-zero 32-bit key, signed or unsigned; nothing else', () => {
  for (const key of [0, -0, 1.5, NaN, Infinity, -(2 ** 31) - 1, 2 ** 32, 2 ** 32 + 1]) {
    throwsCode(() => IPCBuffer.sysv(key, { size: 8 }), RangeError, 'ERR_OUT_OF_RANGE')
    throwsCode(() => Semaphore.sysv(key), RangeError, 'ERR_OUT_OF_RANGE')
  }
  // The extremes reach the system (ENOENT: no such object), not the argument check.
  for (const key of [-(2 ** 31), -1, 2 ** 31, 2 ** 32 - 1]) {
    throwsCode(() => IPCBuffer.sysv(key, { create: false }), Error, 'ENOENT')
    throwsCode(() => Semaphore.sysv(key, { create: false }), Error, 'ENOENT')
  }
})

test('unlink() of a System V segment already removed throws ENOENT, attached or not', () =>
  withCleanup(async (cleanup) => {
    const key = uniqueKey()
    const a = IPCBuffer.sysv(key, { size: 4096 })
    cleanup(() => a.close())
    const b = IPCBuffer.sysv(key)
    cleanup(() => b.close())
    cleanup(() => IPCBuffer.unlink('sysv', key))
    a.unlink()
    // Still attached here: Linux would accept a second IPC_RMID.
    const err = throwsCode(() => b.unlink(), Error, 'ENOENT')
    assert.is(err.syscall, 'shmctl')
    assert.is(err.key, key)
    throwsCode(() => IPCBuffer.unlink('sysv', key), Error, 'ENOENT')
    a.close()
    b.close()
    // Detached by all: the segment is gone.
    throwsCode(() => a.unlink(), Error, 'ENOENT')
  }))

test.run()
