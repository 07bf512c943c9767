// Marshals JavaScript arguments to the OS layer (shm_os.h) and wraps each mapping in an
// external Buffer. A Mapping is shared by two owners, the Buffer (whose
// finalizer is the GC's safety net) and the handle JavaScript keeps to close
// it; whichever goes last frees it, and the memory is unmapped exactly once.
#include "shm_binding.h"

#include <unistd.h>

#include <cstdint>
#include <string>

#include "../common/constants_js.h"
#include "../common/errors.h"
#include "../common/fast_path_alias_js.h"
#include "../common/open_codes.h"
#include "shm_os.h"

namespace shm {

namespace {

using ipc::Check;
using ipc::kFile;
using ipc::kPosix;
using ipc::kReadonly;
using ipc::kSysv;

struct Mapping {
  void* addr;
  size_t size;
  bool sysv;
  // What the fast path's alias maps again (POSIX shm and files, read-write).
  int kind = ipc::kSysv;
  std::string name;
  dev_t dev = 0;
  ino_t ino = 0;
  bool readonly = false;
  bool mapped = true;
  bool unmapWhenIdle = false;  // closed while a flushAsync runs
  int flushing = 0;
  int owners = 2;
};

void Release(Napi::Env env, Mapping* m) {
  if (!m->mapped) return;
  m->mapped = false;
  if (m->sysv) {
    DetachSysv(m->addr);
  } else {
    Unmap(m->addr, m->size);
  }
  Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(m->size));
}

void Disown(Mapping* m) {
  if (--m->owners == 0) delete m;
}

// Unmaps now, or after the flushes in flight: never under a running msync.
void UnmapSoon(Napi::Env env, Mapping* m) {
  if (m->flushing > 0) {
    m->unmapWhenIdle = true;
  } else {
    Release(env, m);
  }
}

void FinalizeBuffer(napi_env env, void* /*data*/, void* hint) {
  auto* m = static_cast<Mapping*>(hint);
  UnmapSoon(Napi::Env(env), m);
  Disown(m);
}

// A System V key: TypeScript passes it unsigned (0..0xffffffff); key_t is its
// signed 32-bit reading.
key_t KeyOf(const Napi::Value& v) { return static_cast<key_t>(v.As<Napi::Number>().Uint32Value()); }

std::string Utf8(const Napi::Value& v) { return v.As<Napi::String>().Utf8Value(); }

// { buffer, handle, size, created, id } over a fresh mapping.
Napi::Value Wrap(Napi::Env env, Mapping* m, const Opened& opened, Napi::Value subject) {
  void* addr = m->addr;
  size_t size = m->size;
  napi_value buffer;
  napi_status status = napi_create_external_buffer(env, size, addr, FinalizeBuffer, m, &buffer);
  if (status != napi_ok) {
    Unmap(addr, size);
    delete m;
    // Runtimes with V8's sandbox (Electron) refuse memory they did not allocate.
    if (status == napi_no_external_buffers_allowed) {
      ipc::ThrowErrno(env, 0, "napi_create_external_buffer", subject);
    }
    throw Napi::Error::New(env, "napi_create_external_buffer failed");
  }
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(size));
  Napi::Object result = Napi::Object::New(env);
  result.Set("buffer", Napi::Value(env, buffer));
  result.Set("handle", Napi::External<Mapping>::New(env, m, [](Napi::Env, Mapping* m) { Disown(m); }));
  result.Set("size", Napi::Number::New(env, static_cast<double>(opened.size)));
  result.Set("created", Napi::Boolean::New(env, opened.created));
  result.Set("id", Napi::Number::New(env, opened.id));
  return result;
}

// open(kind, id, flags, mode, size): opens/creates, grows, maps. `size` 0
// maps the whole object; the object's own size is returned alongside.
Napi::Value JsOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int kind = info[0].As<Napi::Number>().Int32Value();
  Napi::Value subject = info[1];
  int flags = info[2].As<Napi::Number>().Int32Value();
  auto mode = static_cast<mode_t>(info[3].As<Napi::Number>().Uint32Value());
  auto size = static_cast<size_t>(info[4].As<Napi::Number>().Int64Value());
  bool readonly = (flags & kReadonly) != 0;
  Opened opened;
  void* addr = nullptr;
  if (kind == kSysv) {
    auto key = KeyOf(subject);
    Check(env, OpenSysv(key, flags, mode, size, &opened), subject);
    size_t length = size > 0 ? size : opened.size;
    Check(env, AttachSysv(opened.id, &addr), subject);
    return Wrap(env, new Mapping{addr, length, true, kSysv, {}, 0, 0, false}, opened, subject);
  }
  std::string name = Utf8(subject);
  Status s = kind == kPosix ? OpenPosix(name.c_str(), flags, mode, size, &opened)
                            : OpenFile(name.c_str(), flags, mode, size, &opened);
  Check(env, s, subject);
  // Readonly opens never grow: map only what exists, TypeScript reports the shortfall.
  size_t length = size > 0 && size <= opened.size ? size : opened.size;
  if (length == 0) {
    close(opened.fd);
    ipc::ThrowErrno(env, EINVAL, "mmap", subject);
  }
  Check(env, MapFd(opened.fd, length, readonly, &addr), subject);
  auto* m = new Mapping{addr, length, false, kind, std::move(name), opened.dev, opened.ino, readonly};
  return Wrap(env, m, opened, subject);
}

