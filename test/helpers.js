'use strict'
// Shared by the test files: unique names, cleanup, and child processes.
const { spawn, spawnSync } = require('node:child_process')
const { join } = require('node:path')
const os = require('node:os')
const fs = require('node:fs')

let counter = 0

/** A name no other test (or concurrent run) uses: prefix, pid and a counter. */
function uniqueName(prefix = 't') {
  return `ipckit-${prefix}-${process.pid}-${++counter}`
}

/** A System V key unique to this process and call. */
function uniqueKey() {
  return ((process.pid & 0x7fff) << 16) | (++counter & 0xffff) || 1
}

/** A file path in the OS temp dir. */
function uniquePath(prefix = 'f') {
  return join(os.tmpdir(), uniqueName(prefix))
}

/**
 * Runs fn(cleanup) and always runs the registered cleanups afterwards,
 * even when fn throws: each test removes what it created.
 */
async function withCleanup(fn) {
  const undo = []
  try {
    return await fn((action) => undo.push(action))
  } finally {
    for (const action of undo.reverse()) {
      try {
        action()
      } catch {}
    }
  }
}

const FIXTURES = join(__dirname, 'fixtures')
// The command that starts a child Node (e.g. qemu for an emulated arm64 run).
const NODE = process.env.IPC_KIT_TEST_NODE ? process.env.IPC_KIT_TEST_NODE.split(' ') : [process.execPath]
// Emulated children start in seconds, more on a busy machine: their default time limits stretch.
const SLOW = NODE.join(' ').includes('qemu') ? 6 : 1

/**
 * Runs `node ...argv` (or the command in IPC_KIT_TEST_NODE), with `env` added
 * to ours, and resolves with its exit code, signal, stdout, stderr and IPC
 * messages. Bounded: killed after `timeout` ms.
 */
function runNode(argv, { timeout, uid, gid, env, ipc = false, onMessage, onSpawn, launcher = [] } = {}) {
  // Another user may not reach this checkout (a 0700 home, mktemp -d): its child runs a readable copy.
  const stage = uid === undefined ? undefined : stagePackage()
  if (stage !== undefined)
    argv = argv.map((arg) => (arg.startsWith(ROOT + '/') ? join(stage, arg.slice(ROOT.length + 1)) : arg))
  const removeStage = () => stage !== undefined && fs.rmSync(stage, { recursive: true, force: true })
  return new Promise((resolve, reject) => {
    // launcher: a command that runs Node with changed limits (e.g. prlimit ... --).
    const [cmd, ...pre] = [...launcher, ...NODE]
    const stdio = ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe']
    const child = spawn(cmd, [...pre, ...argv], { stdio, uid, gid, env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    const messages = []
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('message', (m) => {
      messages.push(m)
      if (onMessage) onMessage(m, child)
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout)
    child.on('error', (err) => {
      clearTimeout(timer)
      removeStage()
      reject(err)
    })
    // 'exit' can come before the last of the output (slow machines, emulation):
    // resolve once both pipes have ended, or 1 s after the exit (a grandchild may hold them).
    let ended = 0
    let exited
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      removeStage()
      resolve({ ...exited, stdout, stderr, messages })
    }
    const onEnd = () => ++ended === 2 && exited !== undefined && finish()
    child.stdout.on('end', onEnd)
    child.stderr.on('end', onEnd)
    child.on('exit', (code, signal) => {
      exited = { code, signal }
      if (ended === 2) finish()
      else setTimeout(finish, 1000)
    })
    if (onSpawn) onSpawn(child)
  })
}

const ROOT = join(__dirname, '..')

/**
 * A copy of what a child needs to load the package and run a fixture or the
 * command (package.json, dist/, the addon, node-gyp-build, test/fixtures/, bin/) in a fresh directory every
 * user can read, laid out as here: the caller removes it.
 */
function stagePackage() {
  const stage = fs.mkdtempSync(join(os.tmpdir(), 'ipckit-stage-'))
  const parts = [
    'package.json',
    'dist',
    'build/Release/ipc_kit.node',
    'prebuilds',
    'node_modules/node-gyp-build',
    'test/fixtures',
    'bin',
  ]
  for (const part of parts) {
    if (fs.existsSync(join(ROOT, part))) fs.cpSync(join(ROOT, part), join(stage, part), { recursive: true })
  }
  // mkdtemp makes it 0700; copies keep their modes, which a 0700 checkout may not give others either.
  const open = (path) => {
    const stat = fs.statSync(path)
    fs.chmodSync(path, stat.isDirectory() || stat.mode & 0o111 ? 0o755 : 0o644)
    if (stat.isDirectory()) for (const entry of fs.readdirSync(path)) open(join(path, entry))
  }
  open(stage)
  return stage
}

/** Runs a fixture of test/fixtures with an IPC channel: see runNode. */
function runChild(fixture, args = [], { timeout = 20000 * SLOW, execArgv = [], ...options } = {}) {
  return runNode([...execArgv, join(FIXTURES, fixture), ...args.map(String)], { timeout, ipc: true, ...options })
}

/**
 * Runs `fixture` (with --expose-gc) as `fixture MODE PREFIX ...args`, a child
 * that sends one report; checks it exited cleanly and resolves with the
 * report. Whatever it leaves in /dev/shm under PREFIX is removed at cleanup.
 */
async function runReport(fixture, cleanup, mode, args, env = {}, launcher = []) {
  // Required here: children that load this file (a staged copy of the package) have no uvu.
  const assert = require('uvu/assert')
  const prefix = uniqueName(mode.slice(0, 8))
  cleanup(() => {
    for (const f of fs.readdirSync('/dev/shm')) if (f.includes(prefix)) fs.rmSync(`/dev/shm/${f}`, { force: true })
  })
  const { code, signal, stderr, messages } = await runChild(fixture, [mode, prefix, ...args], {
    timeout: 90000,
    env,
    execArgv: ['--expose-gc'],
    launcher,
  })
  assert.is(signal, null, stderr)
  assert.is(code, 0, stderr)
  assert.ok(messages.length === 1, `no report: ${stderr}`)
  if (process.env.IPC_KIT_VERBOSE) console.log(fixture, mode, env, JSON.stringify(messages[0]).slice(0, 300))
  return messages[0]
}

/**
 * Checks a SharedMap's byte accounting: a walk of every block agrees with its
 * counters, and the counters add up to the object's size. Returns its stats().
 */
function accounted(map) {
  // Required here: children that load this file (a staged copy of the package) have no uvu.
  const assert = require('uvu/assert')
  const walked = require('../dist/shared-map').verifySharedMap(map)
  const stats = map.stats()
  assert.is(stats.bytes + stats.free + stats.overhead, stats.total)
  assert.is(walked.live, stats.bytes)
  assert.is(walked.free, stats.free)
  assert.is(walked.entries, stats.entries)
  return stats
}

/** Runs a script (a path) in a child Node without an IPC channel: see runNode. */
function runScript(file, args = [], timeout = 60000, { execArgv = [], env } = {}) {
  return runNode([...execArgv, file, ...args.map(String)], { timeout, env })
}

/** Resolves once `cond()` holds (looking every 10 ms); rejects after `ms`, naming `what`. */
async function until(cond, ms, what) {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Resolves with the child's first IPC message matching `predicate`, bounded by `timeout`. */
function nextMessage(child, predicate = () => true, timeout = 10000 * SLOW) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage)
      reject(new Error('timed out waiting for a message from the child'))
    }, timeout)
    function onMessage(m) {
      if (!predicate(m)) return
      clearTimeout(timer)
      child.off('message', onMessage)
      resolve(m)
    }
    child.on('message', onMessage)
  })
}

