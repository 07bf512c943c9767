// The C limits for the benchmark scenarios: what the same work costs with
// direct system calls and no JavaScript. Compiled at bench time by
// bench/run.js with the system cc (into bench/.build/, which git ignores).
//
//   baseline TEST OPS REPS [NAME]
//
// prints one JSON line {"unit":..., "samples":[...]} with REPS samples, each
// the mean over OPS operations (ns per op, or GB/s for memcpy). NAME is the
// POSIX name to use for objects that need one; everything created is removed
// before exit.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "baseline: %s: %s\n", what, strerror(errno));
  exit(1);
}

static long futex(atomic_int *addr, int op, int val) {
  return syscall(SYS_futex, (int *)addr, op, val, NULL, NULL, 0);
}

// Drepper's futex mutex ("Futexes are tricky", mutex 2): 0 free, 1 locked,
// 2 locked with waiters. Uncontended lock and unlock make no system call.
static inline void mutex_lock(atomic_int *m) {
  int c = 0;
  if (atomic_compare_exchange_strong(m, &c, 1)) return;
  if (c != 2) c = atomic_exchange(m, 2);
  while (c != 0) {
    futex(m, FUTEX_WAIT, 2);
    c = atomic_exchange(m, 2);
  }
}

static inline void mutex_unlock(atomic_int *m) {
  if (atomic_fetch_sub(m, 1) != 1) {
    atomic_store(m, 0);
    futex(m, FUTEX_WAKE, 1);
  }
}

static void *shared_anon(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) die("mmap");
  memset(p, 0, size);
  return p;
}

static void print_samples(const char *unit, const double *samples, int reps) {
  printf("{\"unit\":\"%s\",\"samples\":[", unit);
  for (int i = 0; i < reps; i++) printf("%s%.6g", i ? "," : "", samples[i]);
  printf("]}\n");
}

// --- uncontended pairs ------------------------------------------------------

static double futex_pair(long ops, const char *name) {
  atomic_int *m = shared_anon(4096);
  double t0 = now_ns();
  for (long i = 0; i < ops; i++) {
    mutex_lock(m);
    mutex_unlock(m);
  }
  double t = now_ns() - t0;
  munmap(m, 4096);
  return t / ops;
}

static double sem_pair(long ops, const char *name) {
  sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
  if (s == SEM_FAILED) die("sem_open");
  sem_unlink(name);
  double t0 = now_ns();
  for (long i = 0; i < ops; i++) {
    if (sem_trywait(s) != 0) die("sem_trywait");
    sem_post(s);
  }
  double t = now_ns() - t0;
  sem_close(s);
  return t / ops;
}

static double semop_pair(long ops, const char *name) {
  int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
  if (id < 0) die("semget");
  struct sembuf down = {0, -1, IPC_NOWAIT}, up = {0, 1, 0};
  semop(id, &up, 1);
  double t0 = now_ns();
  for (long i = 0; i < ops; i++) {
    if (semop(id, &down, 1) != 0) die("semop");
    semop(id, &up, 1);
  }
  double t = now_ns() - t0;
  semctl(id, 0, IPC_RMID);
  return t / ops;
}

// --- ping-pong between two processes ------------------------------------------

// turn: 0 = the parent's move, 1 = the child's, 2 = stop.
static double pingpong(long ops, int spin) {
  atomic_int *turn = shared_anon(4096);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    for (;;) {
      int t;
      while ((t = atomic_load(turn)) == 0) {
        if (spin) __builtin_ia32_pause();
        else futex(turn, FUTEX_WAIT, 0);
      }
      if (t == 2) _exit(0);
      atomic_store(turn, 0);
      if (!spin) futex(turn, FUTEX_WAKE, 1);
    }
  }
  double t0 = now_ns();
  for (long i = 0; i < ops; i++) {
    atomic_store(turn, 1);
    if (!spin) futex(turn, FUTEX_WAKE, 1);
    while (atomic_load(turn) == 1) {
      if (spin) __builtin_ia32_pause();
      else futex(turn, FUTEX_WAIT, 1);
    }
  }
  double t = now_ns() - t0;
  atomic_store(turn, 2);
  futex(turn, FUTEX_WAKE, 1);
  waitpid(pid, NULL, 0);
  munmap(turn, 4096);
  return t / ops;
}

static double futex_pingpong(long ops, const char *name) { return pingpong(ops, 0); }
static double spin_pingpong(long ops, const char *name) { return pingpong(ops, 1); }

// --- memcpy: OPS MiB in 1 MiB chunks. "memcpy" moves OPS MiB of distinct
// data to OPS MiB of distinct memory (bigger than any cache: the memory-bandwidth
// limit, the 6-8 GB/s); "memcpy_cached" copies one 1 MiB chunk OPS
// times into an 8-slot ring like the ipc-kit ring (it stays in cache).
#define CHUNK ((size_t)1 << 20)
#define SLOTS 8
static double copy_chunks(long ops, int cached) {
  // Allocated once and copied over once untimed: a VM's first touch of fresh
  // memory is many times slower than later passes.
  static char *src, *dst;
  static long allocated;
  size_t src_size = cached ? CHUNK : CHUNK * ops, dst_size = cached ? CHUNK * SLOTS : CHUNK * ops;
  if (allocated < ops) {
    free(src);
    free(dst);
    src = malloc(src_size);
    dst = malloc(dst_size);
    if (!src || !dst) die("malloc");
    memset(src, 7, src_size);
    memset(dst, 0, dst_size);
    memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
    allocated = ops;
  }
  double t0 = now_ns();
  for (long i = 0; i < ops; i++) {
    if (cached) memcpy(dst + (size_t)(i % SLOTS) * CHUNK, src, CHUNK);
    else memcpy(dst + (size_t)i * CHUNK, src + (size_t)i * CHUNK, CHUNK);
    __asm__ __volatile__("" : : "r"(dst) : "memory");
  }
  return (double)ops * CHUNK / (now_ns() - t0);  // bytes per ns = GB/s
}

