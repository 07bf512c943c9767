'use strict'
// Semaphore across real processes: wait/post both ways, SEM_UNDO after a
// SIGKILL, permissions, conservation against another process's posts, and a
// pending wait's hold on process exit.
const { suite } = require('uvu')
const assert = require('uvu/assert')
const fs = require('node:fs')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { IPCBuffer, Semaphore } = require('..')
const {
  withCleanup,
  runChild,
  nobody,
  notRoot,
  skipIf,
  cannotRun,
  freshSemaphore,
  uniqueKey,
  uniqueName,
  uniquePath,
} = require('./helpers')

const fresh = freshSemaphore

/** Runs test/fixtures/semaphore-child.js; asserts a clean exit; returns its messages. */
async function child(args, options) {
  const { code, signal, messages, stderr } = await runChild('semaphore-child.js', args, options)
  assert.is(signal, null, `child died of ${signal}: ${stderr}`)
  assert.is(code, 0, `child exited ${code}: ${stderr} ${JSON.stringify(messages)}`)
  return { messages }
}

for (const kind of ['posix', 'sysv']) {
  const t = suite(`Semaphore across processes (${kind})`)

  for (const mode of ['sync', 'async']) {
    t(`a child's ${mode} wait takes the unit this process posts`, () =>
      withCleanup(async (cleanup) => {
        const sem = fresh(kind, cleanup)
        const done = child(['wait', kind, sem.name, mode], {
          onMessage: (m) => m.ready && sem.post(),
        })
        const { messages } = await done
        assert.equal(messages, [{ ready: true }, { waited: true }])
        assert.is(sem.value, 0)
      }),
    )
  }

  t('wait() here resolves on a post from a child; waitSync() here too', () =>
    withCleanup(async (cleanup) => {
      const sem = fresh(kind, cleanup)
      const pending = sem.wait({ timeout: 15000 })
      await child(['post', kind, sem.name, 2])
      await pending
      assert.is(sem.waitSync(5000), true)
      assert.is(sem.value, 0)
    }),
  )

  t('no unit is lost: waits with tiny timeouts racing another process posting', () =>
    withCleanup(async (cleanup) => {
      const sem = fresh(kind, cleanup)
      const POSTS = 2000
      let received = 0
      let refused = 0
      let posting = true
      const poster = runChild('semaphore-child.js', ['post-loop', kind, sem.name, POSTS])
      const waits = []
      const finished = poster.then(() => (posting = false))
      while (posting) {
        for (let i = 0; i < 20; i++) {
          waits.push(
            sem.wait({ timeout: (i % 4) * 0.3 }).then(
              () => received++,
              (err) => {
                assert.is(err.code, 'ETIMEDOUT')
                refused++
              },
            ),
          )
        }
        await new Promise((r) => setTimeout(r, 1))
      }
      const { code, messages } = await poster
      await finished
      assert.is(code, 0)
      assert.equal(messages.at(-1), { posted: POSTS })
      await Promise.all(waits)
      let left = 0
      while (sem.waitSync(100)) left++
      assert.ok(refused > 0, 'no wait timed out: the race did not happen')
      assert.is(received + left, POSTS)
    }),
  )

  t('signals interrupting waitSync (EINTR) resume it with the time left', () =>
    withCleanup(async (cleanup) => {
      const sem = fresh(kind, cleanup)
      let timer
      cleanup(() => clearInterval(timer))
      const { messages } = await child(['signalled', kind, sem.name, 400], {
        onMessage: (m, proc) => {
          if (m.ready) timer = setInterval(() => proc.kill('SIGUSR2'), 40)
          else clearInterval(timer)
        },
      })
      const { taken, took } = messages[1]
      assert.is(taken, false)
      assert.ok(took >= 400 && took <= 500, `waitSync(400) under signals took ${took} ms`)
    }),
  )

  skipIf(notRoot, t)('an unprivileged child opening a 0600 semaphore gets EACCES; 0666 lets it in', () =>
    withCleanup(async (cleanup) => {
      const closed = fresh(kind, cleanup, { mode: 0o600 })
      const { messages } = await child(['open', kind, closed.name], nobody())
      assert.equal(messages, [{ code: 'EACCES', syscall: kind === 'posix' ? 'sem_open' : 'semget', name: 'IPCError' }])
      const open = fresh(kind, cleanup, { mode: 0o666 })
      assert.equal((await child(['open', kind, open.name], nobody())).messages, [{ ok: true }])
    }),
  )

  t('a pending wait keeps the process alive, as a timer would; close() lets it exit', () =>
    withCleanup(async (cleanup) => {
      const sem = fresh(kind, cleanup)
      const t0 = performance.now()
      const { code, signal, stdout, stderr } = await runChild('semaphore-child.js', [
        'pending-wait',
        kind,
        sem.name,
        300,
      ])
      assert.is(signal, null, stderr)
      assert.is(code, 0, stderr)
      assert.is(stdout, 'ETIMEDOUT') // it lived to see its wait time out
      assert.ok(performance.now() - t0 >= 300)
      const { messages } = await child(['close-pending', kind, sem.name], { timeout: 10000 })
      assert.equal(messages, [{ ready: true }, { code: 'ERR_IPC_CLOSED' }])
      assert.is(sem.value, 0)
    }),
  )

  t.run()
}

