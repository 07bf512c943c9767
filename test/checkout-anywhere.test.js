'use strict'
// The suite passes wherever a user clones it, a 0700 home (/root, mktemp -d)
// included: the permission tests' children, which run as another user, get
// a copy of what they need (test/helpers.js) instead of this checkout.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { test } = require('uvu')
const assert = require('uvu/assert')
const { withCleanup, uniqueName, notRoot, skipIf, NODE } = require('./helpers')

const ROOT = path.join(__dirname, '..')
const t = skipIf(notRoot, test)

t('a checkout inside a 0700 directory: a child run as nobody still loads the package and its fixture', () =>
  withCleanup(async (cleanup) => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ipckit-home-'))
    cleanup(() => fs.rmSync(home, { recursive: true, force: true }))
    fs.chmodSync(home, 0o700)
    const checkout = path.join(home, 'ipc-kit')
    for (const part of [
      'package.json',
      'dist',
      'build/Release/ipc_kit.node',
      'prebuilds',
      'node_modules/node-gyp-build',
      'node_modules/uvu',
      'test',
    ]) {
      if (fs.existsSync(path.join(ROOT, part)))
        fs.cpSync(path.join(ROOT, part), path.join(checkout, part), { recursive: true })
    }
    const name = uniqueName('home')
    const script = `
      const { IPCBuffer } = require('.')
      const { runChild, nobody } = require('./test/helpers')
      const buf = IPCBuffer.posix(${JSON.stringify(name)}, { size: 64, mode: 0o666 })
      runChild('buffer-peer.js', ['open', 'posix', ${JSON.stringify(name)}], nobody())
        .then((r) => console.log(JSON.stringify({ code: r.code, messages: r.messages, stderr: r.stderr })))
        .finally(() => buf.unlink())`
    cleanup(() => fs.rmSync(`/dev/shm/${name}`, { force: true }))
    const [cmd, ...pre] = NODE
    const run = spawnSync(cmd, [...pre, '-e', script], { cwd: checkout, encoding: 'utf8', timeout: 60000 })
    assert.is(run.status, 0, run.stderr)
    const result = JSON.parse(run.stdout)
    assert.equal(result.messages, [{ code: null }], result.stderr)
    assert.is(result.code, 0)
  }),
)

test.run()
