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
//          delivered(source), retire(source)
//
// The handoff between a Mutex and the waiter engine that acquires for it.
// `queue` takes wait.add/cancel/close; `source` is the engine's side of the
// lock. The engine takes the lock only for a wait still queued; two calls
// keep the lock it took in step with JavaScript:
//
//   state   | who        | event or call                    | then
//   --------+------------+----------------------------------+-------------------------------
//   waiting | engine     | the lock is taken for the oldest | taken (the wait settles with
//           |            |   queued wait                    |   ACQUIRED or OWNER_DIED)
//   taken   | JavaScript | delivered(source)                | the lock is JavaScript's
//   taken   | engine     | Undo (the wait was cancelled,    | released (one taken over from
//           |            |   timed out or closed meanwhile) |   a dead owner: marked ABANDONED,
//           |            |                                  |   so its next holder sees ownerDied)
//   any     | JavaScript | wait.close(queue), then          | a lock nobody received is
//           |            |   retire(source)                 |   released (or marked, as above)
//
// The engine reads the word through its own mapping of the lock's page, and
// judges owners through the taker's token under the taker's lock: JavaScript
// may drop the token and unmap the header whenever it likes.
#pragma once
#include <napi.h>

namespace mutex {
Napi::Object Init(Napi::Env env);
}
