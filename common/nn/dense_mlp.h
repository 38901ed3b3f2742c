// A LibTorch-free MLP forward pass for batched inference on the actors.
//
// The actor's policy is a few small matrices (widths 32-256) applied to a
// batch of 16-256 observations, 10 times per env step for a flow decoder.
// Through LibTorch each layer is several dispatched ops with fresh
// allocations: at these sizes that overhead is larger than the arithmetic
// (docs/performance.md). Here a layer is one BLAS sgemm into buffers that
// are allocated once and reused; the training networks stay in LibTorch
// (common/nn/mlp.h) and are copied into a DenseMlp when a policy is installed.
//
// Same layout and activations as nn::Mlp: SiLU between layers, none after
// the last.
#ifndef GORL_COMMON_NN_DENSE_MLP_H_
#define GORL_COMMON_NN_DENSE_MLP_H_

#include <vector>

namespace gorl::nn {

struct DenseLayer {
  int in = 0, out = 0;
  std::vector<float> weight;  // [in, out], row-major (the transpose of torch's Linear)
  std::vector<float> bias;    // [out]
};

// y[rows, n] (+)= x[rows, k] w[k, n], all row-major with the given leading
// dimensions (ldx >= k, ldw >= n, ldy >= n); y is overwritten unless
// `accumulate`. Single-threaded, whatever the BLAS (see the .cc).
void MatMul(const float* x, int rows, int k, int ldx, const float* w, int n, int ldw, float* y,
            int ldy, bool accumulate);

// y = silu(y) in place, y = x sigmoid(x): AVX2 + FMA where the CPU has
// them, else the portable loop.
void SiluInPlace(float* y, int count);
namespace internal {  // both paths, for the tests
void SiluPortable(float* y, int count);
#if defined(__x86_64__)
void SiluAvx2(float* y, int count);  // only on a CPU with AVX2 and FMA
#endif
}  // namespace internal

class DenseMlp {
 public:
  DenseMlp() = default;
  explicit DenseMlp(std::vector<DenseLayer> layers);

  // Per-caller scratch: a DenseMlp is shared read-only, each thread that
  // runs it owns a Workspace (grown on first use, then reused).
  struct Workspace {
    std::vector<float> a, b;
  };

  // y [rows, output_size] of x [rows, input_size].
  void Forward(const float* x, int rows, float* y, Workspace& ws) const;

  // The same from layer 0's pre-activation h0 [rows, layer(0).out] (what
  // Forward computes first as x W0 + b0): callers that assemble h0 from
  // parts, e.g. a decoder whose observation and time inputs are fixed across
  // its integration steps, skip recomputing them. h0 is overwritten.
  void ForwardFromFirstPreActivation(float* h0, int rows, float* y, Workspace& ws) const;

  const DenseLayer& layer(int i) const { return layers_[i]; }
  int num_layers() const { return static_cast<int>(layers_.size()); }
  int input_size() const { return layers_.front().in; }
  int output_size() const { return layers_.back().out; }

 private:
  std::vector<DenseLayer> layers_;
};

}  // namespace gorl::nn

#endif  // GORL_COMMON_NN_DENSE_MLP_H_
