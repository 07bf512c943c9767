'use strict'
// What each figure is, and which figures are compared against which, with the
// goals of issue 5. Figures in 'ns' are times per operation (lower is better);
// figures in 'GB/s' are throughputs (higher is better).

/** id: what was measured. */
const FIGURES = {
  'kit.mutex_pair': 'ipc-kit Mutex acquireSync + release',
  'kit.mutex_async_pair': 'ipc-kit Mutex await acquire() + release',
  'kit.sem_posix_pair': 'ipc-kit Semaphore.posix tryWait + post',
  'kit.sem_sysv_pair': 'ipc-kit Semaphore.sysv tryWait + post',
  'kit.counter2': 'ipc-kit GuardedBuffer.withLockSync increment (Uint32Array view), 2 processes',
  'kit.counter4': 'ipc-kit GuardedBuffer.withLockSync increment (Uint32Array view), 4 processes',
  'kit.counter2_methods': 'ipc-kit GuardedBuffer.withLockSync increment (readUInt32LE/writeUInt32LE), 2 processes',
  'kit.counter4_methods': 'ipc-kit GuardedBuffer.withLockSync increment (readUInt32LE/writeUInt32LE), 4 processes',
  'kit.pingpong_sync': 'ipc-kit semaphore ping-pong, waitSync (round trip)',
  'kit.pingpong_async': 'ipc-kit semaphore ping-pong, await wait() (round trip)',
  'kit.ring_bulk': 'ipc-kit IPCBuffer ring + 2 semaphores, 1 GiB in 1 MiB chunks',
  'kit.buf_fill': 'IPCBuffer.posix 64 KiB fill()',
  'kit.buf_read': 'IPCBuffer.posix readUInt32LE',
  'kit.buf_write': 'IPCBuffer.posix writeUInt32LE',
  'kit.buf_index': 'IPCBuffer.posix buf[i]',
  'kit.cycle': 'ipc-kit IPCBuffer.posix open+map, unlink, close (4 KiB)',
  'kit.engine_idle_cpu_1000':
    'ipc-kit CPU of one core while 1,000 waits (on 1,000 POSIX semaphores) are pending and idle, 3 s windows',
  'kit.engine_idle_cpu_1000_sysv':
    'ipc-kit CPU of one core while 1,000 waits (on 1,000 System V semaphores, a thread each) are pending and idle, 3 s windows',
  'kit.chan_idle_cpu_1000':
    'ipc-kit CPU of one core while 1,000 receive()s (1,000 Channel objects on one channel) are pending and idle, 10 s windows',
  'kit.engine_threads_1000': 'ipc-kit extra threads for 1,000 pending waits on 1,000 POSIX semaphores',
  'kit.engine_wake_1': 'ipc-kit post to an idle waited semaphore until its wait() resolves, 1 wait pending',
  'kit.engine_wake_100': 'ipc-kit post to an idle waited semaphore until its wait() resolves, 100 waits pending',
  'kit.engine_wake_10000': 'ipc-kit post to an idle waited semaphore until its wait() resolves, 10,000 waits pending',
  'kit.engine_close_10000':
    'ipc-kit close() of 5,000 POSIX semaphores and 5,000 Mutexes with one pending wait each, until every wait has rejected',
  'c.futex_pair': 'C futex mutex lock + unlock',
  'c.sem_pair': 'C sem_trywait + sem_post',
  'c.semop_pair': 'C System V semop -1 (IPC_NOWAIT) + semop +1',
  'c.futex_pingpong': 'C sleeping futex ping-pong (round trip)',
  'c.spin_pingpong': 'C spinning ping-pong (round trip)',
  'c.memcpy': 'C memcpy, 1 GiB in 1 MiB chunks, beyond cache',
  'c.memcpy_cached': 'C memcpy, 1 MiB chunk into an 8 MiB ring (in cache)',
  'c.shm_cycle': 'C shm_open+ftruncate+mmap+close+munmap+shm_unlink (4 KiB)',
  'c.counter2': 'C futex-mutex counter increment, 2 processes',
  'c.counter4': 'C futex-mutex counter increment, 4 processes',
  'ref.atomics_pair': 'JS Atomics.compareExchange + store on mapped memory',
  'ref.napi_noop': 'a Node-API call that does nothing',
  'alt.lockfile_sync': 'proper-lockfile lockSync + release',
  'alt.lockfile_async': 'proper-lockfile await lock() + release',
  'alt.flock_pair': 'fs-ext flockSync ex + un',
  'alt.flock_counter2': 'fs-ext flock counter in a file, 2 processes',
  'alt.flock_counter4': 'fs-ext flock counter in a file, 4 processes',
  'alt.worker_counter2': 'worker_threads Atomics-mutex counter, 2 threads (one process)',
  'alt.worker_counter4': 'worker_threads Atomics-mutex counter, 4 threads (one process)',
  'alt.process_send_pingpong': 'process.send ping-pong (round trip)',
  'alt.unix_pingpong': 'Unix socket ping-pong (round trip)',
  'alt.worker_pingpong_sync': 'worker_threads Atomics.wait ping-pong (one process)',
  'alt.worker_pingpong_async': 'worker_threads Atomics.waitAsync ping-pong (one process)',
  'alt.unix_bulk': 'Unix socket, 1 GiB in 1 MiB chunks',
  'alt.pipe_bulk': 'pipe, 1 GiB in 1 MiB chunks',
  'alt.plain.buf_fill': 'plain Buffer 64 KiB fill()',
  'alt.plain.buf_read': 'plain Buffer readUInt32LE',
  'alt.plain.buf_write': 'plain Buffer writeUInt32LE',
  'alt.plain.buf_index': 'plain Buffer buf[i]',
  'alt.shmta.buf_fill': 'shm-typed-array Buffer 64 KiB fill()',
  'alt.shmta.buf_read': 'shm-typed-array Buffer readUInt32LE',
  'alt.shmta.buf_write': 'shm-typed-array Buffer writeUInt32LE',
  'alt.shmta.buf_index': 'shm-typed-array Buffer buf[i]',
  'alt.shmta_cycle': 'shm-typed-array create + detach(destroy) (4 KiB)',
  'kit.chan_sync': 'ipc-kit Channel 64 B Buffers, sendSync -> receiveSync, 2 processes (per message)',
  'kit.chan_async': 'ipc-kit Channel 64 B Buffers, await send() -> for await, 2 processes (per message)',
  'kit.chan_object': 'ipc-kit Channel small objects (v8.serialize), sendSync -> receiveSync (per message)',
  'kit.chan_4to1': 'ipc-kit Channel 64 B Buffers, 4 senders -> 1 receiver, sync (per message)',
  'kit.chan_mib_zero': 'ipc-kit Channel 1 MiB messages, reserve/commit -> receive({ copy: false })',
  'kit.chan_mib_copy': 'ipc-kit Channel 1 MiB Buffers, sendSync -> receiveSync (copies)',
  'kit.chan_mib_send_view': 'ipc-kit Channel 1 MiB Buffers, sendSync -> receive({ copy: false }) (the sender copies)',
  'kit.chan_rr_sync': 'ipc-kit Channel request/response over two channels, sync (round trip)',
  'kit.chan_rr_async': 'ipc-kit Channel request/response over two channels, async (round trip)',
  'alt.process_send_json': "process.send 64-char strings pipelined, serialization 'json' (per message)",
  'alt.process_send_advanced': "process.send 64-char strings pipelined, serialization 'advanced' (per message)",
  'alt.process_send_object': "process.send small objects pipelined, serialization 'advanced' (per message)",
  'c.mq_pair': 'C POSIX mq_send -> mq_receive, 64 B, 2 processes (per message)',
}