static double memcpy_gbps(long ops, const char *name) { return copy_chunks(ops, 0); }
static double memcpy_cached(long ops, const char *name) { return copy_chunks(ops, 1); }

// --- shm_open + ftruncate + mmap + close + munmap + shm_unlink -------------
static double shm_cycle(long ops, const char *name) {
  double t0 = now_ns();
  for (long i = 0; i < ops; i++) {
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) die("shm_open");
    if (ftruncate(fd, 4096) != 0) die("ftruncate");
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) die("mmap");
    close(fd);
    munmap(p, 4096);
    shm_unlink(name);
  }
  return (now_ns() - t0) / ops;
}

// --- contended counter: N processes, OPS increments each under the futex mutex
struct counter {
  atomic_int lock;
  atomic_int ready;
  atomic_int go;
  long value;
};

static double counter(long ops, int procs) {
  struct counter *c = shared_anon(4096);
  pid_t pids[16];
  for (int p = 0; p < procs; p++) {
    pids[p] = fork();
    if (pids[p] < 0) die("fork");
    if (pids[p] == 0) {
      atomic_fetch_add(&c->ready, 1);
      while (!atomic_load(&c->go)) futex(&c->go, FUTEX_WAIT, 0);
      for (long i = 0; i < ops; i++) {
        mutex_lock(&c->lock);
        c->value++;
        mutex_unlock(&c->lock);
      }
      _exit(0);
    }
  }
  while (atomic_load(&c->ready) < procs) usleep(100);
  double t0 = now_ns();
  atomic_store(&c->go, 1);
  futex(&c->go, FUTEX_WAKE, INT32_MAX);
  for (int p = 0; p < procs; p++) waitpid(pids[p], NULL, 0);
  double t = now_ns() - t0;
  if (c->value != ops * procs) {
    fprintf(stderr, "baseline: counter is %ld, expected %ld\n", c->value, ops * procs);
    exit(1);
  }
  munmap(c, 4096);
  return t / ((double)ops * procs);
}

static double counter2(long ops, const char *name) { return counter(ops, 2); }
static double counter4(long ops, const char *name) { return counter(ops, 4); }

// --- POSIX message queue: a child mq_sends OPS 64-byte messages, this process
// mq_receives them (the queue holds the default msg_max of 10). ns per message.
static double mq_pair(long ops, const char *name) {
  struct mq_attr attr = {.mq_maxmsg = 10, .mq_msgsize = 64};
  mq_unlink(name);
  mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
  if (q == (mqd_t)-1) die("mq_open");
  char msg[64];
  memset(msg, 7, sizeof msg);
  double t0 = now_ns();
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    for (long i = 0; i < ops; i++) {
      if (mq_send(q, msg, sizeof msg, 0) != 0) _exit(1);
    }
    _exit(0);
  }
  for (long i = 0; i < ops; i++) {
    if (mq_receive(q, msg, sizeof msg, NULL) != (ssize_t)sizeof msg) die("mq_receive");
  }
  double t = now_ns() - t0;
  int status;
  waitpid(pid, &status, 0);
  mq_close(q);
  mq_unlink(name);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("mq_send");
  return t / ops;
}

static const struct {
  const char *name;
  const char *unit;
  double (*run)(long ops, const char *name);
} tests[] = {
  {"futex_pair", "ns", futex_pair},
  {"sem_pair", "ns", sem_pair},
  {"semop_pair", "ns", semop_pair},
  {"futex_pingpong", "ns", futex_pingpong},
  {"spin_pingpong", "ns", spin_pingpong},
  {"memcpy", "GB/s", memcpy_gbps},
  {"memcpy_cached", "GB/s", memcpy_cached},
  {"shm_cycle", "ns", shm_cycle},
  {"counter2", "ns", counter2},
  {"counter4", "ns", counter4},
  {"mq_pair", "ns", mq_pair},
};

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: baseline TEST OPS REPS [NAME]\n");
    return 2;
  }
  long ops = atol(argv[2]);
  int reps = atoi(argv[3]);
  const char *name = argc > 4 ? argv[4] : "/ipckit-bench-c";
  if (ops <= 0 || reps <= 0 || reps > 100) return 2;
  for (size_t t = 0; t < sizeof tests / sizeof tests[0]; t++) {
    if (strcmp(argv[1], tests[t].name) != 0) continue;
    double samples[100];
    // Warm-up; memcpy needs the full size to fault its buffers in.
    tests[t].run(strncmp(argv[1], "memcpy", 6) == 0 ? ops : (ops / 10 > 0 ? ops / 10 : 1), name);
    for (int r = 0; r < reps; r++) samples[r] = tests[t].run(ops, name);
    print_samples(tests[t].unit, samples, reps);
    return 0;
  }
  fprintf(stderr, "baseline: unknown test %s\n", argv[1]);
  return 2;
}
