'use strict'
const { test } = require('uvu')
const assert = require('uvu/assert')
const { IPCBuffer } = require('..')
const { uniqueName, withCleanup } = require('./helpers')

test('a POSIX IPCBuffer is a Buffer', () =>
  withCleanup((cleanup) => {
    const name = uniqueName('basic')
    const buf = IPCBuffer.posix(name, { size: 64 })
    cleanup(() => buf.close())
    cleanup(() => IPCBuffer.unlink('posix', name))
    assert.ok(buf instanceof Buffer)
    assert.ok(Buffer.isBuffer(buf))
    assert.is(buf.kind, 'posix')
    assert.is(buf.name, '/' + name)
    assert.is(buf.length, 64)
  }))

test.run()
