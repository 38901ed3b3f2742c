// A floor under thread stack sizes requested by libraries, for this binary.
//
// Debian's civetweb (under prometheus-cpp's metrics exporter) starts its
// threads with 100 KiB stacks (USE_STACK_SIZE = 0x19000). glibc places the
// static TLS of every loaded library at the top of each thread's stack and
// refuses (EINVAL) a stack smaller than that plus 16 KiB; with LibTorch's
// dependencies loaded (OpenBLAS alone has 60 KiB of TLS, glog 30 KiB) the
// static TLS is ~107 KiB, so the exporter could not start a single thread
// and every role ran without metrics. Requests below kFloor are raised to it
// (address space only; pages are touched as used). The gorl executable
// exports this symbol (cli/CMakeLists.txt), so shared libraries bind to it
// instead of libc's.
#include <dlfcn.h>
#include <pthread.h>

#include <cstddef>

namespace {

constexpr size_t kFloor = size_t{1} << 20;

using SetStackSize = int (*)(pthread_attr_t*, size_t);

SetStackSize LibcSetStackSize() {
  static const SetStackSize libc =
      reinterpret_cast<SetStackSize>(dlsym(RTLD_NEXT, "pthread_attr_setstacksize"));
  return libc;
}

}  // namespace

extern "C" int pthread_attr_setstacksize(pthread_attr_t* attr, size_t size) {
  const SetStackSize libc = LibcSetStackSize();
  return libc(attr, size < kFloor ? kFloor : size);
}
