'use strict'
// Crash safety of Channel: 4 senders and 4 receivers (real processes) while a
// killer SIGKILLs one at random every 20-200 ms and starts a new one in its
// place. Afterwards: no torn message, no duplicate, each sender's order kept,
// every message whose send returned received (less at most one per receiver
// killed: the one it was taking), and the ring empty again.
// Runs 10 s; IPC_KIT_TORTURE_SECONDS=30 npm test -- channel-torture for the long run (CI runs 30 s).
const { spawn } = require('node:child_process')
const path = require('node:path')
const { test } = require('uvu')
const assert = require('uvu/assert')
const { Channel, IPCBuffer } = require('..')
const { uniqueName, withCleanup, NODE } = require('./helpers')
const L = require('./fixtures/channel-torture-ledger')

const DURATION = (Number(process.env.IPC_KIT_TORTURE_SECONDS) || 10) * 1000
const FIXTURE = path.join(__dirname, 'fixtures', 'channel-torture.js')

test(`torture: 4 senders, 4 receivers, random SIGKILLs for ${DURATION / 1000} s; nothing torn, duplicated, reordered or leaked`, () =>
  withCleanup(async (cleanup) => {
    const chName = uniqueName('chan')
    const ledgerName = uniqueName('ledger')
    const ch = Channel.open(chName, { capacity: 64 * 1024 })
    cleanup(() => ch.unlink())
    cleanup(() => ch.close())
    const ledger = IPCBuffer.posix(ledgerName, { size: L.SIZE })
    cleanup(() => ledger.unlink())
    cleanup(() => ledger.close())
    const words = new Int32Array(ledger.buffer, ledger.byteOffset, L.WORDS)
    const marks = new Uint8Array(ledger.buffer, ledger.byteOffset + L.WORDS * 4, L.MAX_INC * L.MAX_SEQ)

    const alive = new Set()
    cleanup(() => {
      for (const c of alive) c.kill('SIGKILL')
    })
    const failures = []
    const killedIncs = new Set()
    let nextInc = 0
    let torturing = true
    const kills = { send: 0, recv: 0 }

    function start(role) {
      const inc = role === 'send' ? nextInc++ : -1
      if (inc >= L.MAX_INC) throw new Error('out of incarnations: raise MAX_INC')
      const [cmd, ...pre] = NODE
      const child = spawn(cmd, [...pre, FIXTURE, role, chName, ledgerName, String(inc)], {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      })
      child.role = role
      child.inc = inc
      let stderr = ''
      child.stderr.on('data', (d) => (stderr += d))
      child.on('message', (m) => {
        if (m === 'ready') child.ready = true
      })
      child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
      child.exited.then(({ code, signal }) => {
        alive.delete(child)
        if (signal === 'SIGKILL' && child.killedByUs) return
        if (code !== 0) failures.push(`${role} ${inc} exited with ${code} ${signal}: ${stderr}`)
        // A sender that ran out of sequence numbers ends normally: another takes its place.
        if (torturing && role === 'send') start('send')
      })
      alive.add(child)
      return child
    }

    for (let i = 0; i < 4; i++) start('send')
    for (let i = 0; i < 4; i++) start('recv')

    // Stalls: the longest time the receivers took nothing while messages waited
    // and a receiver was up and running (a new process takes a while to start).
    let longestStall = 0
    let lastCount = 0
    let lastChange = performance.now()
    const monitor = setInterval(() => {
      const n = Atomics.load(words, L.RECEIVED)
      const now = performance.now()
      const someoneReady = [...alive].some((c) => c.role === 'recv' && c.ready)
      if (n !== lastCount || !someoneReady || ch.stats().messages === 0) {
        lastCount = n
        lastChange = now
      }
      longestStall = Math.max(longestStall, now - lastChange)
    }, 10)
    const until = performance.now() + DURATION
    while (performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 180))
      const victims = [...alive]
      const victim = victims[Math.floor(Math.random() * victims.length)]
      if (victim === undefined) continue
      victim.killedByUs = true
      victim.kill('SIGKILL')
      kills[victim.role]++
      if (victim.role === 'send') killedIncs.add(victim.inc)
      await victim.exited
      start(victim.role)
    }
    torturing = false
    clearInterval(monitor)

    // Survivors: the senders stop, the channel is sealed, the receivers drain it.
    const senders = [...alive].filter((c) => c.role === 'send')
    const receivers = [...alive].filter((c) => c.role === 'recv')
    // A sender may have just ended on its own (out of sequence numbers): its channel is gone, and that is fine.
    for (const s of senders) s.send('stop', () => {})
    const bounded = (p) =>
      Promise.race([p, new Promise((resolve) => setTimeout(() => resolve({ code: 'hung' }), 30000))])
    for (const s of senders) assert.equal(await bounded(s.exited), { code: 0, signal: null }, 'a surviving sender')
    ch.seal()
    for (const r of receivers) assert.equal(await bounded(r.exited), { code: 0, signal: null }, 'a surviving receiver')
    assert.equal(failures, [])

    let sent = 0
    let missing = 0
    let unexpected = 0
    for (let inc = 0; inc < nextInc; inc++) {
      const count = Atomics.load(words, L.SENT + inc)
      sent += count
      for (let seq = 0; seq < L.MAX_SEQ; seq++) {
        const got = marks[inc * L.MAX_SEQ + seq] === 1
        if (seq < count && !got) missing++
        // One message past the count may have been sent by a sender killed before recording it.
        if (got && (seq > count || (seq === count && !killedIncs.has(inc)))) unexpected++
      }
    }
    const received = Atomics.load(words, L.RECEIVED)
    const stats = ch.stats()
    console.log(
      `  torture: ${DURATION / 1000} s, ${sent} messages sent, ${received} received, ${kills.send} senders and ${kills.recv} receivers killed, ` +
        `${missing} lost with their receivers, longest stall ${Math.round(longestStall)} ms`,
    )
    assert.is(Atomics.load(words, L.TORN), 0, 'torn messages')
    assert.is(Atomics.load(words, L.DUPLICATES), 0, 'duplicates')
    assert.is(Atomics.load(words, L.DISORDER), 0, "messages out of their sender's order")
    assert.is(unexpected, 0, 'messages received that were never sent')
    assert.ok(missing <= kills.recv, `${missing} messages lost, more than the ${kills.recv} receivers killed`)
    assert.ok(sent >= 200, `only ${sent} messages sent`)
    assert.ok(kills.send > 3 && kills.recv > 3, `too few kills: ${kills.send} senders, ${kills.recv} receivers`)
    assert.is(stats.messages, 0, 'messages left in the ring')
    assert.is(stats.bytes, 0, 'capacity not reclaimed')
    assert.ok(longestStall < 1000, `the receivers stalled for ${Math.round(longestStall)} ms`)
  }))

test.run()