// A goal bounds the speedup: alternative time / ipc-kit time (or ipc-kit
// throughput / alternative throughput). "≤ 4× C" is a speedup of at least 1/4.
const atLeast = (x, text) => ({ min: x, text })
const atMost = (x, text) => ({ min: 1 / x, text })

/**
 * Rows of the result table: ipc-kit's figure against another, and the goal if
 * the issue sets one. `key` names the section of bench/analysis.md that
 * explains the row when its goal is not met.
 */
// prettier-ignore
const COMPARISONS = [
  { key: 'lock-c', scenario: 'uncontended lock pair', kit: 'kit.mutex_pair', vs: 'c.futex_pair', short: 'C futex', goal: atMost(4, '≤ 4× C') },
  { key: 'lock-alternatives', scenario: 'uncontended lock pair', kit: 'kit.mutex_pair', vs: 'alt.lockfile_sync', short: 'proper-lockfile sync', goal: atLeast(10000, '≥ 10,000×') },
  { key: 'lock-alternatives', scenario: 'uncontended lock pair', kit: 'kit.mutex_pair', vs: 'alt.flock_pair', short: 'fs-ext flock', goal: atLeast(10, '≥ 10×') },
  { scenario: 'uncontended lock pair', kit: 'kit.mutex_pair', vs: 'ref.atomics_pair', short: 'JS Atomics CAS+store', goal: null },
  { scenario: 'uncontended lock pair', kit: 'kit.mutex_pair', vs: 'ref.napi_noop', short: 'Node-API no-op call', goal: null },
  { key: 'lock-alternatives', scenario: 'uncontended async lock pair', kit: 'kit.mutex_async_pair', vs: 'alt.lockfile_async', short: 'proper-lockfile async', goal: atLeast(500, '≥ 500×') },
  { key: 'sem-posix', scenario: 'semaphore pair (POSIX)', kit: 'kit.sem_posix_pair', vs: 'c.sem_pair', short: 'C sem pair', goal: atMost(3, '≤ 3× C') },
  { key: 'sem-sysv', scenario: 'semaphore pair (System V)', kit: 'kit.sem_sysv_pair', vs: 'c.semop_pair', short: 'C semop pair', goal: atMost(3, '≤ 3× C') },
  { key: 'counter-c', scenario: 'contended counter, 2 processes', kit: 'kit.counter2', vs: 'c.counter2', short: 'C counter ×2', goal: atLeast(0.25, '≥ 0.25× C') },
  { key: 'counter-flock', scenario: 'contended counter, 2 processes', kit: 'kit.counter2', vs: 'alt.flock_counter2', short: 'flock counter ×2', goal: atLeast(10, '≥ 10×') },
  { scenario: 'contended counter, 2 processes', kit: 'kit.counter2', vs: 'alt.worker_counter2', short: 'worker_threads Atomics ×2', goal: null },
  { scenario: 'contended counter, 2 processes', kit: 'kit.counter2_methods', vs: 'c.counter2', short: 'C counter ×2 (ipc-kit: Buffer methods)', goal: null },
  { key: 'counter-c', scenario: 'contended counter, 4 processes', kit: 'kit.counter4', vs: 'c.counter4', short: 'C counter ×4', goal: atLeast(0.25, '≥ 0.25× C') },
  { key: 'counter-flock', scenario: 'contended counter, 4 processes', kit: 'kit.counter4', vs: 'alt.flock_counter4', short: 'flock counter ×4', goal: atLeast(10, '≥ 10×') },
  { scenario: 'contended counter, 4 processes', kit: 'kit.counter4', vs: 'alt.worker_counter4', short: 'worker_threads Atomics ×4', goal: null },
  { scenario: 'contended counter, 4 processes', kit: 'kit.counter4_methods', vs: 'c.counter4', short: 'C counter ×4 (ipc-kit: Buffer methods)', goal: null },
  { key: 'pingpong-sync', scenario: 'ping-pong, sync', kit: 'kit.pingpong_sync', vs: 'alt.process_send_pingpong', short: 'process.send (sync)', goal: atLeast(20, '≥ 20×') },
  { scenario: 'ping-pong, sync', kit: 'kit.pingpong_sync', vs: 'alt.unix_pingpong', short: 'Unix socket (sync)', goal: null },
  { scenario: 'ping-pong, sync', kit: 'kit.pingpong_sync', vs: 'c.futex_pingpong', short: 'C futex ping-pong', goal: null },
  { scenario: 'ping-pong, sync', kit: 'kit.pingpong_sync', vs: 'alt.worker_pingpong_sync', short: 'worker Atomics.wait', goal: null },
  { key: 'pingpong-async', scenario: 'ping-pong, async', kit: 'kit.pingpong_async', vs: 'alt.process_send_pingpong', short: 'process.send (async)', goal: atLeast(2, '≥ 2×') },
  { scenario: 'ping-pong, async', kit: 'kit.pingpong_async', vs: 'alt.unix_pingpong', short: 'Unix socket (async)', goal: null },
  { scenario: 'ping-pong, async', kit: 'kit.pingpong_async', vs: 'alt.worker_pingpong_async', short: 'worker waitAsync', goal: null },
  { key: 'bulk', scenario: 'bulk 1 GiB in 1 MiB chunks', kit: 'kit.ring_bulk', vs: 'c.memcpy', short: 'memcpy', goal: atLeast(0.6, '≥ 0.6× memcpy') },
  { scenario: 'bulk 1 GiB in 1 MiB chunks', kit: 'kit.ring_bulk', vs: 'c.memcpy_cached', short: 'memcpy in cache', goal: null },
  { key: 'bulk', scenario: 'bulk 1 GiB in 1 MiB chunks', kit: 'kit.ring_bulk', vs: 'alt.unix_bulk', short: 'Unix socket bulk', goal: atLeast(3, '≥ 3×') },
  { key: 'bulk', scenario: 'bulk 1 GiB in 1 MiB chunks', kit: 'kit.ring_bulk', vs: 'alt.pipe_bulk', short: 'pipe bulk', goal: atLeast(2, '≥ 2×') },
  { key: 'buffer-ops', scenario: 'Buffer operations, 64 KiB', kit: 'kit.buf_fill', vs: 'alt.plain.buf_fill', short: 'plain Buffer fill()', goal: atMost(1.05, '≤ 1.05×') },
  { key: 'buffer-ops', scenario: 'Buffer operations, 64 KiB', kit: 'kit.buf_read', vs: 'alt.plain.buf_read', short: 'plain Buffer readUInt32LE', goal: atMost(1.05, '≤ 1.05×') },
  { key: 'buffer-ops', scenario: 'Buffer operations, 64 KiB', kit: 'kit.buf_write', vs: 'alt.plain.buf_write', short: 'plain Buffer writeUInt32LE', goal: atMost(1.05, '≤ 1.05×') },
  { key: 'buffer-ops', scenario: 'Buffer operations, 64 KiB', kit: 'kit.buf_index', vs: 'alt.plain.buf_index', short: 'plain Buffer buf[i]', goal: atMost(1.05, '≤ 1.05×') },
  { scenario: 'Buffer operations, 64 KiB', kit: 'kit.buf_fill', vs: 'alt.shmta.buf_fill', short: 'shm-typed-array fill()', goal: null },
  { scenario: 'Buffer operations, 64 KiB', kit: 'kit.buf_write', vs: 'alt.shmta.buf_write', short: 'shm-typed-array writeUInt32LE', goal: null },
  { key: 'chan-sync', scenario: 'channel 64 B, sync', kit: 'kit.chan_sync', vs: 'alt.process_send_json', short: "process.send (json)", goal: atLeast(25, '≥ 25×') },
  { scenario: 'channel 64 B, sync', kit: 'kit.chan_sync', vs: 'alt.process_send_advanced', short: "process.send (advanced)", goal: null },
  { key: 'chan-mq', scenario: 'channel 64 B, sync', kit: 'kit.chan_sync', vs: 'c.mq_pair', short: 'C POSIX mq', goal: atLeast(3, '≥ 3× C mq') },
  { key: 'chan-async', scenario: 'channel 64 B, async', kit: 'kit.chan_async', vs: 'alt.process_send_json', short: "process.send (json)", goal: atLeast(10, '≥ 10×') },
  { scenario: 'channel 64 B, async', kit: 'kit.chan_async', vs: 'alt.process_send_advanced', short: "process.send (advanced)", goal: null },
  { key: 'chan-object', scenario: 'channel small objects', kit: 'kit.chan_object', vs: 'alt.process_send_object', short: "process.send (advanced)", goal: atLeast(3, '≥ 3×') },
  { key: 'chan-rr', scenario: 'channel request/response', kit: 'kit.chan_rr_sync', vs: 'alt.process_send_pingpong', short: 'process.send round trip (sync)', goal: atLeast(50, '≥ 50×') },
  { key: 'chan-rr', scenario: 'channel request/response', kit: 'kit.chan_rr_async', vs: 'alt.process_send_pingpong', short: 'process.send round trip (async)', goal: atLeast(3, '≥ 3×') },
  { key: 'chan-mib', scenario: 'channel 1 MiB messages', kit: 'kit.chan_mib_zero', vs: 'c.memcpy_cached', short: 'memcpy in cache (zero-copy)', goal: atLeast(0.5, '≥ 0.5× memcpy') },
  { key: 'chan-mib', scenario: 'channel 1 MiB messages', kit: 'kit.chan_mib_copy', vs: 'c.memcpy_cached', short: 'memcpy in cache (copying)', goal: atLeast(0.3, '≥ 0.3× memcpy') },
  { scenario: 'channel 1 MiB messages', kit: 'kit.chan_mib_send_view', vs: 'c.memcpy_cached', short: 'memcpy in cache (copying send, view)', goal: null },
  { key: 'chan-4to1', scenario: 'channel 4 senders -> 1', kit: 'kit.chan_4to1', vs: 'kit.chan_sync', short: '1 sender', goal: atLeast(0.5, '≥ 0.5× 1 sender') },
  { key: 'cycle', scenario: 'open + map + close + unlink', kit: 'kit.cycle', vs: 'c.shm_cycle', short: 'C shm cycle', goal: atMost(2, '≤ 2× C') },
  { scenario: 'open + map + close + unlink', kit: 'kit.cycle', vs: 'alt.shmta_cycle', short: 'shm-typed-array cycle', goal: null },
]

