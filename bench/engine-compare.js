'use strict'
// The wait engine before its rebuild (one thread per object with a pending
// wait, waking every 50 ms) against this checkout, in one sitting:
//
//   node bench/engine-compare.js [--rounds 5] [--only REGEXP] [--raw] [--pin] [--build NAME=DIR ...]
//
// --pin: the ping-pongs' two processes each on a CPU of its own (0 and 1).
// Without --build it compares old=the last commit before the rebuild (built
// once from this repository's history into bench/.build/, npm ci there) with
// new=this checkout (built: npm ci or npm run prebench). Every job runs in a fresh process
// per build (bench/engine-compare-job.js), the builds alternating, their
// order reversed every other round; the table gives medians and ranges over
// the rounds and the load average of each round. On a machine others use,
// only figures from the same sitting compare, and even they only roughly.
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const OLD_REV = '9d31a32'
const REPO = path.join(__dirname, '..')
const OLD_DIR = path.join(__dirname, '.build', `old-engine-${OLD_REV}`)
const JOBS = [
  'pingpong_async',
  'mutex_async_pair',
  'pingpong_sync',
  'wake_1',
  'wake_100',
  'idle_cpu_1000',
  'threads_1000',
]
const ABOUT = {
  pingpong_async: 'semaphore ping-pong round trip between 2 processes, await wait() (bench: kit.pingpong_async)',
  'pingpong_async.cpu': '  its CPU time per round trip, every thread of both processes (/proc/*/task/*/schedstat)',
  'pingpong_async.runq': '  its time spent runnable but waiting for a CPU, per round trip',
  'pingpong_async.slices': '  its timeslices (times a thread got a CPU) per round trip',
  mutex_async_pair: 'uncontended (await m.acquire())() (bench: kit.mutex_async_pair)',
  pingpong_sync: 'the same ping-pong with waitSync() (bench: kit.pingpong_sync)',
  'pingpong_sync.cpu': '  its CPU time per round trip',
  'pingpong_sync.runq': '  its run-queue wait per round trip',
  'pingpong_sync.slices': '  its timeslices per round trip',
  wake_1: 'post to an idle waited semaphore until its wait() resolves, 1 wait pending (median of 50)',
  wake_100: 'the same with 100 waits pending, on 100 semaphores',
  idle_cpu_1000: 'CPU of one core while 1,000 waits on 1,000 semaphores are pending and idle, 10 s',
  threads_1000: 'extra threads (/proc/self/task) for 1,000 pending waits on 1,000 semaphores',
}

const args = process.argv.slice(2)
let rounds = 5
let only = null
let raw = false
let pin = false
const builds = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--rounds') rounds = Number(args[++i])
  else if (args[i] === '--only') only = new RegExp(args[++i])
  else if (args[i] === '--raw') raw = true
  else if (args[i] === '--pin') pin = true
  else if (args[i] === '--build') {
    const [name, dir] = args[++i].split('=')
    builds.push({ name, dir: path.resolve(dir) })
  } else {
    console.error(`unknown argument ${args[i]}`)
    process.exit(2)
  }
}
if (builds.length === 0) builds.push({ name: 'old', dir: OLD_DIR }, { name: 'new', dir: REPO })

/** The old engine's checkout and build, made once from this repository's history. */
function buildOld() {
  if (fs.existsSync(path.join(OLD_DIR, 'dist', 'index.js'))) return
  console.log(`building the engine before its rebuild (${OLD_REV}) in ${OLD_DIR}: a few minutes, once`)
  fs.rmSync(OLD_DIR, { recursive: true, force: true })
  fs.mkdirSync(OLD_DIR, { recursive: true })
  const archive = execFileSync('git', ['-C', REPO, 'archive', OLD_REV], { maxBuffer: 1 << 30 })
  execFileSync('tar', ['-x', '-C', OLD_DIR], { input: archive })
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: OLD_DIR, stdio: 'inherit' })
}
if (builds.some((b) => b.dir === OLD_DIR)) buildOld()
for (const b of builds) {
  if (!fs.existsSync(path.join(b.dir, 'dist', 'index.js'))) {
    console.error(`${b.name}: ${b.dir} has no dist/index.js (npm ci there first)`)
    process.exit(2)
  }
}

