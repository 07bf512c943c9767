{
  "targets": [
    {
      "target_name": "ipc_kit",
      "sources": [
        "native/addon.cc",
        "native/common/clock.cc",
        "native/common/errors.cc",
        "native/common/fast_path_alias.cc",
        "native/shm/shm_binding.cc",
        "native/shm/shm_linux.cc",
        "native/sem/sem_binding.cc",
        "native/sem/sem_posix.cc",
        "native/sem/sem_sysv.cc",
        "native/mutex/lock_word_linux.cc",
        "native/mutex/mutex_binding.cc",
        "native/mutex/owner_watch_linux.cc",
        "native/mutex/thread_locks.cc",
        "native/mutex/token_watch_linux.cc",
        "native/wait/futex_linux.cc",
        "native/wait/interrupt_linux.cc",
        "native/wait/sync_wait.cc",
        "native/wait/waiter.cc",
        "native/wait/wait_binding.cc",
        "native/wait/word_wait_binding.cc",
        "native/wait/word_wait_linux.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lpthread", "-lrt"]
    }
  ]
}
