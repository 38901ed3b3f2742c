// Process-wide settings that every gorl `main()` applies first.
#ifndef GORL_COMMON_PROCESS_INIT_H_
#define GORL_COMMON_PROCESS_INIT_H_

namespace gorl {

// Keeps glibc malloc from mmap-ing and trimming every large buffer. On the
// VMs we measured, that page-faulted on each tensor and gRPC message and cost
// 3-10x (docs/toolchain.md). Must run before the first large allocation.
void TuneMalloc();

// TuneMalloc() plus glog set-up; `argv0` names the program in log lines.
void InitProcess(const char* argv0);

}  // namespace gorl

#endif  // GORL_COMMON_PROCESS_INIT_H_
