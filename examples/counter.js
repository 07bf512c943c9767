'use strict'
// The shared counter: several processes add 1 to one 64-bit counter in shared
// memory, each holding the GuardedBuffer's lock for every increment.
//
//   node examples/counter.js [--procs 4] [--n 100000] [--sync] [--unguarded] [--kind posix|file|sysv]
//
// --sync uses withLockSync; --unguarded skips the lock and shows the updates it loses.
// Exits 1 if the final count differs from the expected one.
const { fork } = require('node:child_process')
const os = require('node:os')
const path = require('node:path')
const { GuardedBuffer } = require('..')

function parse(argv) {
  const opts = { procs: 4, n: 100000, sync: false, unguarded: false, kind: 'posix' }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--sync') opts.sync = true
    else if (arg === '--unguarded') opts.unguarded = true
    else if (arg === '--procs' || arg === '-p') opts.procs = Number(argv[++i])
    else if (arg === '--n' || arg === '-n') opts.n = Number(argv[++i])
    else if (arg === '--kind') opts.kind = argv[++i]
    else throw new Error(`unknown argument ${arg}`)
  }
  if (!Number.isInteger(opts.procs) || opts.procs < 1) throw new Error('--procs must be a positive integer')
  if (!Number.isInteger(opts.n) || opts.n < 1) throw new Error('--n must be a positive integer')
  if (!['posix', 'file', 'sysv'].includes(opts.kind)) throw new Error('--kind must be posix, file or sysv')
  return opts
}

function increment(buf) {
  buf.writeBigUInt64LE(buf.readBigUInt64LE(0) + 1n, 0)
}

// A worker: opens the counter, waits for 'go', adds n, reports.
async function child(kind, name, n, mode) {
  const g = GuardedBuffer.open(kind === 'sysv' ? Number(name) : name, { kind, create: false })
  const orphaned = () => process.exit(1) // the parent is gone: do not linger
  process.once('disconnect', orphaned)
  process.once('message', async () => {
    if (mode === 'unguarded') for (let i = 0; i < n; i++) increment(g.buffer)
    else if (mode === 'sync') for (let i = 0; i < n; i++) g.withLockSync(increment)
    else for (let i = 0; i < n; i++) await g.withLock(increment)
    g.close()
    process.off('disconnect', orphaned)
    process.send('done', () => process.disconnect())
  })
  process.send('ready')
}

async function main() {
  const opts = parse(process.argv.slice(2))
  const name =
    opts.kind === 'posix'
      ? `ipckit-counter-${process.pid}`
      : opts.kind === 'file'
        ? path.join(os.tmpdir(), `ipckit-counter-${process.pid}`)
        : (process.pid & 0x7fff) * 65536 + 0xc0
  const g = GuardedBuffer.open(name, { kind: opts.kind, size: 8, create: 'exclusive' })
  const mode = opts.unguarded ? 'unguarded' : opts.sync ? 'sync' : 'async'
  const children = []
  try {
    for (let p = 0; p < opts.procs; p++) {
      children.push(fork(__filename, ['child', opts.kind, String(name), String(opts.n), mode]))
    }
    const message = (child, what) =>
      new Promise((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`a worker exited with ${code} before '${what}'`)))
        child.on('message', (m) => m === what && resolve())
      })
    await Promise.all(children.map((c) => message(c, 'ready')))
    const start = process.hrtime.bigint()
    const done = children.map((c) => message(c, 'done'))
    for (const c of children) c.send('go')
    await Promise.all(done)
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    const expected = BigInt(opts.procs) * BigInt(opts.n)
    const final = g.withLockSync((buf) => buf.readBigUInt64LE(0))
    const how = opts.unguarded
      ? 'without the lock'
      : opts.sync
        ? 'under GuardedBuffer.withLockSync'
        : 'under GuardedBuffer.withLock'
    console.log(`${opts.procs} processes x ${opts.n} increments ${how} (${opts.kind})`)
    console.log(`expected ${expected}`)
    console.log(`final    ${final}`)
    console.log(
      `time     ${seconds.toFixed(3)} s, ${Math.round(Number(final) / seconds).toLocaleString('en-US')} increments/s`,
    )
    if (final === expected) {
      console.log('OK: no update lost')
    } else {
      console.log(`lost ${expected - final} updates`)
      process.exitCode = 1
    }
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill() // after a failure
    g.unlink()
    g.close()
  }
}

if (process.argv[2] === 'child') {
  child(process.argv[3], process.argv[4], Number(process.argv[5]), process.argv[6])
} else {
  main().catch((err) => {
    console.error(err)
    process.exitCode = 2
  })
}
