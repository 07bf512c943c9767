'use strict'
// A full file system is an ENOSPC IPCError, never a SIGBUS at the first write:
// creating or growing a POSIX or file object reserves its pages. Each run is a
// child in a private mount namespace (unshare -m) with its own 1 MiB tmpfs on
// /dev/shm and on a temp dir: the machine's real /dev/shm is never touched.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { test } = require('uvu')
const assert = require('uvu/assert')
const { withCleanup, skipIf, cannotRun, NODE, FIXTURES } = require('./helpers')

// Mount namespaces need root (or a user namespace) and a kernel that allows them.
const MOUNT = 'mount -t tmpfs -o size=1m tmpfs /dev/shm && mount -t tmpfs -o size=1m tmpfs "$1" && shift && exec "$@"'
const t = skipIf(
  cannotRun('unshare', ['-m', '--propagation', 'private', 'sh', '-c', MOUNT, 'sh', os.tmpdir(), 'true']),
  test,
)

t(
  'a full /dev/shm or file system: ENOSPC naming the mount, its free bytes and the fix; nothing left behind; grown objects keep their size',
  () =>
    withCleanup(async (cleanup) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipckit-full-'))
      cleanup(() => fs.rmSync(dir, { recursive: true, force: true }))
      const run = spawnSync(
        'unshare',
        [
          '-m',
          '--propagation',
          'private',
          'sh',
          '-c',
          MOUNT,
          'sh',
          dir,
          ...NODE,
          path.join(FIXTURES, 'full-filesystem.js'),
          dir,
        ],
        {
          timeout: 60000,
          encoding: 'utf8',
        },
      )
      assert.is(run.signal, null, `the child died of ${run.signal}: ${run.stderr}`)
      assert.is(run.status, 0, run.stderr)
      const r = JSON.parse(run.stdout)
      for (const what of ['posix', 'file', 'posixGrow', 'fileGrow', 'mutex', 'guarded', 'channel']) {
        assert.is(r[what].code, 'ENOSPC', `${what}: ${JSON.stringify(r[what])}`)
        assert.is(r[what].syscall, 'posix_fallocate')
      }
      for (const what of ['posix', 'posixGrow', 'mutex', 'guarded', 'channel']) {
        assert.match(r[what].message, /on \/dev\/shm \(tmpfs, [\d.]+ (bytes|KiB|MiB) free of 1\.0 MiB\)/)
        assert.match(r[what].message, /docker run --shm-size/)
        assert.match(r[what].message, /emptyDir volume with medium: Memory/)
      }
      assert.match(r.file.message, `on ${dir} (tmpfs, 1.0 MiB free of 1.0 MiB)`)
      assert.equal(r.leftAfterCreate, [])
      assert.is(r.posixSizeAfterGrow, 512 << 10)
      assert.is(r.fileSizeAfterGrow, 512 << 10)
      assert.is(r.posixBytesAfterGrow, true)
      assert.is(r.fileBytesAfterGrow, true)
      assert.equal(r.leftAfterLocks, ['filler', 'grown'])
    }),
)

test.run()