// SharedMap: get and set of 100-byte strings and 4 KiB Buffers (bench/shared-map-jobs.js).
const MAP_STORES = [
  ['kit.map', 'ipc-kit SharedMap'],
  ['alt.plain_map', 'a plain in-process Map'],
  ['alt.lmdb', 'lmdb (noSync; set = putSync)'],
  ['alt.redis', 'Redis via ioredis, Unix socket, one await per op'],
  ['alt.primary_map', 'a Map in the cluster primary via process.send'],
]
const MAP_OPS = [
  ['get_str', 'get, 100-byte string'],
  ['set_str', 'set, 100-byte string'],
  ['get_buf', 'get, 4 KiB Buffer'],
  ['set_buf', 'set, 4 KiB Buffer'],
]
for (const [store, label] of MAP_STORES)
  for (const [op, what] of MAP_OPS) FIGURES[`${store}_${op}`] = `${label}: ${what}`
FIGURES['kit.map_reads1'] = 'ipc-kit SharedMap get (100-byte string), 1 reader process'
FIGURES['kit.map_reads2'] = 'ipc-kit SharedMap get (100-byte string), 2 reader processes (ns per get of both)'
const MAP_GOALS = {
  get: { 'alt.redis': atLeast(20, '≥ 20×'), 'alt.lmdb': atLeast(1.5, '≥ 1.5×') },
  set: { 'alt.redis': atLeast(10, '≥ 10×'), 'alt.lmdb': atLeast(3, '≥ 3×') },
}
for (const [op, what] of MAP_OPS) {
  for (const [store, short] of [
    ['alt.plain_map', 'plain Map (ceiling)'],
    ['alt.lmdb', 'lmdb'],
    ['alt.redis', 'Redis (ioredis)'],
    ['alt.primary_map', 'Map in primary (process.send)'],
  ]) {
    const goal = MAP_GOALS[op.slice(0, 3)][store] ?? null
    COMPARISONS.push({
      key: goal ? `map-${op.slice(0, 3)}` : undefined,
      scenario: `SharedMap ${what}`,
      kit: `kit.map_${op}`,
      vs: `${store}_${op}`,
      short,
      goal,
    })
  }
}
COMPARISONS.push({
  key: 'map-readers',
  scenario: 'SharedMap get, 2 readers vs 1',
  kit: 'kit.map_reads2',
  vs: 'kit.map_reads1',
  short: '1 reader process',
  goal: atLeast(1.6, '≥ 1.6×'),
})

