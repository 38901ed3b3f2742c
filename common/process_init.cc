#include "common/process_init.h"

#include <malloc.h>

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include <glog/logging.h>

namespace gorl {

void TuneMalloc() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

#if defined(__x86_64__) || defined(__i386__)
// MXCSR: flush-to-zero (results) and denormals-are-zero (inputs).
constexpr unsigned kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;

void FlushDenormalsToZero() { _mm_setcsr(_mm_getcsr() | kFlushToZero | kDenormalsAreZero); }

bool FlushesDenormals() {
  return (_mm_getcsr() & (kFlushToZero | kDenormalsAreZero)) == (kFlushToZero | kDenormalsAreZero);
}
#elif defined(__aarch64__)
// FPCR.FZ flushes denormal inputs and results of float arithmetic to zero.
constexpr uint64_t kFlushToZero = uint64_t{1} << 24;

void FlushDenormalsToZero() {
  uint64_t fpcr;
  asm volatile("mrs %0, fpcr" : "=r"(fpcr));
  asm volatile("msr fpcr, %0" : : "r"(fpcr | kFlushToZero));
}

bool FlushesDenormals() {
  uint64_t fpcr;
  asm volatile("mrs %0, fpcr" : "=r"(fpcr));
  return (fpcr & kFlushToZero) != 0;
}
#else
void FlushDenormalsToZero() {}
bool FlushesDenormals() { return false; }
#endif

void InitProcess(const char* argv0) {
  TuneMalloc();
  FlushDenormalsToZero();
  static bool glog_ready = false;
  if (!glog_ready) {
    google::InitGoogleLogging(argv0);
    FLAGS_logtostderr = true;
    glog_ready = true;
  }
}

}  // namespace gorl