const jobs = JOBS.filter((j) => !only || only.test(j))
const rows = [...jobs] // with the secondary figures a job reports, after it
const results = {} // row -> build name -> values, one per round
const units = {}
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')
const revision = (dir) => {
  const res = spawnSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' })
  return res.status === 0 && dir !== OLD_DIR ? res.stdout.trim() : dir === OLD_DIR ? OLD_REV : '?'
}
const record = (row, name, value, unit) => {
  if (unit !== undefined) units[row] = unit
  ;((results[row] ??= {})[name] ??= []).push(value)
}

console.log(`${new Date().toISOString()}: ${os.cpus().length} CPUs, Linux ${os.release()}, Node ${process.version}`)
for (const b of builds) console.log(`  ${b.name}: ${b.dir} (${revision(b.dir)})`)
console.log(`load average at the start: ${load()}${pin ? '; ping-pong processes pinned to CPUs 0 and 1' : ''}`)
const loads = []
const t0 = Date.now()
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? [...builds].reverse() : builds
  for (const job of jobs) {
    for (const b of order) {
      const run = spawnSync(
        process.execPath,
        ['--expose-gc', path.join(__dirname, 'engine-compare-job.js'), b.dir, job],
        { encoding: 'utf8', timeout: 120000, env: pin ? { ...process.env, ENGINE_CMP_PIN: '1' } : process.env },
      )
      let parsed = { value: NaN }
      try {
        parsed = JSON.parse((run.stdout || '').trim().split('\n').pop())
      } catch {
        console.error(`${b.name} ${job} failed (${run.status ?? run.signal}): ${(run.stderr || '').slice(-400)}`)
      }
      record(job, b.name, parsed.value, parsed.unit)
      const extras = Object.entries(parsed.extra || {})
      extras.forEach(([key, [value, unit]], k) => {
        const row = `${job}.${key}`
        if (!rows.includes(row)) rows.splice(rows.indexOf(job) + 1 + k, 0, row)
        record(row, b.name, value, unit)
      })
    }
  }
  loads.push(load())
  console.log(`round ${r + 1}/${rounds} done after ${((Date.now() - t0) / 1000).toFixed(0)} s, load average ${load()}`)
}

const median = (values) => {
  const s = values.filter((x) => !Number.isNaN(x)).sort((x, y) => x - y)
  if (s.length === 0) return NaN
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const fmt = (v, unit) => {
  if (Number.isNaN(v) || !Number.isFinite(v)) return 'n/a'
  if (unit === 'ns') {
    if (v >= 1e6) return `${(v / 1e6).toFixed(2)} ms`
    return v >= 1e3 ? `${(v / 1e3).toFixed(1)} µs` : `${v.toFixed(0)} ns`
  }
  if (unit === '%') return `${v.toFixed(2)}%`
  if (unit === 'n') return v.toFixed(2)
  return `${v}`
}
const names = builds.map((b) => b.name)
const base = names[0]
console.log(`\nload average (1, 5, 15 min) after each round: ${loads.join(' | ')}\n`)
console.log(
  `| job | ${names.map((n) => `${n}: median (min – max)`).join(' | ')} | ${names
    .slice(1)
    .map((n) => `${n} / ${base}`)
    .join(' | ')} |`,
)
console.log(
  `|---|${names.map(() => '---|').join('')}${names
    .map(() => '---|')
    .join('')
    .slice(4)}`,
)
for (const row of rows) {
  const unit = units[row]
  const cells = names.map((n) => {
    const ok = (results[row][n] || []).filter((x) => !Number.isNaN(x))
    return `${fmt(median(ok), unit)} (${fmt(Math.min(...ok), unit)} – ${fmt(Math.max(...ok), unit)})`
  })
  const ratios = names.slice(1).map((n) => `${(median(results[row][n]) / median(results[row][base])).toFixed(2)}×`)
  console.log(`| ${row} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`)
}
console.log(`\n${rounds} rounds; each figure is one fresh process's median.`)
for (const row of rows) console.log(`- ${row}: ${ABOUT[row] || ''}`)
if (raw) {
  console.log('\nEvery value, in the order measured:')
  for (const row of rows) {
    for (const n of names) console.log(`${row} ${n}: ${results[row][n].map((v) => fmt(v, units[row])).join(' ')}`)
  }
}
