'use strict'
// A job queue across processes: the primary puts jobs on one channel, N
// forked workers take them (each job reaches exactly one worker) and put
// their results on a second channel, which the primary drains. Sealing the
// jobs channel tells the workers there is no more work.
//
//   node examples/job-queue.js [--workers 4] [--jobs 100000]
const { fork } = require('node:child_process')
const { Channel } = require('..')

async function worker(jobsName, resultsName) {
  const jobs = Channel.open(jobsName, { create: false })
  const results = Channel.open(resultsName, { create: false })
  let done = 0
  for await (const job of jobs) {
    // The work: sum the numbers of the job.
    let sum = 0
    for (const x of job.numbers) sum += x
    await results.send({ id: job.id, sum, by: process.pid })
    done++
  }
  jobs.close()
  results.close()
  process.send(done)
}

async function primary(workers, count) {
  const tag = `${process.pid}`
  const jobs = Channel.open(`ipckit-jobs-${tag}`, { capacity: 1 << 20 })
  const results = Channel.open(`ipckit-results-${tag}`, { capacity: 1 << 20 })
  const children = []
  for (let i = 0; i < workers; i++) {
    children.push(fork(__filename, ['--worker', `ipckit-jobs-${tag}`, `ipckit-results-${tag}`]))
  }
  const perWorker = children.map((c) => new Promise((resolve) => c.once('message', resolve)))
  const t0 = performance.now()
  // Send every job (waiting while the channel is full) while collecting results.
  const sending = (async () => {
    for (let id = 0; id < count; id++) await jobs.send({ id, numbers: [id, id + 1, id + 2] })
    jobs.seal() // no more jobs: each worker's loop ends once the channel is drained
  })()
  let received = 0
  let total = 0
  const seen = new Set()
  while (received < count) {
    const { id, sum, by } = await results.receive()
    if (sum !== 3 * id + 3) throw new Error(`job ${id}: wrong sum ${sum} from ${by}`)
    seen.add(id)
    total += sum
    received++
  }
  await sending
  const seconds = (performance.now() - t0) / 1000
  const counts = await Promise.all(perWorker)
  console.log(`${count} jobs, ${workers} workers: ${counts.join(' + ')} jobs each`)
  console.log(`results  ${received} (${seen.size} distinct), checksum ${total}`)
  console.log(`time     ${seconds.toFixed(3)} s, ${Math.round(count / seconds).toLocaleString('en-US')} jobs/s`)
  for (const ch of [jobs, results]) {
    ch.unlink()
    ch.close()
  }
  if (seen.size !== count) process.exitCode = 1
}

function flag(name, fallback) {
  const at = process.argv.indexOf(`--${name}`)
  if (at < 0) return fallback
  const value = Number(process.argv[at + 1])
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a positive integer`)
    process.exit(2)
  }
  return value
}

if (process.argv[2] === '--worker') {
  worker(process.argv[3], process.argv[4]).catch((err) => {
    console.error(err)
    process.exit(1)
  })
} else {
  primary(flag('workers', 4), flag('jobs', 100000)).catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
