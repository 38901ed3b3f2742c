// Process-wide settings that every gorl `main()` applies first.
#ifndef GORL_COMMON_PROCESS_INIT_H_
#define GORL_COMMON_PROCESS_INIT_H_

namespace gorl {

// Keeps glibc malloc from mmap-ing and trimming every large buffer. On the
// VMs we measured, that page-faulted on each tensor and gRPC message and cost
// 3-10x (docs/toolchain.md). Must run before the first large allocation.
void TuneMalloc();

// Makes float arithmetic treat denormal (subnormal) numbers as zero, in
// this thread and every thread it starts later: x86's FTZ and DAZ bits (or
// ARM's FZ), which threads inherit from the thread that creates them. Call
// it before the first thread starts (LibTorch's intra-op and OpenBLAS's
// OpenMP pools start lazily, at the first parallel operation). Without it a
// hopper-stand PPO learner's update slowed from 0.73 s to 2-4 s per
// iteration as its GEMMs met denormals; with it the same update took 1.3 s
// (docs/toolchain.md §3.11). Values below 1.2e-38 carry nothing a
// policy or a physics step can use.
void FlushDenormalsToZero();

// Whether this thread flushes denormals (FlushDenormalsToZero()'s effect).
bool FlushesDenormals();

// TuneMalloc(), FlushDenormalsToZero() and glog set-up; `argv0` names the
// program in log lines.
void InitProcess(const char* argv0);

}  // namespace gorl

#endif  // GORL_COMMON_PROCESS_INIT_H_
