'use strict'
// One measurement of one build of ipc-kit, in a process of its own, for
// bench/engine-compare.js:  node bench/engine-compare-job.js BUILD_DIR JOB
// Prints one JSON line {"job", "value", "unit", "extra"?}. Only the public API
// is used, so that builds from before and after the wait engine's rebuild run
// the same code. PEER_BUILD runs the ping-pong's other process on another build;
// ENGINE_CMP_PIN=1 pins the ping-pong's processes to CPUs 0 and 1 (taskset).
const { execFileSync, fork } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const [build, job, ...rest] = process.argv.slice(2)
const kit = require(path.resolve(build))
const { Semaphore, Mutex } = kit
let serial = 0
const uniqueName = (tag) => `/engine-cmp-${tag}-${process.pid}-${++serial}`
const now = () => process.hrtime.bigint()
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const median = (a) => {
  const s = [...a].sort((x, y) => x - y)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const taskCount = () => fs.readdirSync('/proc/self/task').length

// CPU time, run-queue wait (ns) and timeslices summed over every thread of `pid` (/proc/PID/task/*/schedstat).
function sched(pid) {
  const out = { cpu: 0, wait: 0, slices: 0 }
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const [cpu, wait, slices] = fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ').map(Number)
      out.cpu += cpu
      out.wait += wait
      out.slices += slices
    } catch {}
  }
  return out
}

// The peer of the ping-pongs (forked with role 'pong').
async function pong(name1, name2, count, mode) {
  const ping = Semaphore.posix(name1, { create: false })
  const pongSem = Semaphore.posix(name2, { create: false })
  process.send('ready')
  const n = Number(count)
  if (mode === 'sync') {
    for (let i = 0; i < n; i++) {
      ping.waitSync()
      pongSem.post()
    }
  } else {
    for (let i = 0; i < n; i++) {
      await ping.wait()
      pongSem.post()
    }
  }
  ping.close()
  pongSem.close()
  process.disconnect()
}

// Round trip (ns) of a semaphore ping-pong between two processes: median of `reps` batches.
async function pingpong(mode) {
  const count = mode === 'sync' ? 20000 : 3000
  const reps = 5
  const a = uniqueName('ping')
  const b = uniqueName('pong')
  const ping = Semaphore.posix(a, { initial: 0, create: true })
  const pongSem = Semaphore.posix(b, { initial: 0, create: true })
  const child = fork(__filename, [process.env.PEER_BUILD || build, 'pong', a, b, String(count * (reps + 1) + 1), mode])
  await new Promise((r) => child.once('message', r))
  if (process.env.ENGINE_CMP_PIN) {
    // Each process on a CPU of its own, all its threads (those made later inherit it).
    execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' })
    execFileSync('taskset', ['-a', '-p', '-c', '1', String(child.pid)], { stdio: 'ignore' })
  }
  const out = []
  let s0, c0
  const extra = {}
  try {
    for (let r = 0; r <= reps; r++) {
      if (r === 1) {
        s0 = sched(process.pid)
        c0 = sched(child.pid)
      }
      const t0 = now()
      if (mode === 'sync') {
        for (let i = 0; i < count; i++) {
          ping.post()
          pongSem.waitSync()
        }
      } else {
        for (let i = 0; i < count; i++) {
          ping.post()
          await pongSem.wait()
        }
      }
      if (r > 0) out.push(Number(now() - t0) / count)
    }
    const s1 = sched(process.pid)
    const c1 = sched(child.pid)
    const ops = count * reps
    extra.cpu = (s1.cpu - s0.cpu + c1.cpu - c0.cpu) / ops
    extra.runq = (s1.wait - s0.wait + c1.wait - c0.wait) / ops
    extra.slices = (s1.slices - s0.slices + c1.slices - c0.slices) / ops
    ping.post()
    if (mode === 'sync') pongSem.waitSync()
    else await pongSem.wait()
  } finally {
    await new Promise((r) => child.once('exit', r))
    for (const s of [ping, pongSem]) {
      s.unlink()
      s.close()
    }
  }
  return {
    value: median(out),
    unit: 'ns',
    extra: { cpu: [extra.cpu, 'ns'], runq: [extra.runq, 'ns'], slices: [extra.slices, 'n'] },
  }
}

// (await m.acquire())() on an uncontended Mutex: ns per pair.
async function mutexAsyncPair() {
  const m = new Mutex(uniqueName('mutex'))
  const count = 50000
  const out = []
  try {
    for (let r = 0; r <= 5; r++) {
      const t0 = now()
      for (let i = 0; i < count; i++) (await m.acquire())()
      if (r > 0) out.push(Number(now() - t0) / count)
    }
  } finally {
    m.unlink()
    m.close()
  }
  return { value: median(out), unit: 'ns' }
}

function pendingWaits(count) {
  const sems = []
  for (let i = 0; i < count; i++) {
    const sem = Semaphore.posix(uniqueName('idle'), { initial: 0, create: true })
    sem.unlink()
    sems.push(sem)
  }
  const waits = sems.map((s) => s.wait().catch(() => {}))
  return {
    sems,
    waits,
    rearm: (i) => (waits[i] = sems[i].wait().catch(() => {})),
    close: async () => {
      for (const s of sems) s.close()
      await Promise.all(waits)
    },
  }
}

// Post to one of `count` idle waited semaphores (idle 2 ms first) until its wait() resolves: median ns.
async function wake(count) {
  const p = pendingWaits(count)
  const out = []
  let next = 0
  try {
    await sleep(100)
    for (let k = 0; k < 60; k++) {
      const i = (next = (next + 7919) % count)
      await sleep(2)
      const t0 = now()
      p.sems[i].post()
      await p.waits[i]
      if (k >= 10) out.push(Number(now() - t0))
      p.rearm(i)
    }
  } finally {
    await p.close()
  }
  return { value: median(out), unit: 'ns' }
}

// CPU (% of one core) of this process while 1,000 waits are pending and idle for `seconds`.
async function idleCpu(seconds) {
  const p = pendingWaits(1000)
  try {
    await sleep(300)
    global.gc?.()
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    await sleep(seconds * 1000)
    const c = process.cpuUsage(c0)
    return { value: ((c.user + c.system) / 1000 / (performance.now() - t0)) * 100, unit: '%' }
  } finally {
    await p.close()
  }
}

// Extra threads (/proc/self/task) while 1,000 waits are pending.
async function threads1000() {
  const before = taskCount()
  const p = pendingWaits(1000)
  await sleep(200)
  const during = taskCount() - before
  await p.close()
  return { value: during, unit: 'threads' }
}

const jobs = {
  pingpong_async: () => pingpong('async'),
  mutex_async_pair: mutexAsyncPair,
  pingpong_sync: () => pingpong('sync'),
  wake_1: () => wake(1),
  wake_100: () => wake(100),
  idle_cpu_1000: () => idleCpu(Number(process.env.IDLE_SECONDS || 10)),
  threads_1000: threads1000,
}

if (job === 'pong') {
  pong(...rest)
} else {
  jobs[job]().then(
    (r) => {
      console.log(JSON.stringify({ job, ...r }))
      process.exit(0)
    },
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
}
