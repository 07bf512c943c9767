'use strict'
// SharedMap against the ways Node programs share a cache today: get and set of
// 100-byte strings and of 4 KiB Buffers over 10,000 keys, in ipc-kit's
// SharedMap, a plain Map (the in-process ceiling), lmdb, Redis through ioredis
// (a redis-server this job starts on a Unix socket and stops), and a Map in a
// cluster primary reached with process.send; and gets from 1 and 2 reader
// processes. Called by bench/jobs.js with its helpers.
const { fork, spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const KEYS = 10000
const STRING = 'abcdefghij'.repeat(10) // 100 bytes
const BUFFER = Buffer.alloc(4096, 7)
const keys = Array.from({ length: KEYS }, (_, i) => `key:${i}`)
const SHAPES = [
  ['str', STRING],
  ['buf', BUFFER],
]

function sharedMapJobs({ timed, perOp, perOpAsync, n, uniqueName, tmpFile, optional, kit, Unavailable }) {
  /** The four figures of one store: get and set of each shape, sync or async. */
  async function fourFigures(prefix, store, async = false) {
    const figures = {}
    for (const [shape, value] of SHAPES) {
      await store.fill(value)
      const set = (count) => {
        for (let i = 0; i < count; i++) store.set(keys[i % KEYS], value)
      }
      const get = (count) => {
        for (let i = 0; i < count; i++) if (store.get(keys[i % KEYS]) === undefined) throw new Error('missing')
      }
      const setAsync = async (count) => {
        for (let i = 0; i < count; i++) await store.set(keys[i % KEYS], value)
      }
      const getAsync = async (count) => {
        for (let i = 0; i < count; i++) if ((await store.get(keys[i % KEYS])) === undefined) throw new Error('missing')
      }
      const count = async ? n(5000, 1000) : n(1000000, 100000)
      const time = async ? (fn) => timed((c) => perOpAsync(fn, c), count) : (fn) => timed((c) => perOp(fn, c), count)
      figures[`${prefix}_get_${shape}`] = { unit: 'ns', samples: await time(async ? getAsync : get) }
      figures[`${prefix}_set_${shape}`] = { unit: 'ns', samples: await time(async ? setAsync : set) }
    }
    return figures
  }

  async function sharedMap() {
    const { SharedMap } = kit('SharedMap')
    const name = uniqueName('map')
    const map = SharedMap.open(name, { size: 64 << 20 })
    try {
      return await fourFigures('kit.map', {
        fill: (value) => keys.forEach((k) => map.set(k, value)),
        get: (k) => map.get(k),
        set: (k, v) => map.set(k, v),
      })
    } finally {
      map.close()
      map.unlink()
    }
  }

  async function plainMap() {
    const map = new Map()
    return fourFigures('alt.plain_map', {
      fill: (value) => keys.forEach((k) => map.set(k, value)),
      get: (k) => map.get(k),
      set: (k, v) => map.set(k, v),
    })
  }

  // lmdb: one environment per shape (string and binary encodings), no fsync
  // per commit (noSync), so it is measured as a cache like the others; a set
  // is putSync, a transaction of its own.
  async function lmdb() {
    const { open } = optional('lmdb')
    const dir = tmpFile('lmdb')
    const dbs = {
      str: open({ path: path.join(dir, 'str'), encoding: 'string', noSync: true, compression: false }),
      buf: open({ path: path.join(dir, 'buf'), encoding: 'binary', noSync: true, compression: false }),
    }
    let db
    try {
      return await fourFigures('alt.lmdb', {
        fill: (value) => {
          db = typeof value === 'string' ? dbs.str : dbs.buf
          db.transactionSync(() => keys.forEach((k) => db.put(k, value)))
        },
        get: (k) => db.get(k),
        set: (k, v) => db.putSync(k, v),
      })
    } finally {
      await Promise.all(Object.values(dbs).map((d) => d.close()))
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }

  /** Starts Debian's redis-server on a Unix socket of our own; Unavailable if it is not installed. */
  async function startRedis() {
    const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
    if (probe.error || probe.status !== 0)
      throw new Unavailable('redis-server is not installed (apt-get install redis-server)')
    const socket = `${tmpFile('redis')}.sock`
    const server = spawn(
      'redis-server',
      ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    )
    const t0 = Date.now()
    while (!fs.existsSync(socket)) {
      if (server.exitCode !== null || Date.now() - t0 > 10000) {
        server.kill('SIGKILL')
        throw new Error('redis-server did not start')
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return {
      socket,
      stop: () =>
        new Promise((resolve) => {
          server.once('exit', resolve)
          server.kill('SIGTERM')
        }),
    }
  }

  async function redis() {
    const Redis = optional('ioredis')
    const server = await startRedis()
    const client = new Redis({ path: server.socket, lazyConnect: true })
    try {
      await client.connect()
      let binary = false
      return await fourFigures(
        'alt.redis',
        {
          fill: async (value) => {
            binary = typeof value !== 'string'
            for (let i = 0; i < KEYS; i += 1000) await client.mset(keys.slice(i, i + 1000).flatMap((k) => [k, value]))
          },
          get: async (k) => (binary ? client.getBuffer(k) : client.get(k)) ?? undefined,
          set: (k, v) => client.set(k, v),
        },
        true,
      )
    } finally {
      client.disconnect()
      await server.stop()
    }
  }

  // A Map in the cluster primary: every get and set is a round trip through
  // process.send, with 'advanced' serialization so Buffers travel as Buffers.
  async function primaryMap() {
    const primary = fork(path.join(__dirname, 'shared-map-peer.js'), ['primary'], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const replies = []
    let waiting = null
    primary.on('message', (m) => (waiting ? (waiting(m), (waiting = null)) : replies.push(m)))
    const next = () =>
      replies.length ? Promise.resolve(replies.shift()) : new Promise((resolve) => (waiting = resolve))
    await next()
    const call = (m) => {
      primary.send(m)
      return next()
    }
    try {
      return await fourFigures(
        'alt.primary_map',
        {
          fill: async (value) => {
            for (const k of keys) await call({ op: 'set', key: k, value })
          },
          get: async (k) => (await call({ op: 'get', key: k })).value,
          set: (k, v) => call({ op: 'set', key: k, value: v }),
        },
        true,
      )
    } finally {
      primary.disconnect()
    }
  }

  // Gets of 100-byte strings from one reader process, then from two at once:
  // the figure is ns per get of the readers together (wall time / all gets).
  async function readers() {
    const { SharedMap } = kit('SharedMap')
    const name = uniqueName('map')
    const map = SharedMap.open(name, { size: 16 << 20 })
    for (const k of keys) map.set(k, STRING)
    const peers = [0, 1].map(() =>
      fork(path.join(__dirname, 'shared-map-peer.js'), ['reader', name, KEYS], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    )
    const nextOf = (p) => new Promise((resolve, reject) => p.once('message', resolve).once('exit', reject))
    try {
      await Promise.all(peers.map(nextOf))
      const round = async (group, count) => {
        const t0 = process.hrtime.bigint()
        const done = group.map(nextOf)
        for (const p of group) p.send({ count })
        await Promise.all(done)
        return Number(process.hrtime.bigint() - t0) / (count * group.length)
      }
      const count = n(2000000, 200000)
      return {
        'kit.map_reads1': { unit: 'ns', samples: await timed((c) => round(peers.slice(0, 1), c), count) },
        'kit.map_reads2': { unit: 'ns', samples: await timed((c) => round(peers, c), count) },
      }
    } finally {
      for (const p of peers) p.disconnect()
      map.close()
      map.unlink()
    }
  }

  return {
    'kit.shared_map': sharedMap,
    'alt.plain_map': plainMap,
    'alt.lmdb': lmdb,
    'alt.redis': redis,
    'alt.primary_map': primaryMap,
    'kit.map_readers': readers,
  }
}

module.exports = { sharedMapJobs }
