'use strict'
// Every program in examples/ runs and prints what it promises.
const { spawn } = require('node:child_process')
const path = require('node:path')
const { test } = require('uvu')
const assert = require('uvu/assert')
const { NODE } = require('./helpers')

const EXAMPLES = path.join(__dirname, '..', 'examples')

/** Runs an example in a child Node; bounded. */
function run(file, args = [], timeout = 60000) {
  return new Promise((resolve, reject) => {
    const [cmd, ...pre] = NODE
    const child = spawn(cmd, [...pre, path.join(EXAMPLES, file), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

test('counter: every kind, both lock forms, exact count and a rate', async () => {
  for (const args of [[], ['--kind', 'file', '--procs', '2'], ['--kind', 'sysv', '--sync', '--procs', '3']]) {
    const { code, stdout, stderr } = await run('counter.js', ['--n', '20000', ...args])
    assert.is(stderr, '')
    const procs = args.includes('--procs') ? Number(args[args.indexOf('--procs') + 1]) : 4
    const expected = procs * 20000
    assert.match(stdout, new RegExp(`^${procs} processes x 20000 increments under GuardedBuffer\\.withLock`))
    assert.match(stdout, `expected ${expected}\nfinal    ${expected}\n`)
    assert.match(stdout, /time {5}\d+\.\d{3} s, [\d,]+ increments\/s\n/)
    assert.match(stdout, /OK: no update lost\n$/)
    assert.is(code, 0)
  }
})

test('counter --unguarded: reports the updates it lost and exits 1 if any', async () => {
  const { code, stdout } = await run('counter.js', ['--n', '200000', '--unguarded'])
  const final = Number(/final {4}(\d+)/.exec(stdout)[1])
  assert.match(stdout, /^4 processes x 200000 increments without the lock/)
  assert.ok(final <= 800000)
  if (final < 800000) {
    assert.match(stdout, `lost ${800000 - final} updates\n`)
    assert.is(code, 1)
  } else {
    assert.is(code, 0)
  }
})

test('counter: bad flags exit 2 with a message', async () => {
  const { code, stderr } = await run('counter.js', ['--procs', 'zero'])
  assert.is(code, 2)
  assert.match(stderr, /--procs must be a positive integer/)
})

test('share-buffer: the child reads what the parent wrote and answers in place', async () => {
  const { code, stdout } = await run('share-buffer.js')
  assert.is(code, 0)
  assert.match(stdout, /^parent \d+ wrote "hello from \d+"\nchild \d+ read "hello from \d+"\n$/)
})

test.run()