// close(handle, arrayBuffer): detaches every view, then unmaps. false if already closed.
Napi::Value JsClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping* m = info[0].As<Napi::External<Mapping>>().Data();
  if (!m->mapped || m->unmapWhenIdle) return Napi::Boolean::New(env, false);
  auto ab = info[1].As<Napi::ArrayBuffer>();
  if (!ab.IsDetached()) ab.Detach();
  UnmapSoon(env, m);
  return Napi::Boolean::New(env, true);
}

// detach(arrayBuffer): empties process-private memory on close.
void JsDetach(const Napi::CallbackInfo& info) {
  auto ab = info[0].As<Napi::ArrayBuffer>();
  if (!ab.IsDetached()) ab.Detach();
}

// window(arrayBuffer, offset, length) -> a new ArrayBuffer over those bytes of
// `arrayBuffer`'s memory, which detach() can empty without touching the rest
// (Channel's zero-copy views). It keeps `arrayBuffer` (and so the mapping)
// alive while it lives; whoever closes the mapping detaches it first.
Napi::Value JsWindow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto parent = info[0].As<Napi::ArrayBuffer>();
  double offset = info[1].As<Napi::Number>().DoubleValue();
  double length = info[2].As<Napi::Number>().DoubleValue();
  if (parent.Data() == nullptr || !(offset >= 0) || !(length >= 0) || offset + length > parent.ByteLength()) {
    throw Napi::RangeError::New(env, "the window is outside the mapping");
  }
  auto* keep = new Napi::Reference<Napi::ArrayBuffer>(Napi::Persistent(parent));
  auto* data = static_cast<uint8_t*>(parent.Data()) + static_cast<size_t>(offset);
  // A zero-length external buffer may not be allowed a data pointer: give it none.
  if (length == 0) {
    delete keep;
    return Napi::ArrayBuffer::New(env, 0);
  }
  return Napi::ArrayBuffer::New(
      env, data, static_cast<size_t>(length),
      [](Napi::Env, void*, Napi::Reference<Napi::ArrayBuffer>* ref) { delete ref; }, keep);
}

// flush(handle, subject): msync, blocking.
void JsFlush(const Napi::CallbackInfo& info) {
  Mapping* m = info[0].As<Napi::External<Mapping>>().Data();
  if (m->sysv || !m->mapped) return;
  Check(info.Env(), shm::Flush(m->addr, m->size), info[1]);
}

// msync on libuv's pool: bounded work, unlike a wait. Keeps the mapping until done.
class FlushWorker : public Napi::AsyncWorker {
 public:
  FlushWorker(Napi::Env env, Mapping* m, std::string subject)
      : Napi::AsyncWorker(env, "ipc-kit:flush"),
        m_(m),
        deferred_(Napi::Promise::Deferred::New(env)),
        subject_(std::move(subject)) {
    m_->owners++;
    m_->flushing++;
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { status_ = shm::Flush(m_->addr, m_->size); }
  void OnOK() override { Settle(); }
  void OnError(const Napi::Error&) override { Settle(); }

 private:
  void Settle() {
    Napi::Env env = Env();
    if (--m_->flushing == 0 && m_->unmapWhenIdle) Release(env, m_);
    Disown(m_);
    if (status_.ok()) {
      deferred_.Resolve(env.Undefined());
    } else {
      deferred_.Reject(
          ipc::ErrnoError(env, status_.err, status_.syscall, Napi::String::New(env, subject_)).Value());
    }
  }
  Mapping* m_;
  Napi::Promise::Deferred deferred_;
  std::string subject_;  // a name or path (System V segments are never flushed)
  Status status_;
};

Napi::Value JsFlushAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping* m = info[0].As<Napi::External<Mapping>>().Data();
  if (m->sysv || !m->mapped || m->unmapWhenIdle) {
    auto done = Napi::Promise::Deferred::New(env);
    done.Resolve(env.Undefined());
    return done.Promise();
  }
  auto* worker = new FlushWorker(env, m, Utf8(info[1]));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// unlink(kind, id): removes the name; mappings stay until closed.
void JsUnlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int kind = info[0].As<Napi::Number>().Int32Value();
  Napi::Value subject = info[1];
  if (kind == kSysv) {
    Check(env, RemoveSysvKey(KeyOf(subject)), subject);
  } else {
    std::string name = Utf8(subject);
    Check(env, kind == kPosix ? UnlinkPosix(name.c_str()) : UnlinkFile(name.c_str()), subject);
  }
}