/** uid/gid of an unprivileged user, for permission tests run as root. */
function nobody() {
  try {
    const line = fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('nobody:'))
    const [, , uid, gid] = line.split(':')
    return { uid: Number(uid), gid: Number(gid) }
  } catch {
    return { uid: 65534, gid: 65534 }
  }
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
/** Why a test that starts a child as another user cannot run here (see skipIf), or null. */
const notRoot = isRoot ? null : 'only root can start a child as another user'

/**
 * For a test that cannot run everywhere: `reason` (why it cannot run here) or
 * a falsy value, decided when the test is defined. Returns `test` itself when
 * it can run, else a stand-in that registers the test as skipped (uvu counts it
 * under "Skipped:", never as passed) and prints which and why.
 *   skipIf(notRoot, test)('title', () => ...)
 */
function skipIf(reason, test) {
  if (!reason) return test
  return (title, fn) => {
    // npm test -- -t NAME: false when the test is not one of those selected.
    if (test.skip(title, fn) !== false) console.log(`  - skipped: ${title} (${reason})`)
  }
}

/** Why `cmd args` cannot be used here (it is missing or fails), or null when it runs. */
function cannotRun(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10000 })
  if (r.error) return r.error.code === 'ENOENT' ? `no ${cmd} here` : `${cmd}: ${r.error.message}`
  return r.status === 0
    ? null
    : `${cmd} ${args.join(' ')} fails here (exit ${r.status}${r.signal ? `, ${r.signal}` : ''})`
}

/** Our objects left in /dev/shm, to assert that a suite removed what it made. */
function leftoversInDevShm() {
  return fs.readdirSync('/dev/shm').filter((f) => f.includes(`ipckit-`) && f.includes(`-${process.pid}-`))
}

/**
 * A new semaphore of `kind` ('posix' or 'sysv') under a unique name, created
 * with `options` (initial 0 unless given); `cleanup` closes and removes it.
 * Its `name` ('/name' or the key) is what another process passes to open it.
 */
function freshSemaphore(kind, cleanup, options = {}) {
  const { Semaphore } = require('..')
  const id = kind === 'sysv' ? uniqueKey() : uniqueName('sem')
  const sem = Semaphore[kind](id, { initial: 0, ...options })
  cleanup(() => sem.close())
  cleanup(() => Semaphore.unlink(kind, id))
  return sem
}

/** Resolves with the error when `promise` rejects with `code`; throws if it resolves or rejects otherwise. */
async function rejectsCode(promise, Type, code) {
  try {
    await promise
  } catch (err) {
    if (!(err instanceof Type))
      throw new Error(
        `expected ${Type.name}, got ${err && err.constructor && err.constructor.name}: ${err && err.message}`,
      )
    if (err.code !== code) throw new Error(`expected code ${code}, got ${err.code}: ${err.message}`)
    return err
  }
  throw new Error(`expected a rejection with ${Type.name} ${code}, it resolved`)
}

function throwsCode(fn, Type, code) {
  try {
    fn()
  } catch (err) {
    if (!(err instanceof Type))
      throw new Error(
        `expected ${Type.name}, got ${err && err.constructor && err.constructor.name}: ${err && err.message}`,
      )
    if (err.code !== code) throw new Error(`expected code ${code}, got ${err.code}: ${err.message}`)
    return err
  }
  throw new Error(`expected ${Type.name} ${code}, nothing was thrown`)
}

module.exports = {
  uniqueName,
  uniqueKey,
  uniquePath,
  withCleanup,
  runNode,
  runChild,
  runReport,
  accounted,
  runScript,
  nextMessage,
  until,
  nobody,
  notRoot,
  skipIf,
  cannotRun,
  leftoversInDevShm,
  throwsCode,
  rejectsCode,
  freshSemaphore,
  NODE,
  FIXTURES,
}
