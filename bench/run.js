'use strict'
// npm run bench [-- --quick] [-- --only REGEXP] [-- --report]
//
// Compiles the C limits (bench/baseline.c) with the system cc, runs every job
// of bench/jobs.js in its own child process, prints the table and writes
// bench/RESULTS.md and bench/results.svg. Each figure is the median of several
// repetitions (3 rounds over every job, 3 repetitions each; --quick: one
// round); every ratio is computed from figures of this one run.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { jobs } = require('./jobs')
const { FIGURES, COMPARISONS, ENGINE } = require('./scenarios')
const { formatFigure, renderTable, renderResults, renderSvg, engineRows } = require('./report')

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const onlyAt = args.indexOf('--only')
const only = onlyAt >= 0 ? new RegExp(args[onlyAt + 1]) : null
const REPS = quick ? 5 : 3
const ROUNDS = quick ? 1 : 3
const JOB_TIMEOUT = quick ? 30000 : 300000
const BUILD = path.join(__dirname, '.build')
// The figures of the last recorded run, for --report; a quick run keeps its own.
const LAST_RUN = path.join(BUILD, quick ? 'last-quick-run.json' : 'last-run.json')
const PREFIX = `ipckit-bench-${process.pid}`
const KEY_BASE = 0x1b000000 + (process.pid & 0xfff) * 0x2000

function compile(args, what) {
  const cc = process.env.CC || 'cc'
  const res = spawnSync(cc, args, { encoding: 'utf8' })
  if (res.status === 0) return true
  console.error(`bench: ${cc} could not build ${what}; its figures will be missing\n${res.stderr || res.error}`)
  return false
}

/** The C limits (bench/baseline.c) and a no-op Node-API addon (bench/noop.c), built with the system cc. */
function compileNative() {
  fs.mkdirSync(BUILD, { recursive: true })
  const baseline = path.join(BUILD, 'baseline')
  const noop = path.join(BUILD, 'noop.node')
  const headers = [
    path.resolve(process.execPath, '../../include/node'),
    path.join(os.homedir(), '.cache/node-gyp', process.versions.node, 'include/node'),
    '/usr/include/node',
  ].find((dir) => fs.existsSync(path.join(dir, 'node_api.h')))
  return {
    baseline: compile(['-O2', '-o', baseline, path.join(__dirname, 'baseline.c'), '-lrt'], 'bench/baseline.c')
      ? baseline
      : null,
    noop:
      headers &&
      compile(['-O2', '-shared', '-fPIC', `-I${headers}`, '-o', noop, path.join(__dirname, 'noop.c')], 'bench/noop.c')
        ? noop
        : null,
  }
}

/** Kills the running job's process group, if a job is running. */
let running = null

/** Runs one job in a child Node; resolves with {figures} or {unavailable} or {failed}. */
function runJob(id, index, context) {
  return new Promise((resolve) => {
    // Keys: a block of 64 for the job (jobs run one at a time, swept between),
    // and 1,024 more above them for a job that needs many.
    const keys = { keyBase: KEY_BASE + (index % 64) * 64, largeKeyBase: KEY_BASE + 0x1000 }
    const env = { ...process.env, BENCH_CONTEXT: JSON.stringify({ ...context, ...keys }) }
    // Its own process group, so a job that hangs goes with every peer it forked.
    const child = spawn(process.execPath, [path.join(__dirname, 'jobs.js'), id], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    let timedOut = false
    const killGroup = () => {
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {} // already gone
    }
    running = killGroup
    const timer = setTimeout(() => {
      timedOut = true
      killGroup()
    }, JOB_TIMEOUT)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      running = null
      const last = stdout.trim().split('\n').pop()
      if (code === 0 && last) {
        try {
          return resolve(JSON.parse(last))
        } catch {}
      }
      if (!timedOut) killGroup() // peers a failed job left behind
      const why = timedOut ? `timed out after ${JOB_TIMEOUT / 1000} s` : `exit ${code ?? signal}`
      resolve({ failed: `${why}: ${stderr.trim().split('\n').slice(-3).join(' | ')}` })
    })
  })
}