// removeSysv(shmid, key): removes the very segment this process attached.
void JsRemoveSysv(const Napi::CallbackInfo& info) {
  Check(info.Env(), RemoveSysvId(info[0].As<Napi::Number>().Int32Value()), info[1]);
}

Napi::Value JsExists(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int kind = info[0].As<Napi::Number>().Int32Value();
  Napi::Value subject = info[1];
  bool exists = false;
  if (kind == kSysv) {
    Check(env, ExistsSysv(KeyOf(subject), &exists), subject);
  } else {
    std::string name = Utf8(subject);
    Check(env, kind == kPosix ? ExistsPosix(name.c_str(), &exists) : ExistsFile(name.c_str(), &exists),
          subject);
  }
  return Napi::Boolean::New(env, exists);
}

// aliasInto(handle, sourceOffset, target, targetOffset, length): maps the
// pages of a mapping from `sourceOffset` over `target` (the fast path's
// WebAssembly memory; lib/fast-path/) by mapping its object once more (a
// System V segment, or an object whose name is gone: by mremap).
void JsAliasInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping* m = info[0].As<Napi::External<Mapping>>().Data();
  double offset = info[1].As<Napi::Number>().DoubleValue();
  double length = info[4].As<Napi::Number>().DoubleValue();
  void* dst = ipc::PageRangeOf(env, info[2], info[3].As<Napi::Number>().DoubleValue(), length);
  void* src = m->mapped ? ipc::PageRange(m->addr, m->size, offset, length) : nullptr;
  if (src == nullptr || m->readonly)
    throw Napi::RangeError::New(env, "not a page-aligned range of a shared mapping");
  auto bytes = static_cast<size_t>(length);
  auto at = static_cast<off_t>(offset);
  Status s{ENOENT, "alias"};
  if (m->kind == kPosix) s = AliasPosix(m->name.c_str(), m->dev, m->ino, at, dst, bytes);
  if (m->kind == kFile) s = AliasFile(m->name.c_str(), m->dev, m->ino, at, dst, bytes);
  if (!s.ok()) s = ipc::AliasPages(src, dst, bytes);
  Check(env, s, env.Undefined());
}

// unalias(target, targetOffset, length): private zero pages again.
void JsUnalias(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double length = info[2].As<Napi::Number>().DoubleValue();
  void* dst = ipc::PageRangeOf(env, info[0], info[1].As<Napi::Number>().DoubleValue(), length);
  Check(env, ipc::ResetPages(dst, static_cast<size_t>(length)), env.Undefined());
}

}  // namespace

Napi::Object Init(Napi::Env env) {
  Napi::Object exports = Napi::Object::New(env);
  exports.Set("PAGE_SIZE", Napi::Number::New(env, static_cast<double>(sysconf(_SC_PAGESIZE))));
  exports.Set("LOCK_WAIT_MS", Napi::Number::New(env, kLockWaitMs));
  exports.Set("KIND", ipc::Constants(env, {{"posix", kPosix}, {"file", kFile}, {"sysv", kSysv}}));
  exports.Set("OPEN",
              ipc::Constants(
                  env, {{"CREATE", ipc::kCreate}, {"EXCLUSIVE", ipc::kExclusive}, {"READONLY", kReadonly}}));
  exports.Set("open", Napi::Function::New(env, JsOpen, "open"));
  exports.Set("close", Napi::Function::New(env, JsClose, "close"));
  exports.Set("detach", Napi::Function::New(env, JsDetach, "detach"));
  exports.Set("window", Napi::Function::New(env, JsWindow, "window"));
  exports.Set("flush", Napi::Function::New(env, JsFlush, "flush"));
  exports.Set("flushAsync", Napi::Function::New(env, JsFlushAsync, "flushAsync"));
  exports.Set("unlink", Napi::Function::New(env, JsUnlink, "unlink"));
  exports.Set("removeSysv", Napi::Function::New(env, JsRemoveSysv, "removeSysv"));
  exports.Set("exists", Napi::Function::New(env, JsExists, "exists"));
  exports.Set("aliasInto", Napi::Function::New(env, JsAliasInto, "aliasInto"));
  exports.Set("unalias", Napi::Function::New(env, JsUnalias, "unalias"));
  return exports;
}

}  // namespace shm
