// LibTorch's intra-op thread count, without including LibTorch: the actor
// benchmark compares a process's default against one thread.
#ifndef GORL_COMMON_NN_TORCH_THREADS_H_
#define GORL_COMMON_NN_TORCH_THREADS_H_

namespace gorl::nn {

int TorchThreads();
void SetTorchThreads(int threads);

}  // namespace gorl::nn

#endif  // GORL_COMMON_NN_TORCH_THREADS_H_
