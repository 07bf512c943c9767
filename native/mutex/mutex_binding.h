// The `mutex` namespace of the addon. The uncontended paths (take, release)
// run in JavaScript on the mapped header (lib/mutex.ts, lib/fast-path/); only
// waiting and waking come here.
//
// Values:  LOCK     the header layout and word bits (lock_word.h)
//          OUTCOME  { NOT_ACQUIRED, ACQUIRED, OWNER_DIED }: what acquireSync
//                   returns and what a wait of a mutex queue settles with
// Calls:   taker(header, path, posix)          -> [taker, mine, start, tag]: this thread as it
//                                              writes itself into the lock, with a liveness
//                                              token on the object at `path` (lock_word.h)
//          dropToken(taker)                    gives the token up (after retire, before unmapping)
//          acquireSync(header, taker, timeoutMs) -> an OUTCOME (blocks)
//          wake(header)                        wakes one sleeper after a release saw WAITERS
//          waitQueue(header, taker, onSettled) -> { queue, source }
//          delivered(source), interrupt(source), resume(source), retire(source)
//
// The handoff between a Mutex and the waiter thread that acquires for it.
// `queue` takes wait.add/cancel/close; `source` is the thread's side of the
// lock, which four calls keep in step with JavaScript:
//
//   state        | who        | event or call              | then
//   -------------+------------+----------------------------+------------------------------
//   armed        | JavaScript | wait.add(queue)            | the thread attempts: armed
//   armed        | thread     | attempt takes the lock     | taken (the wait settles with
//                |            |                            |   ACQUIRED or OWNER_DIED)
//   taken        | JavaScript | delivered(source)          | armed; the lock is JavaScript's
//   taken        | engine     | Undo (the wait was         | armed; the lock is released
//                |            |   cancelled or timed out)  |
//   armed        | JavaScript | interrupt(source): a wait  | interrupted: the attempt in
//                |            |   ended and none follows   |   progress ends without the lock
//   interrupted  | JavaScript | resume(source), before the | armed
//                |            |   next wait.add            |
//   any          | JavaScript | wait.close(queue), then    | retired: returns once the thread
//                |            |   retire(source)           |   no longer touches the word, a
//                |            |                            |   lock nobody received released
//
// After retire JavaScript may unmap the header. Until then the thread-safe
// function holds the Mutex (and so its mapping) for the GC.
#pragma once
#include <napi.h>

namespace mutex {
Napi::Object Init(Napi::Env env);
}
