// The cost of calling into native code at all: a Node-API function that does
// nothing. Compiled at bench time by bench/run.js into bench/.build/noop.node.
#include <node_api.h>

static napi_value Noop(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "noop", NAPI_AUTO_LENGTH, Noop, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "noop", fn) != napi_ok) return NULL;
  return exports;
}