const undo = suite('System V undo')

/** A child takes the one unit, then dies of SIGKILL holding it; returns the value after. */
async function killHolder(sem, holdArgs) {
  let reported
  const { signal } = await runChild('semaphore-child.js', ['hold', 'sysv', sem.name, ...holdArgs], {
    onMessage: (m, proc) => {
      reported = m
      proc.kill('SIGKILL')
    },
  })
  assert.equal(reported, { taken: true, value: 0 })
  assert.is(signal, 'SIGKILL')
  return sem.value
}

undo('undo: true gives back the unit of a child killed with SIGKILL while holding it', () =>
  withCleanup(async (cleanup) => {
    const sem = fresh('sysv', cleanup, { initial: 1, undo: true })
    assert.is(sem.undo, true)
    // The kernel undid the child's semop when it died.
    assert.is(await killHolder(sem, ['undo']), 1)
  }),
)

undo('without undo the unit stays taken, as it does for POSIX semaphores', () =>
  withCleanup(async (cleanup) => {
    const sem = fresh('sysv', cleanup, { initial: 1 })
    assert.is(await killHolder(sem, []), 0)
  }),
)

undo.run()

const foreign = suite('System V sets made by other programs, and racing creators')

// Makes System V set KEY with value N in one of two ways (argv: KEY N MODE [MS]):
//   setval   the textbook way, as C programs and python3-sysv-ipc do: semget,
//            then semctl(SETVAL); the set's sem_otime stays 0
//   slow     as ipc-kit's creator does, semget then semop(+N), with MS ms
//            between the two (printing "made" after semget): a set still being made
const SEMSET_C = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/sem.h>
union semun { int val; struct semid_ds* buf; unsigned short* array; };
int main(int argc, char** argv) {
  int id = semget((key_t)strtol(argv[1], 0, 10), 1, IPC_CREAT | IPC_EXCL | 0600);
  if (id < 0) { perror("semget"); return 1; }
  if (strcmp(argv[3], "setval") == 0) {
    union semun arg;
    arg.val = atoi(argv[2]);
    if (semctl(id, 0, SETVAL, arg) != 0) { perror("semctl"); return 1; }
    return 0;
  }
  printf("made\\n");
  fflush(stdout);
  usleep(atoi(argv[4]) * 1000);
  struct sembuf op = {0, (short)atoi(argv[2]), 0};
  if (semop(id, &op, 1) != 0) { perror("semop"); return 1; }
  return 0;
}
`
const noCompiler = cannotRun('cc', ['--version'])

/** Compiles SEMSET_C into a fresh directory (removed by `cleanup`); returns the program's path. */
function semsetProgram(cleanup) {
  const dir = uniquePath('semset')
  fs.mkdirSync(dir)
  cleanup(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.writeFileSync(path.join(dir, 'semset.c'), SEMSET_C)
  const built = spawnSync('cc', ['-o', path.join(dir, 'semset'), path.join(dir, 'semset.c')], { encoding: 'utf8' })
  assert.is(built.status, 0, built.stderr)
  return path.join(dir, 'semset')
}

skipIf(noCompiler, foreign)(
  'a set made with semget + SETVAL by a C program opens at once (< 20 ms), with its value',
  () =>
    withCleanup(async (cleanup) => {
      const program = semsetProgram(cleanup)
      const key = uniqueKey()
      const made = spawnSync(program, [String(key), '3', 'setval'], { encoding: 'utf8' })
      cleanup(() => Semaphore.unlink('sysv', key))
      assert.is(made.status, 0, made.stderr)
      // Opened moments after it was made, as an open and as create-or-open.
      for (const options of [{}, { initial: 1 }, { create: false }]) {
        const t0 = performance.now()
        const sem = Semaphore.sysv(key, options)
        const took = performance.now() - t0
        cleanup(() => sem.close())
        assert.ok(took < 20, `Semaphore.sysv(${JSON.stringify(options)}) took ${took.toFixed(1)} ms`)
        assert.is(sem.value, 3)
      }
    }),
)

skipIf(noCompiler, foreign)(
  'a set still being made (semget done, its first semop 60 ms later) is opened with its initial value',
  () =>
    withCleanup(async (cleanup) => {
      const program = semsetProgram(cleanup)
      const key = uniqueKey()
      cleanup(() => Semaphore.unlink('sysv', key))
      const creator = spawn(program, [String(key), '4', 'slow', '60'], { stdio: ['ignore', 'pipe', 'pipe'] })
      cleanup(() => creator.kill('SIGKILL'))
      const exited = new Promise((resolve) => creator.once('exit', resolve))
      await new Promise((resolve, reject) => {
        creator.stdout.once('data', resolve)
        creator.once('exit', () => reject(new Error('the creator exited before making the set')))
      })
      const sem = Semaphore.sysv(key, { initial: 1 }) // create-or-open: finds the set being made
      cleanup(() => sem.close())
      assert.is(sem.created, false)
      assert.is(sem.value, 4)
      assert.is(await exited, 0)
    }),
)

foreign('racing creators: every opener sees the initial value, never a set still being made', () =>
  withCleanup(async (cleanup) => {
    const ROUNDS = 12
    const OPENERS = 4
    const flagsName = uniqueName('race-flags')
    const flags = IPCBuffer.posix(flagsName, { size: ROUNDS })
    cleanup(() => flags.close())
    cleanup(() => flags.unlink())
    const base = uniqueKey()
    for (let r = 1; r < ROUNDS; r++) uniqueKey() // reserve base .. base + ROUNDS - 1
    for (let r = 0; r < ROUNDS; r++) cleanup(() => Semaphore.unlink('sysv', base + r))
    let ready = 0
    let go
    const allReady = new Promise((resolve) => (go = resolve))
    const children = []
    for (let i = 0; i < OPENERS; i++) {
      children.push(
        runChild('semaphore-child.js', ['race-open', 'sysv', base, flagsName, ROUNDS, 4], {
          onMessage: (m) => m.ready && ++ready === OPENERS && go(),
          onSpawn: (c) => cleanup(() => c.kill('SIGKILL')),
        }),
      )
    }
    await allReady
    const view = new Uint8Array(flags.buffer, flags.byteOffset, ROUNDS)
    for (let r = 0; r < ROUNDS; r++) Atomics.store(view, r, 1)
    const results = await Promise.all(children)
    for (const { code, signal, stderr, messages } of results) {
      assert.is(signal, null, stderr)
      assert.is(code, 0, stderr)
      assert.equal(messages[1], { values: Array(ROUNDS).fill(4) })
    }
  }),
)

foreign.run()

const leftovers = suite('No temporary file left by killed openers')

/** glibc's temporary files for semaphores being created: /dev/shm/sem.XXXXXX. */
function semTemporaries() {
  return new Set(fs.readdirSync('/dev/shm').filter((f) => /^sem\.[A-Za-z0-9]{6}$/.test(f)))
}

leftovers('40 openers of an existing POSIX semaphore, SIGKILLed at random moments, leave no /dev/shm/sem.XXXXXX', () =>
  withCleanup(async (cleanup) => {
    const sem = fresh('posix', cleanup, { initial: 1 })
    const before = semTemporaries()
    const KILLS = 40
    const AT_ONCE = 4
    let killed = 0
    for (let round = 0; round < KILLS / AT_ONCE; round++) {
      const runs = []
      for (let i = 0; i < AT_ONCE; i++) {
        runs.push(
          runChild('semaphore-child.js', ['open-loop', 'posix', sem.name, 1], {
            // Killed 0-15 ms into its loop of opens, each with { initial }.
            onMessage: (m, child) => m.ready && setTimeout(() => child.kill('SIGKILL'), Math.random() * 15),
          }),
        )
      }
      for (const { signal, stderr } of await Promise.all(runs)) {
        assert.is(signal, 'SIGKILL', stderr)
        killed++
      }
    }
    assert.is(killed, KILLS)
    // Another program creating a semaphore right now has its temporary file for
    // microseconds: only files still there on a second look count.
    const left = [...semTemporaries()].filter((f) => !before.has(f))
    const stayed = left.filter((f) => semTemporaries().has(f))
    assert.equal(stayed, [], `left in /dev/shm: ${stayed.join(' ')}`)
    assert.is(sem.value, 1) // opening took nothing
  }),
)

leftovers.run()