/** Removes whatever a crashed job may have left: names with our prefix, keys in our block. */
function sweep(context) {
  const left = []
  for (const entry of fs.readdirSync('/dev/shm')) {
    if (entry.startsWith(PREFIX) || entry.startsWith(`sem.${PREFIX}`)) {
      fs.rmSync(path.join('/dev/shm', entry), { force: true })
      left.push(`/dev/shm/${entry}`)
    }
  }
  for (const [flag, rm] of [
    ['-m', '-m'],
    ['-s', '-s'],
  ]) {
    const res = spawnSync('ipcs', [flag], { encoding: 'utf8' })
    for (const line of (res.stdout || '').split('\n')) {
      const [key, id] = line.trim().split(/\s+/)
      if (!/^0x[0-9a-f]+$/i.test(key || '')) continue
      const k = parseInt(key, 16)
      if (k >= KEY_BASE && k < KEY_BASE + 0x2000) {
        spawnSync('ipcrm', [rm, id])
        left.push(`System V ${flag === '-m' ? 'segment' : 'semaphore'} ${key}`)
      }
    }
  }
  fs.rmSync(context.tmp, { recursive: true, force: true })
  return left
}

function median(values) {
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8')
  const model = (cpuinfo.match(/^model name\s*:\s*(.*)$/m) || [])[1] || os.cpus()[0]?.model || 'unknown CPU'
  const cpus = (cpuinfo.match(/^processor\s*:/gm) || []).length || os.cpus().length
  let distro = os.type()
  try {
    distro = (fs.readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)"?$/m) || [])[1] || distro
  } catch {}
  const flags = (cpuinfo.match(/^flags\s*:(.*)$/m) || [])[1] || ''
  const virt = / hypervisor( |$)/.test(flags) ? ', virtual machine' : ''
  return `${cpus} × ${model}${virt}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM; ${distro}, Linux ${os.release()} ${os.arch()}`
}

