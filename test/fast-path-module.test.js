'use strict'
// The fast path's WebAssembly module (lib/fast-path/module.ts), in this
// process: each of its functions against the same operation written with
// Atomics, on a plain WebAssembly.Memory, from the same start values. Its bytes
// are assembled by hand; a slip in them fails here in milliseconds.
const { test } = require('uvu')
const assert = require('uvu/assert')
const fastPath = require('../dist/fast-path/module')
const { LOCK } = require('../dist/native').mutex
const { skipIf } = require('./helpers')

const { SEM_TAKEN, SEM_EMPTY, SEM_POSTED, SEM_WAKE, SEM_OVERFLOW } = fastPath
const PAGES = 2 // two WebAssembly pages: 128 KiB
const instance = fastPath.instantiate(PAGES)
// Without WebAssembly (node --jitless) there is no module to check.
const t = skipIf(instance === undefined && 'no WebAssembly in this process', test)

// The module's memory as words, and a reference memory the Atomics model works on.
// One of each for the whole file: under qemu-user every new WebAssembly.Memory
// (a reservation of gigabytes) costs the emulator real memory.
let both
function memories() {
  if (both === undefined) {
    const reference = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES })
    both = {
      wasm: { i32: new Int32Array(instance.buffer), u64: new BigUint64Array(instance.buffer) },
      ref: { i32: new Int32Array(reference.buffer), u64: new BigUint64Array(reference.buffer) },
    }
  }
  return both
}

// What each function does, in Atomics. `at` is a byte offset: the lock word,
// or a glibc sem_t (count in the low half of a 64-bit word, sleeping waiters in the high half).
const model = {
  lock({ i32 }, at, mine, start, tag) {
    const old = Atomics.compareExchange(i32, at / 4 + LOCK.WORD, 0, mine)
    if (old === 0) {
      Atomics.store(i32, at / 4 + LOCK.OWNER_NS, tag)
      Atomics.store(i32, at / 4 + LOCK.START, start)
    }
    return old
  },
  unlock({ i32 }, at) {
    Atomics.store(i32, at / 4 + LOCK.START, 0)
    return Atomics.exchange(i32, at / 4 + LOCK.WORD, 0)
  },
  semTryWait({ u64 }, at) {
    const d = Atomics.load(u64, at / 8)
    if ((d & 0xffffffffn) === 0n) return SEM_EMPTY
    Atomics.compareExchange(u64, at / 8, d, d - 1n)
    return SEM_TAKEN
  },
  semPost({ u64 }, at, n, max) {
    const d = Atomics.load(u64, at / 8)
    // Unsigned 32-bit, as the module compares: count > max - n refuses.
    if (Number(d & 0xffffffffn) > (max - n) >>> 0) return SEM_OVERFLOW
    Atomics.compareExchange(u64, at / 8, d, BigInt.asUintN(64, d + BigInt(n >>> 0)))
    return d >> 32n !== 0n ? SEM_WAKE : SEM_POSTED
  },
}

// Byte offsets: the start, a page inside, and the last 8 bytes of the memory.
const OFFSETS = [0, 4096, PAGES * 65536 - 16]

/**
 * Runs `fn` with `args` on both memories, each first filled with `words`
 * (32-bit, from `at`) and a pattern around them; the results and every byte
 * near `at` must agree.
 */
function check(fn, at, words, args) {
  const { wasm, ref } = memories()
  for (const m of [wasm, ref]) {
    for (let i = -4; i < 8; i++) {
      const index = at / 4 + i
      if (index >= 0 && index < m.i32.length) m.i32[index] = i >= 0 && i < words.length ? words[i] : 0x5a5a5a5a
    }
  }
  const got = instance.ops[fn](at, ...args)
  const want = model[fn](ref, at, ...args)
  const label = `${fn}(${[at, ...args].join(', ')}) on [${words.map((w) => '0x' + (w >>> 0).toString(16)).join(', ')}]`
  assert.is(got, want, `${label}: result`)
  const lo = Math.max(0, at / 4 - 4)
  const hi = Math.min(wasm.i32.length, at / 4 + 8)
  assert.equal(Array.from(wasm.i32.subarray(lo, hi)), Array.from(ref.i32.subarray(lo, hi)), `${label}: memory`)
  return got
}

