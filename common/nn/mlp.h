// Multi-layer perceptrons as used by Brax and the GoRL release: SiLU
// between layers, LeCun-uniform weights, zero biases, no activation after
// the last layer. A zero-initialised MLP (every weight and bias exactly 0)
// is how GoRL builds its identity decoders.
#ifndef GORL_COMMON_NN_MLP_H_
#define GORL_COMMON_NN_MLP_H_

#include <vector>

#include <torch/torch.h>

#include "common/nn/dense_mlp.h"

namespace gorl::nn {

enum class MlpInit { kLecunUniform, kZero };

struct MlpOptions {
  int input_size = 0;
  std::vector<int> hidden;  // widths of the hidden layers, in order
  int output_size = 0;
  MlpInit init = MlpInit::kLecunUniform;
};

class MlpImpl : public torch::nn::Module {
 public:
  // Draws the initial weights from `generator` (deterministic per seed).
  MlpImpl(const MlpOptions& options, torch::Generator generator);

  torch::Tensor forward(torch::Tensor x);

  // A copy of the current weights for LibTorch-free inference.
  std::vector<DenseLayer> ToDense() const;

  // Re-draws every parameter as at construction (used when GoRL re-initialises
  // the encoder at a stage boundary).
  void Reinitialize(torch::Generator generator);

  const MlpOptions& options() const { return options_; }

 private:
  MlpOptions options_;
  std::vector<torch::nn::Linear> layers_;
};
TORCH_MODULE(Mlp);

}  // namespace gorl::nn

#endif  // GORL_COMMON_NN_MLP_H_