async function main() {
  if (args.includes('--report')) {
    // Rewrites RESULTS.md and results.svg from the last full run (after editing analysis.md or the report code).
    return write(JSON.parse(fs.readFileSync(LAST_RUN, 'utf8')))
  }
  const started = new Date()
  const loadAtStart = os.loadavg()[0].toFixed(2)
  const { baseline, noop } = compileNative()
  const context = {
    quick,
    reps: REPS,
    prefix: PREFIX,
    baseline,
    noop,
    tmp: fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-`)),
  }
  // However the runner ends (an exception, a closed stdout), nothing stays behind.
  process.on('exit', () => {
    running?.()
    sweep(context)
  })
  process.stdout.on('error', () => process.exit(1))
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      running?.()
      const left = sweep(context)
      console.log(`\ninterrupted${left.length ? `; removed ${left.join(', ')}` : ''}`)
      process.exit(130)
    })
  }
  const figures = {}
  const notes = {}
  const ids = Object.keys(jobs).filter((id) => !only || only.test(id))
  console.log(
    `ipc-kit benchmarks${quick ? ' (quick)' : ''}: ${ids.length} jobs, ${ROUNDS} round${ROUNDS > 1 ? 's' : ''} of ${REPS} repetitions each\n`,
  )
  let left = []
  try {
    // Rounds over the whole list: a busy spell of the machine then hits every
    // scenario a little rather than a few of them a lot.
    for (let round = 1; round <= ROUNDS; round++) {
      if (ROUNDS > 1) console.log(`round ${round} of ${ROUNDS}`)
      for (const [index, id] of ids.entries()) {
        if ((id.startsWith('c.') && !baseline) || (id === 'ref.napi_noop' && !noop)) {
          notes[id] = 'not measured: bench/.build could not be compiled (see above)'
          continue
        }
        const t0 = Date.now()
        const result = await runJob(id, index, context)
        const secs = ((Date.now() - t0) / 1000).toFixed(1)
        if (result.figures) {
          for (const [fid, f] of Object.entries(result.figures)) {
            const samples = (figures[fid]?.samples || []).concat(f.samples)
            figures[fid] = {
              unit: f.unit,
              samples,
              median: median(samples),
              min: Math.min(...samples),
              max: Math.max(...samples),
            }
            console.log(
              `  ${fid.padEnd(30)} ${formatFigure({ ...f, median: median(f.samples) }).padStart(12)}   (${secs} s)`,
            )
          }
        } else {
          notes[id] = result.unavailable
            ? `not measured: ${result.unavailable}`
            : `failed${ROUNDS > 1 ? ` in round ${round}` : ''}: ${result.failed}`
          console.log(
            `  ${id.padEnd(30)} ${result.unavailable ? `not measured: ${result.unavailable}` : 'FAILED'}   (${secs} s)${result.failed ? `\n    ${result.failed}` : ''}`,
          )
        }
      }
    }
  } finally {
    left = sweep(context)
  }
  if (left.length) console.log(`\nremoved leftovers: ${left.join(', ')}`)

  const command = `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`
  const meta = {
    command,
    date: started.toISOString().replace(/\.\d+Z$/, 'Z'),
    seconds: Math.round((Date.now() - started) / 1000),
    machine: machine(),
    node: `Node ${process.version} (V8 ${process.versions.v8}), ${os.arch()}`,
    load: [loadAtStart, os.loadavg()[0].toFixed(2)],
    commit: gitCommit(),
    reps: REPS * ROUNDS,
    rounds: ROUNDS,
    quick,
  }
  const rows = compare(figures, notes)
  console.log(`\n${renderTable(rows)}`)
  const engine = engineRows(ENGINE, figures).filter((r) => figures[r.id])
  if (engine.length)
    console.log(
      `\nwait engine:\n${engine.map((r) => `  ${r.cells.filter((c, i) => i !== 1 && c).join('  ')}`).join('\n')}`,
    )
  console.log(
    `\n${rows.filter((r) => r.met === true).length} goals met, ${rows.filter((r) => r.met === false).length} not met, ${rows.filter((r) => r.goal && r.met === null).length} not measured; ${meta.seconds} s`,
  )
  if (only) return // a partial run does not replace the recorded results
  fs.writeFileSync(LAST_RUN, JSON.stringify({ meta, figures, notes }, null, 1))
  write({ meta, figures, notes })
}

/** The commit measured, with a note when the tree differs from it. */
function gitCommit() {
  const git = (...a) => spawnSync('git', a, { cwd: path.join(__dirname, '..'), encoding: 'utf8' })
  const head = git('rev-parse', '--short', 'HEAD')
  if (head.status !== 0) return null
  const dirty = git('status', '--porcelain', '--untracked-files=no', '--', 'lib', 'native', 'binding.gyp').stdout.trim()
  return `${head.stdout.trim()}${dirty ? ' with uncommitted changes to lib/ or native/' : ''}`
}

/** The rows of the result table: each comparison of scenarios.js with its speedup and verdict. */
function compare(figures, notes) {
  const rows = COMPARISONS.map((c) => {
    const kit = figures[c.kit]
    const vs = figures[c.vs]
    let speedup = null
    if (kit && vs) speedup = kit.unit === 'GB/s' ? kit.median / vs.median : vs.median / kit.median
    const met = speedup === null || !c.goal ? null : speedup >= c.goal.min
    return { ...c, kitFigure: kit, vsFigure: vs, speedup, met, missing: !kit ? c.kit : !vs ? c.vs : null }
  })
  const why = (id) => notes[id] || notes[Object.keys(notes).find((j) => id.startsWith(j)) || ''] || 'not measured'
  for (const r of rows)
    if (r.missing) r.missingWhy = why(r.missing.replace(/^(kit|alt\.plain|alt\.shmta)\.buf_.*/, 'bufops'))
  return rows
}

/** Writes bench/RESULTS.md (with bench/analysis.md, hand-written) and bench/results.svg. */
function write({ meta, figures, notes }) {
  const rows = compare(figures, notes)
  const analysisFile = path.join(__dirname, 'analysis.md')
  const analysis = fs.existsSync(analysisFile) ? fs.readFileSync(analysisFile, 'utf8') : ''
  fs.writeFileSync(
    path.join(__dirname, 'RESULTS.md'),
    renderResults({ meta, rows, figures, notes, labels: FIGURES, analysis, engine: ENGINE }),
  )
  fs.writeFileSync(path.join(__dirname, 'results.svg'), renderSvg(rows, meta))
  console.log('wrote bench/RESULTS.md and bench/results.svg')
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
