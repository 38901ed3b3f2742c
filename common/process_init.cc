#include "common/process_init.h"

#include <malloc.h>

#include <glog/logging.h>

namespace gorl {

void TuneMalloc() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

void InitProcess(const char* argv0) {
  TuneMalloc();
  static bool glog_ready = false;
  if (!glog_ready) {
    google::InitGoogleLogging(argv0);
    FLAGS_logtostderr = true;
    glog_ready = true;
  }
}

}  // namespace gorl
