'use strict'
// Processes forked by the SharedMap jobs (bench/shared-map-jobs.js):
//   reader NAME KEYS   opens the SharedMap NAME; on each message { count }
//                      gets `count` keys key:0..key:KEYS-1 in turn and answers { ns }
//   primary            the pattern users write today: a Map in the cluster
//                      primary, reached with process.send; answers each
//                      { op: 'get'|'set', key, value } with { value } or { ok }
const [role, ...args] = process.argv.slice(2)

if (role === 'reader') {
  const { SharedMap } = require('..')
  const map = SharedMap.open(args[0])
  const keys = Array.from({ length: Number(args[1]) }, (_, i) => `key:${i}`)
  process.on('message', ({ count }) => {
    let found = 0
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < count; i++) if (map.get(keys[i % keys.length]) !== undefined) found++
    const ns = Number(process.hrtime.bigint() - t0)
    if (found !== count) throw new Error(`reader found ${found} of ${count}`)
    process.send({ ns })
  })
  process.on('disconnect', () => map.close())
  process.send('ready')
} else if (role === 'primary') {
  const map = new Map()
  process.on('message', (m) => {
    if (m.op === 'get') process.send({ value: map.get(m.key) })
    else {
      map.set(m.key, m.value)
      process.send({ ok: true })
    }
  })
  process.send('ready')
} else {
  throw new Error(`unknown role ${role}`)
}