const { OWNER_MASK, FOREIGN, WAITERS } = LOCK
const OWNERS = [1, 12345, OWNER_MASK, 12345 | FOREIGN]
const WORDS = [0, 777, 777 | WAITERS, OWNER_MASK | FOREIGN | WAITERS, -1]
const STARTS = [0, 1, 0x7fffffff, -1]

const TAGS = [0x5eed0000 | LOCK.HAS_TOKEN, 2, -2]

t("lock: taken only from a free word, the owner's tag and start time written with it, the old word returned", () => {
  for (const at of OFFSETS) {
    for (const word of WORDS) {
      for (const mine of OWNERS) {
        for (const start of STARTS) {
          for (const tag of TAGS) {
            const got = check('lock', at, [word, 424242, 7, 99], [mine, start, tag])
            assert.is(got === 0, word === 0)
          }
        }
      }
    }
  }
})

t('unlock: clears the start time and the word, returns what the word held (WAITERS included)', () => {
  for (const at of OFFSETS) {
    for (const word of WORDS) {
      for (const start of STARTS) assert.is(check('unlock', at, [word, start], []), word)
    }
  }
})

// glibc sem_t words: [count, sleeping waiters].
const MAX = 0x7fffffff // SEM_VALUE_MAX on Linux
const COUNTS = [0, 1, 2, 1000, MAX - 1, MAX, 0xffffffff]
const SLEEPERS = [0, 1, 3, 0xffffffff]

t('semTryWait: takes one unit when the count is not 0, never touches the sleeper count', () => {
  for (const at of OFFSETS) {
    for (const count of COUNTS) {
      for (const sleepers of SLEEPERS) {
        const got = check('semTryWait', at, [count, sleepers], [])
        assert.is(got, count === 0 ? SEM_EMPTY : SEM_TAKEN)
      }
    }
  }
})

t('semPost: adds n up to max (refuses beyond), says when sleepers must be woken', () => {
  for (const at of OFFSETS) {
    for (const count of COUNTS.filter((c) => c <= MAX)) {
      for (const sleepers of SLEEPERS) {
        for (const n of [0, 1, 2, 5, MAX - count, MAX - count + 1, MAX]) {
          const got = check('semPost', at, [count, sleepers], [n, MAX])
          // Semaphore.post never passes n > max: there the module's unsigned arithmetic wraps (the model does the same).
          if (n > MAX) continue
          if (count + n > MAX) assert.is(got, SEM_OVERFLOW)
          else assert.is(got, sleepers !== 0 ? SEM_WAKE : SEM_POSTED)
        }
      }
    }
  }
})

t('semPost with a max of 2^32 - 1: every bit of the count is the count, none the sleepers', () => {
  for (const count of [0, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]) {
    for (const sleepers of [0, 1]) {
      for (const n of [0, 1, 2]) check('semPost', 4096, [count, sleepers], [n, -1])
    }
  }
})

t('a sequence: lock, unlock, tryWait and post interleaved leave both memories equal', () => {
  const { wasm, ref } = memories()
  let seed = 12345
  const random = (n) => (seed = (seed * 1103515245 + 12345) >>> 0) % n
  const at = 4096
  wasm.i32.fill(0)
  ref.i32.fill(0)
  for (let i = 0; i < 5000; i++) {
    const fn = ['lock', 'unlock', 'semTryWait', 'semPost'][random(4)]
    const sem = at + 64 // a semaphore next to the lock word
    const args =
      fn === 'lock'
        ? [at, OWNERS[random(OWNERS.length)], random(1000), TAGS[random(TAGS.length)]]
        : fn === 'unlock'
          ? [at]
          : fn === 'semPost'
            ? [sem, random(3), 10]
            : [sem]
    assert.is(instance.ops[fn](...args), model[fn](ref, ...args), `step ${i}: ${fn}`)
    assert.equal(
      Array.from(wasm.i32.subarray(at / 4, at / 4 + 20)),
      Array.from(ref.i32.subarray(at / 4, at / 4 + 20)),
      `step ${i}: memory`,
    )
  }
})

test.run()
