#include "sync_wait.h"

#include <sys/syscall.h>
#include <unistd.h>

namespace waiter {

namespace {

// One per JavaScript thread (an environment lives on one thread): a function
// written in JavaScript, whose entry checks for termination as native ones may not.
thread_local napi_ref probe = nullptr;

void DropProbe(void* arg) {
  napi_delete_reference(static_cast<napi_env>(arg), probe);
  probe = nullptr;
}

}  // namespace

// 0 until this thread first asks, then 1 (the process's first thread) or 2.
// Zero-initialised and initial-exec: reading it costs no call on the sync path.
static __thread int threadKind __attribute__((tls_model("initial-exec"))) = 0;

bool Terminable() {
  if (threadKind == 0) threadKind = syscall(SYS_gettid) == getpid() ? 1 : 2;
  return threadKind == 2;
}

bool Terminating(napi_env env) {
  if (probe == nullptr) {
    napi_value source, fn;
    if (napi_create_string_utf8(env, "(function () {})", NAPI_AUTO_LENGTH, &source) != napi_ok ||
        napi_run_script(env, source, &fn) != napi_ok ||
        napi_create_reference(env, fn, 1, &probe) != napi_ok) {
      return true;
    }
    napi_add_env_cleanup_hook(env, DropProbe, env);
  }
  napi_value fn, global, result;
  napi_get_reference_value(env, probe, &fn);
  napi_get_global(env, &global);
  return napi_call_function(env, global, fn, 0, nullptr, &result) != napi_ok;
}

}  // namespace waiter
