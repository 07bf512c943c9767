'use strict'
// The ipc-kit command, run for real (node bin/ipc-kit ...) in child processes,
// against objects that other child processes made. Every assertion filters by
// this file's unique names: the machine may hold other objects.
const { test } = require('uvu')
const assert = require('uvu/assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { IPCBuffer, Mutex, Semaphore, SharedMap, list, inspect, remove, gc } = require('..')
const {
  uniqueName,
  uniqueKey,
  withCleanup,
  runChild,
  runNode,
  runScript,
  nextMessage,
  throwsCode,
  nobody,
  notRoot,
  skipIf,
} = require('./helpers')

const BIN = path.join(__dirname, '..', 'bin', 'ipc-kit')

/** Runs the command; resolves { code, stdout, stderr }. */
function ipcKit(...args) {
  return runScript(BIN, args, 30000)
}

/** Starts a child that makes `make` and (keep) keeps it open; resolves once it is ready. */
async function peer(make, cleanup, keep = true) {
  let child
  const exited = runChild('cli-peer.js', [JSON.stringify({ make, keep })], { onSpawn: (c) => (child = c) })
  cleanup(() => child.kill('SIGKILL'))
  await nextMessage(child, (m) => m === 'ready')
  return { child, exited }
}

/** Removes the objects of `make` (whatever state they are in) at cleanup. */
function removeAtEnd(make, cleanup) {
  for (const o of make) {
    const kind = o.kind ?? (typeof o.name === 'number' ? 'sysv' : 'posix')
    if (o.type === 'semaphore') cleanup(() => Semaphore.unlink(kind, o.name))
    else cleanup(() => IPCBuffer.unlink(kind, o.name))
  }
}

const ENTRY_KEYS = [
  'type',
  'ipcKit',
  'kind',
  'name',
  'path',
  'id',
  'size',
  'mode',
  'uid',
  'owner',
  'created',
  'creator',
  'users',
  'attached',
  'usersUncertain',
  'inUse',
  'error',
]

test('ls --json: every object of this test, made by another process, field by field', () =>
  withCleanup(async (cleanup) => {
    const p = uniqueName('cli')
    const key = uniqueKey()
    const make = [
      { type: 'mutex', name: `/${p}-m`, hold: true },
      { type: 'guarded-buffer', name: `/${p}-g`, size: 100 },
      { type: 'channel', name: `/${p}-c`, send: ['a', 'b', 'c'] },
      { type: 'semaphore', name: `/${p}-s`, initial: 3 },
      { type: 'buffer', name: `/${p}-b`, size: 8192 },
      { type: 'mutex', name: key, kind: 'sysv' },
    ]
    removeAtEnd(make, cleanup)
    const before = Date.now() - 1000
    const { child } = await peer(make, cleanup)
    const r = await ipcKit('ls', '--json')
    assert.is(r.code, 0, r.stderr)
    const all = JSON.parse(r.stdout)
    const mine = all.filter((o) => (typeof o.name === 'string' && o.name.startsWith(`/${p}-`)) || o.name === key)
    assert.equal(
      mine.map((o) => o.name).sort(),
      [`/${p}-c`, `/${p}-g`, `/${p}-m`, `/${p}-s`, key].sort(),
      'a plain buffer is shown only with --all',
    )
    for (const o of mine) {
      assert.equal(Object.keys(o).sort(), [...ENTRY_KEYS].sort())
      assert.is(o.mode, 0o600)
      assert.is(o.uid, process.getuid())
      assert.is(o.owner, os.userInfo().username)
      assert.ok(Date.parse(o.created) >= before && Date.parse(o.created) <= Date.now(), o.created)
      assert.ok(
        o.users.some((u) => u.pid === child.pid),
        `${o.name} used by ${JSON.stringify(o.users)}`,
      )
      assert.is(o.inUse, true)
      assert.is(o.error, null)
    }
    const byName = Object.fromEntries(mine.map((o) => [o.name, o]))
    const m = byName[`/${p}-m`]
    assert.equal(
      [m.type, m.ipcKit, m.kind, m.path, m.id, m.size, m.attached],
      ['mutex', true, 'posix', `/dev/shm/${p}-m`, null, 4096, null],
    )
    assert.equal(m.creator, { pid: child.pid, alive: true })
    assert.equal([byName[`/${p}-g`].type, byName[`/${p}-g`].size], ['guarded-buffer', 4096 + 100])
    assert.equal([byName[`/${p}-c`].type, byName[`/${p}-c`].ipcKit], ['channel', true])
    const s = byName[`/${p}-s`]
    assert.equal([s.type, s.ipcKit, s.path, s.creator], ['semaphore', false, `/dev/shm/sem.${p}-s`, null])
    const k = byName[key]
    assert.equal([k.type, k.kind, k.path, k.size, typeof k.id], ['mutex', 'sysv', null, 4096, 'number'])
    assert.ok(k.attached >= 1)
    const withAll = JSON.parse((await ipcKit('ls', '--json', '--all', '--prefix', p)).stdout)
    const plain = withAll.find((o) => o.name === `/${p}-b`)
    assert.equal([plain.type, plain.ipcKit, plain.size], ['shm', false, 8192])
    // The table shows the same objects.
    const table = (await ipcKit('ls', '--prefix', p)).stdout
    assert.match(table, /^TYPE +KIND +NAME +SIZE +MODE +OWNER +CREATED +USED BY/)
    assert.match(table, new RegExp(`mutex +posix +/${p}-m +4096 +0600 .*${child.pid}\\(node\\)`))
    assert.not.match(table, new RegExp(`/${p}-b`))
  }))

test('inspect: a live holder, then the same holder SIGKILLed is reported dead; ls and inspect never disturb it', () =>
  withCleanup(async (cleanup) => {
    const name = `/${uniqueName('cli')}`
    const make = [{ type: 'mutex', name, hold: true }]
    removeAtEnd(make, cleanup)
    const { child, exited } = await peer(make, cleanup)
    const live = await ipcKit('inspect', name, '--json')
    assert.is(live.code, 0, live.stderr)
    const d = JSON.parse(live.stdout)
    assert.equal(d.lock, {
      held: true,
      waiters: false,
      holder: { tid: child.pid, pid: child.pid, alive: true, sameNamespace: true, heldForMs: null },
    })
    assert.is(d.layout, 1)
    assert.match(
      (await ipcKit('inspect', name)).stdout,
      new RegExp(`lock: held by thread ${child.pid} of pid ${child.pid} \\(alive\\)`),
    )
    child.kill('SIGKILL')
    await exited
    const dead = await ipcKit('inspect', name)
    assert.is(dead.code, 0, dead.stderr)
    assert.match(
      dead.stdout,
      new RegExp(`lock: held by thread ${child.pid} \\(dead: the next acquire takes it over\\)`),
    )
    assert.match(dead.stdout, /in use: +no/)
    const info = inspect(name)
    assert.equal(
      [info.lock.holder.alive, info.lock.holder.pid, info.inUse, info.creator.alive],
      [false, null, false, false],
    )
    // The lock is still as the holder left it: the next acquire takes it over.
    const m = new Mutex(name, { create: false })
    cleanup(() => m.close())
    assert.is(m.acquireSync(5000), true)
    assert.is(m.ownerDied, true)
    m.release()
  }))

test('inspect: a semaphore value and a channel stats, read while their maker keeps them open', () =>
  withCleanup(async (cleanup) => {
    const p = uniqueName('cli')
    const key = uniqueKey()
    const make = [
      { type: 'semaphore', name: `/${p}-s`, initial: 7 },
      { type: 'semaphore', name: key, initial: 4 },
      { type: 'channel', name: `/${p}-c`, send: ['one', 'two'] },
    ]
    removeAtEnd(make, cleanup)
    await peer(make, cleanup)
    const s = JSON.parse((await ipcKit('inspect', `/${p}-s`, '--json')).stdout)
    assert.equal([s.type, s.kind, s.value], ['semaphore', 'posix', 7])
    const k = JSON.parse((await ipcKit('inspect', '0x' + key.toString(16), '--json')).stdout)
    assert.equal([k.type, k.kind, k.name, k.value], ['semaphore', 'sysv', key, 4])
    const c = JSON.parse((await ipcKit('inspect', `/${p}-c`, '--json')).stdout)
    assert.equal([c.stats.messages, c.stats.capacity, c.stats.sealed], [2, 4096, false])
    assert.equal([c.locks.send.held, c.locks.receive.held], [false, false])
    const map = SharedMap.open(`/${p}-map`, { size: 1 << 16 })
    cleanup(() => map.close())
    cleanup(() => map.unlink())
    map.set('a', 1)
    map.set('b', 2)
    const md = JSON.parse((await ipcKit('inspect', `/${p}-map`, '--json')).stdout)
    assert.equal([md.type, md.ipcKit, md.stats.entries, md.stats.evictions, md.lock.held], ['map', true, 2, 0, false])
    // Reading took nothing: the values are still there.
    const sem = Semaphore.posix(`/${p}-s`, { create: false })
    cleanup(() => sem.close())
    assert.is(sem.value, 7)
  }))

test('rm refuses an object a live process maps, unless --force; removes idle ones', () =>
  withCleanup(async (cleanup) => {
    const p = uniqueName('cli')
    const make = [
      { type: 'mutex', name: `/${p}-busy` },
      { type: 'guarded-buffer', name: `/${p}-idle` },
    ]
    removeAtEnd(make, cleanup)
    const { child } = await peer(make, cleanup)
    const refused = await ipcKit('rm', `/${p}-busy`)
    assert.is(refused.code, 1)
    assert.match(refused.stderr, new RegExp(`/${p}-busy.*EBUSY: in use by ${child.pid} \\(node\\)`))
    assert.ok(IPCBuffer.exists('posix', `/${p}-busy`))
    const forced = await ipcKit('rm', '--force', `/${p}-busy`)
    assert.is(forced.code, 0, forced.stderr)
    assert.not.ok(IPCBuffer.exists('posix', `/${p}-busy`))
    // The other is mapped too: JavaScript says the same.
    throwsCode(() => remove(`/${p}-idle`), Error, 'EBUSY')
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
    assert.is((await ipcKit('rm', `/${p}-idle`)).code, 0)
    assert.not.ok(IPCBuffer.exists('posix', `/${p}-idle`))
  }))

test('gc removes idle ipc-kit objects, leaves those a live child holds open, and --dry-run removes nothing', () =>
  withCleanup(async (cleanup) => {
    const p = uniqueName('cli')
    const key = uniqueKey()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${p}-`))
    cleanup(() => fs.rmSync(dir, { recursive: true, force: true }))
    const idle = [
      { type: 'mutex', name: `/${p}-idle-m`, hold: true },
      { type: 'channel', name: `/${p}-idle-c` },
      { type: 'mutex', name: path.join(dir, `${p}-lock`), kind: 'file' },
      { type: 'mutex', name: key, kind: 'sysv' },
    ]
    const used = [
      { type: 'guarded-buffer', name: `/${p}-used-g` },
      { type: 'mutex', name: path.join(dir, `${p}-used`), kind: 'file', hold: true },
    ]
    const plain = [{ type: 'buffer', name: `/${p}-plain` }]
    for (const set of [idle, used, plain]) removeAtEnd(set, cleanup)
    await peer([...idle, ...plain], cleanup, false) // exits: its objects are left behind
    await peer(used, cleanup)
    const dry = await ipcKit('gc', '--dry-run', '--json', '--prefix', p, '--dir', dir)
    assert.is(dry.code, 0, dry.stderr)
    const wouldGo = JSON.parse(dry.stdout).map((o) => o.name)
    const idleNames = [`/${p}-idle-m`, `/${p}-idle-c`, path.join(dir, `${p}-lock`)]
    assert.equal(wouldGo.sort(), idleNames.sort())
    for (const n of idleNames)
      assert.ok(n.startsWith(dir) ? fs.existsSync(n) : IPCBuffer.exists('posix', n), `${n} still there after --dry-run`)
    // A System V key is named by its hex form for --prefix: its own run.
    const sysvDry = JSON.parse(
      (await ipcKit('gc', '--dry-run', '--json', '--prefix', '0x' + key.toString(16).padStart(8, '0'))).stdout,
    )
    assert.equal(
      sysvDry.map((o) => o.name),
      [key],
    )
    const run = await ipcKit('gc', '--prefix', p, '--dir', dir)
    assert.is(run.code, 0, run.stderr)
    assert.match(run.stdout, /^removed:/)
    assert.not.ok(IPCBuffer.exists('posix', `/${p}-idle-m`))
    assert.not.ok(IPCBuffer.exists('posix', `/${p}-idle-c`))
    assert.not.ok(fs.existsSync(path.join(dir, `${p}-lock`)))
    assert.ok(IPCBuffer.exists('posix', `/${p}-used-g`), 'held open by a live child')
    assert.ok(fs.existsSync(path.join(dir, `${p}-used`)), 'held by a live child')
    assert.ok(IPCBuffer.exists('posix', `/${p}-plain`), 'not recognisably ipc-kit: gc leaves it')
    assert.equal(
      gc({ prefix: '0x' + key.toString(16).padStart(8, '0') }).map((o) => o.name),
      [key],
    )
    assert.not.ok(IPCBuffer.exists('sysv', key))
  }))

test('exit codes: 1 and a message naming an unknown object; 2 and usage for bad arguments', async () => {
  const missing = `/${uniqueName('cli')}-absent`
  const r = await ipcKit('inspect', missing)
  assert.is(r.code, 1)
  assert.match(r.stderr, new RegExp(`ENOENT.*'${missing}'`))
  const rm = await ipcKit('rm', missing)
  assert.is(rm.code, 1)
  assert.match(rm.stderr, new RegExp(missing))
  for (const args of [
    ['frobnicate'],
    ['ls', '--bogus'],
    ['inspect'],
    ['inspect', 'a', 'b'],
    ['rm'],
    ['ls', 'extra'],
    ['gc', '--dir'],
    ['ls', '--json=yes'],
    ['inspect', '0x1x'],
  ]) {
    const bad = await ipcKit(...args)
    assert.is(bad.code, args[1] === '0x1x' ? 1 : 2, `${args.join(' ')}: ${bad.stderr}`)
    if (bad.code === 2) assert.match(bad.stderr, /usage: ipc-kit ls/)
  }
  const help = await ipcKit('--help')
  assert.is(help.code, 0)
  assert.match(help.stdout, /usage: ipc-kit ls/)
})

test('the JavaScript API checks its arguments', () => {
  throwsCode(() => list(5), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => list({ dir: 5 }), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => list({ prefix: 5 }), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => inspect(''), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => inspect({}), TypeError, 'ERR_INVALID_ARG_TYPE')
  throwsCode(() => inspect(2 ** 40), TypeError, 'ERR_INVALID_ARG_VALUE')
  throwsCode(() => remove(`/${uniqueName('cli')}-absent`), Error, 'ENOENT')
  throwsCode(() => gc('x'), TypeError, 'ERR_INVALID_ARG_TYPE')
})

skipIf(notRoot, test)('without permission: the object is still listed, with what could be read and EACCES', () =>
  withCleanup(async (cleanup) => {
    const name = `/${uniqueName('cli')}`
    const m = new Mutex(name)
    cleanup(() => m.close())
    cleanup(() => m.unlink())
    const { uid, gid } = nobody()
    const r = await runNode([BIN, 'ls', '--json', '--prefix', name.slice(1)], { timeout: 30000, uid, gid })
    assert.is(r.code, 0, r.stderr)
    const [o] = JSON.parse(r.stdout)
    assert.equal([o.name, o.type, o.error, o.size, o.mode, o.uid], [name, 'unknown', 'EACCES', 4096, 0o600, 0])
    const i = await runNode([BIN, 'inspect', name], { timeout: 30000, uid, gid })
    assert.is(i.code, 0, i.stderr)
    assert.match(i.stdout, /error: +EACCES/)
  }),
)

test.run()