// The wait engine (issue: no polling, bounded threads, fast wake-ups): absolute
// goals, and what a wake-up compares with. `max`: the figure must not pass it;
// `vs` with `factor`: the reference figure scaled (a ping-pong's round trip
// halved is one wake-up); `atLeast`: the reference over the figure, at least.
// Words of other objects per engine thread, as the addon exports it.
const GROUP_WORDS = require('../dist/native').binding.wait.GROUP_WORDS
// prettier-ignore
const ENGINE = [
  { id: 'kit.engine_idle_cpu_1000', what: '1,000 idle pending waits: CPU', goal: { max: 1, text: '< 1% of a core' } },
  { id: 'kit.chan_idle_cpu_1000', what: '1,000 idle pending Channel receives: CPU', goal: { max: 1, text: '< 1% of a core' } },
  { id: 'kit.engine_threads_1000', what: '1,000 pending waits: extra threads', goal: { max: Math.ceil(1000 / GROUP_WORDS) + 1, text: `≤ ceil(1000/${GROUP_WORDS}) + 1 = ${Math.ceil(1000 / GROUP_WORDS) + 1}` } },
  { id: 'kit.engine_wake_1', what: 'wake-up latency, 1 wait pending', vs: 'c.futex_pingpong', factor: 0.5, short: 'C futex ping-pong ÷ 2' },
  { id: 'kit.engine_wake_100', what: 'wake-up latency, 100 waits pending', vs: 'c.futex_pingpong', factor: 0.5, short: 'C futex ping-pong ÷ 2' },
  { id: 'kit.engine_wake_10000', what: 'wake-up latency, 10,000 waits pending', vs: 'c.futex_pingpong', factor: 0.5, short: 'C futex ping-pong ÷ 2' },
  { id: 'kit.engine_close_10000', what: 'close() of 10,000 pending waits (half semaphores, half Mutexes)', goal: { max: 1e9, text: '≤ 1 s' } },
  { id: 'kit.pingpong_async', what: 'async ping-pong round trip', vs: 'alt.process_send_pingpong', factor: 1, short: 'process.send round trip', goal: { atLeast: 2, text: '≥ 2× faster' } },
]

module.exports = { FIGURES, COMPARISONS, ENGINE }
