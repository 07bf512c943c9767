{
  "targets": [
    {
      "target_name": "ipc_kit",
      "sources": [
        "native/addon.cc",
        "native/common/errors.cc",
        "native/common/page_alias.cc",
        "native/shm/shm_binding.cc",
        "native/shm/shm_posix.cc",
        "native/sem/sem_binding.cc",
        "native/sem/posix_sem.cc",
        "native/sem/sysv_sem.cc",
        "native/sem/waiter.cc",
        "native/sem/futex_linux.cc",
        "native/sem/mutex_binding.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lpthread", "-lrt"]
    }
  ]
}
