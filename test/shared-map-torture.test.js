'use strict'
// 4 writers and 4 readers on a map small enough to evict all the time, one of
// them SIGKILLed every 20-200 ms and respawned. No read may ever be torn or
// belong to another key; afterwards a full scan checks every entry, and a
// walk of the data area checks that every byte is accounted for.
// IPC_KIT_TORTURE_SECONDS sets the duration (default 10; CI runs 30).
const { test } = require('uvu')
const assert = require('uvu/assert')
const { spawn } = require('node:child_process')
const path = require('node:path')
const { SharedMap } = require('..')
const { uniqueName, withCleanup, NODE, accounted } = require('./helpers')
const { makeValue, checkValue, checkCounter, KEYS, COUNTERS } = require('./fixtures/shared-map-values')

const SECONDS = Number(process.env.IPC_KIT_TORTURE_SECONDS) || 10
const FIXTURE = path.join(__dirname, 'fixtures', 'shared-map-torture.js')

test(`torture: 4 writers + 4 readers, random SIGKILLs every 20-200 ms for ${SECONDS} s; no bad read, every entry and byte accounted for`, () =>
  withCleanup(async (cleanup) => {
    const name = uniqueName('smt')
    const map = SharedMap.open(name, { size: 160 << 10 })
    cleanup(() => map.unlink())
    cleanup(() => map.close())
    // Filled past its capacity before anyone starts: it evicts from the first write on.
    for (let i = 0; i < KEYS; i++) map.set(`k${i}`, makeValue(i, 99, i + 1))
    assert.ok(map.stats().evictions > 0)

    const live = new Map() // child -> whether it has started working
    const failures = []
    let ops = 0
    let kills = 0
    let spawned = 0
    let stopping = false

    function start(role, id) {
      const [cmd, ...pre] = NODE
      const child = spawn(cmd, [...pre, FIXTURE, name, role, id], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
      spawned++
      let stderr = ''
      child.stderr.on('data', (d) => (stderr += d))
      child.on('error', () => {}) // a send racing its death; the exit says what happened
      child.on('message', (m) => {
        ops += m.ops
        live.set(child, true)
      })
      child.on('exit', (code, signal) => {
        live.delete(child)
        if (signal !== 'SIGKILL' && code !== 0) failures.push(`${role} ${id} exited ${code} ${signal}: ${stderr}`)
        if (!stopping) start(role, id)
      })
      live.set(child, false)
    }
    cleanup(() => {
      stopping = true
      for (const child of live.keys()) child.kill('SIGKILL')
    })
    for (let id = 0; id < 4; id++) {
      start('writer', id)
      start('reader', id + 4)
    }

    const t0 = Date.now()
    while (Date.now() - t0 < SECONDS * 1000 && failures.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 180))
      // Kill those at work, not those still starting.
      const children = [...live].filter(([, working]) => working).map(([child]) => child)
      const victim = children[(Math.random() * children.length) | 0]
      if (victim && victim.kill('SIGKILL')) kills++
    }
    stopping = true
    const exits = [...live.keys()].map((child) => new Promise((resolve) => child.once('exit', resolve)))
    // A child dying meanwhile has closed its channel: the callback takes the error.
    for (const child of live.keys()) if (child.connected) child.send('stop', () => {})
    const timer = setTimeout(() => {
      for (const child of live.keys()) child.kill('SIGKILL')
    }, 10000)
    await Promise.all(exits)
    clearTimeout(timer)
    const seconds = (Date.now() - t0) / 1000

    assert.equal(failures, [])

    // A full scan: every entry whole and under its own key.
    let entries = 0
    for (const [k, v] of map) {
      entries++
      const problem = k[0] === 'c' ? checkCounter(v) : checkValue(Number(k.slice(1)), v)
      assert.is(problem, undefined, `${k}: ${problem}`)
    }
    assert.ok(entries <= KEYS + COUNTERS)
    // The byte accounting: the walk of every block agrees with the counters,
    // and the counters add up to the object's size.
    const stats = accounted(map)
    assert.is(stats.entries, map.size)
    assert.ok(kills >= SECONDS, `only ${kills} kills`)
    console.log(
      `  torture: ${seconds.toFixed(1)} s, ${ops} operations, ${kills} SIGKILLs, ${spawned} processes, ` +
        `${stats.recoveries} recoveries after a writer died holding the lock, ${stats.evictions} evictions, ` +
        `${stats.expired} expired; end: ${stats.entries} entries, ${stats.bytes} + ${stats.free} free + ${stats.overhead} overhead = ${stats.total} bytes`,
    )
  }))

test.run()
