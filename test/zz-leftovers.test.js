'use strict'
// Runs last (uvu sorts files by name): the suite must leave no IPC object behind.
const fs = require('node:fs')
const { test } = require('uvu')
const assert = require('uvu/assert')

const tag = `-${process.pid}-`
const keyHigh = process.pid & 0x7fff // test/helpers.js uniqueKey(): pid in the high 16 bits

function sysvKeys(table) {
  try {
    return fs
      .readFileSync(`/proc/sysvipc/${table}`, 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => Number(line.trim().split(/\s+/)[0]))
      .filter((key) => key > 0 && key >>> 16 === keyHigh)
  } catch {
    return []
  }
}

test('no POSIX shm, POSIX semaphore or System V object made by this run is left', () => {
  const shm = fs.readdirSync('/dev/shm').filter((f) => f.includes('ipckit-') && f.includes(tag))
  assert.equal(shm, [], `left in /dev/shm: ${shm.join(' ')}`)
  assert.equal(sysvKeys('shm'), [], 'System V segments left')
  assert.equal(sysvKeys('sem'), [], 'System V semaphore sets left')
  const tmp = fs.readdirSync(require('node:os').tmpdir()).filter((f) => f.startsWith('ipckit-') && f.includes(tag))
  assert.equal(tmp, [], `files left in the temp dir: ${tmp.join(' ')}`)
})

test.run()
