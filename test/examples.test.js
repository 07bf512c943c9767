'use strict'
// Every program in examples/ runs and prints what it promises.
const path = require('node:path')
const { test } = require('uvu')
const assert = require('uvu/assert')
const fs = require('node:fs')
const { runScript, uniquePath, withCleanup } = require('./helpers')

const EXAMPLES = path.join(__dirname, '..', 'examples')

/** Runs an example in a child Node; bounded. */
const run = (file, args, timeout) => runScript(path.join(EXAMPLES, file), args, timeout)

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

test('job-queue: every job done exactly once by the forked workers, and a rate', async () => {
  const { code, stdout, stderr } = await run('job-queue.js', ['--workers', '3', '--jobs', '3000'], 60000)
  assert.is(stderr, '')
  assert.match(stdout, /^3000 jobs, 3 workers: \d+ \+ \d+ \+ \d+ jobs each\n/)
  const each = /workers: (\d+) \+ (\d+) \+ (\d+)/.exec(stdout).slice(1).map(Number)
  assert.is(each[0] + each[1] + each[2], 3000)
  assert.match(stdout, /results  3000 \(3000 distinct\), checksum 13504500\n/)
  assert.match(stdout, /time {5}\d+\.\d{3} s, [\d,]+ jobs\/s\n$/)
  assert.is(code, 0)
})

test('job-queue: bad flags exit 2 with a message', async () => {
  const { code, stderr } = await run('job-queue.js', ['--workers', '0'])
  assert.is(code, 2)
  assert.match(stderr, /--workers must be a positive integer/)
})

test('share-buffer: the child reads what the parent wrote and answers in place', async () => {
  const { code, stdout } = await run('share-buffer.js')
  assert.is(code, 0)
  assert.match(stdout, /^parent \d+ wrote "hello from \d+"\nchild \d+ read "hello from \d+"\n$/)
})

test('file-counter: the count survives restarts; --remove deletes the file', () =>
  withCleanup(async (cleanup) => {
    const file = uniquePath('file-counter')
    cleanup(() => fs.rmSync(file, { force: true }))
    for (const n of [1, 2, 3]) {
      const { code, stdout } = await run('file-counter.js', [file])
      assert.is(code, 0)
      assert.is(stdout, `run ${n} of the counter in ${file}\n`)
    }
    const { code, stdout } = await run('file-counter.js', [file, '--remove'])
    assert.is(code, 0)
    assert.is(stdout, `run 4 of the counter in ${file}\nremoved\n`)
    assert.is(fs.existsSync(file), false)
  }))

test('producer-consumer: every item arrives once, in order, through the bounded ring', async () => {
  const { code, stdout, stderr } = await run('producer-consumer.js', ['--items', '2000', '--slots', '4'])
  assert.is(stderr, '')
  assert.match(stdout, /^2000 items through 4 slots in \d+ ms\n/)
  assert.match(stdout, 'last item received: "item 2000"\n')
  assert.match(stdout, 'sum of items: 2001000 (expected 2001000)\n')
  assert.is(code, 0)
})

test('constructor-forms: the legacy call forms give the documented kinds and bytes', async () => {
  const { code, stdout, stderr } = await run('constructor-forms.js')
  assert.is(stderr, '')
  assert.is(code, 0)
  const lines = stdout.trim().split('\n')
  assert.is(lines.length, 8)
  assert.match(lines[0], /^IPCBuffer\(5\) +kind=memory length=5 "hello"$/)
  assert.match(lines[1], /kind=memory length=2 "cafe"$/)
  assert.match(lines[2], /kind=memory length=5 "héllo"$/)
  assert.match(lines[3], /kind=memory length=8 "abXYZfgh"$/)
  assert.match(lines[4], /kind=posix length=16 "posix shm"$/)
  assert.match(lines[5], /kind=file length=16 "in a file"$/)
  assert.match(lines[6], /kind=sysv length=16 "system v"$/)
  assert.is(lines[7], 'a second mapping of the POSIX object reads "posix shm"')
})

test('cluster-cache: cluster workers share one SharedMap behind keyv; each id is computed about once', async () => {
  const { code, stdout, stderr } = await run('cluster-cache.js', ['--workers', '3', '--lookups', '300', '--ids', '50'])
  assert.is(stderr, '')
  assert.is(code, 0)
  const [, computed, served] = /computed (\d+) times, served from the shared cache (\d+) times/.exec(stdout).map(Number)
  assert.match(stdout, /^3 workers x 300 lookups of 50 ids through keyv\n/)
  assert.is(computed + served, 900)
  // A worker computes an id only when no worker has stored it yet.
  assert.ok(computed >= 50 && computed <= 150, `computed ${computed} times`)
  assert.match(stdout, `cache: 50 entries, ${served} hits, ${computed} misses\n`)
})

test('every example is tested here', () => {
  const tested = [
    'counter.js',
    'share-buffer.js',
    'file-counter.js',
    'producer-consumer.js',
    'constructor-forms.js',
    'job-queue.js',
    'cluster-cache.js',
  ]
  assert.equal(
    fs
      .readdirSync(EXAMPLES)
      .filter((f) => f.endsWith('.js'))
      .sort(),
    tested.sort(),
  )
})

test.run()
