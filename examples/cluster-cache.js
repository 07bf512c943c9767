'use strict'
// N cluster workers share one cache: a SharedMap behind keyv. A value one
// worker computed, every worker reads, with no Redis and no round trip to the
// primary. When the app outgrows one machine, the store becomes Redis with
// one line (see `store` below); the rest of the code stays as it is.
//
//   node examples/cluster-cache.js [--workers 4] [--lookups 500] [--ids 100]
const cluster = require('node:cluster')
const { parseArgs } = require('node:util')
const { SharedMap } = require('..')

const { values: flags } = parseArgs({
  options: {
    workers: { type: 'string', default: '4' },
    lookups: { type: 'string', default: '500' },
    ids: { type: 'string', default: '100' },
  },
})
const [workers, lookups, ids] = [flags.workers, flags.lookups, flags.ids].map(Number)

if (cluster.isPrimary) {
  // The primary creates the map; workers open it by name.
  const name = `ipc-kit-cluster-cache-${process.pid}`
  const cache = SharedMap.open(name, { size: 16 << 20 })
  let computed = 0
  let served = 0
  for (let i = 0; i < workers; i++) {
    cluster.fork({ CACHE_NAME: name }).on('message', (m) => {
      computed += m.computed
      served += m.served
    })
  }
  let left = workers
  cluster.on('exit', (worker, code) => {
    if (code !== 0) process.exitCode = 1
    if (--left > 0) return
    const { entries, hits, misses } = cache.stats()
    console.log(`${workers} workers x ${lookups} lookups of ${ids} ids through keyv`)
    console.log(`computed ${computed} times, served from the shared cache ${served} times`)
    console.log(`cache: ${entries} entries, ${hits} hits, ${misses} misses`)
    cache.close()
    cache.unlink()
  })
} else {
  main().then(
    (counts) => {
      process.send(counts)
      process.disconnect()
    },
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
}

async function main() {
  const { default: Keyv } = await import('keyv')
  const store = SharedMap.open(process.env.CACHE_NAME)
  // On Redis instead (npm install @keyv/redis): const store = new (require('@keyv/redis').default)('redis://localhost:6379')
  const cache = new Keyv({ store, namespace: 'users' })
  let computed = 0
  let served = 0
  for (let i = 0; i < lookups; i++) {
    const id = (Math.random() * ids) | 0
    let user = await cache.get(`user:${id}`)
    if (user === undefined) {
      user = expensiveLookup(id)
      computed++
      await cache.set(`user:${id}`, user, 60000) // ttl: one minute
    } else {
      served++
    }
    if (user.id !== id) throw new Error(`user ${id} came back as ${user.id}`)
  }
  return { computed, served }
}

/** Stands for a database query or a remote call. */
function expensiveLookup(id) {
  let h = id
  for (let i = 0; i < 20000; i++) h = (h * 31 + i) % 1000003
  return { id, name: `user ${id}`, score: h }
}
