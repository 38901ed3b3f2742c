// How a policy snapshot acts, in batches and without LibTorch: the one place
// that holds the sampling rule of every policy kind. The actors run it on
// every env step; `gorl sample`, the refinement fidelity and the learning
// tests run it directly or through SampleActions.
//
// GoRL and PPO (POLICY_KIND_LATENT):
//   z ~ N(mu, sigma) of the encoder on the observation normalised with the
//   snapshot's normaliser (z = mu when deterministic; z ~ N(0, I), the
//   fixed prior, when asked), u = decoder(observation normalised with the
//   decoder's own normaliser, z): identity, flow (Euler steps from t = 1 to
//   0) or diffusion (deterministic DDIM); the environment's action tanh(u).
// FPO and DPPO: x_0 ~ N(0, I) (0 when deterministic), then the flow
//   policy's Euler steps (DPPO: plus sigma noise each, none when
//   deterministic), u = x_K, action tanh(u). Recording adds what the
//   learner's loss needs (FPO's draws and old CFM losses, DPPO's chain and
//   per-step log-likelihoods), computed with this snapshot.
//
// The networks are copies of the LibTorch ones (common/nn/dense_mlp.h says
// why); tests/nn/policy_inference_test.cc holds them to LibTorch's
// DecoderModel and LatentPolicy on the same inputs.
#ifndef GORL_COMMON_NN_POLICY_INFERENCE_H_
#define GORL_COMMON_NN_POLICY_INFERENCE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/nn/dense_mlp.h"
#include "common/nn/sample_actions.h"
#include "common/random.h"
#include "common/running_normalizer.h"
#include "gorl/v1/policy.pb.h"

namespace gorl::nn {

// One batched call's outputs, each row-major [n, ...]; the fpo_* and dppo_*
// buffers are filled only when recording a flow policy.
struct ActOutput {
  std::vector<float> latents;    // z (FPO / DPPO: the pre-tanh action)
  std::vector<float> log_probs;  // [n]: of z under the encoder; FPO: -mean old loss; DPPO: sum
  std::vector<float> pre_tanh, actions;
  std::vector<float> fpo_times, fpo_noise, fpo_old_losses;  // [n, M], [n, M, A], [n, M]
  std::vector<float> dppo_chain, dppo_log_probs;            // [n, K + 1, A], [n, K]
};

// A decoder g(s, z) -> u, or the FPO / DPPO flow policy.
struct DecoderInference {
  v1::DecoderKind kind = v1::DECODER_KIND_IDENTITY;
  int obs_size = 0, action_size = 0, steps = 0;
  float velocity_scale = 1.0f;
  std::vector<float> obs_mean, obs_inv_std;  // the decoder's own normaliser
  DenseMlp net;                              // input [obs_norm, x, 8 time features]
  std::vector<double> alpha_bar;             // diffusion: [steps]
  v1::DiffusionPrediction prediction = v1::DIFFUSION_PREDICTION_EPSILON;  // diffusion
  std::vector<float> step_times;  // flow: t_k = 1 - k / steps (DecoderModel::StepTimes)
  // Row k: layer 0's bias plus its time-feature weights applied to the time
  // of step k (flow: t_k = 1 - k / steps; diffusion: index k, t = k / steps),
  // [steps, width0]: the time input is the same for every row of a batch.
  std::vector<float> time_rows;
};

class PolicyInference {
 public:
  // Validates everything the LibTorch networks would (sizes, widths, std
  // range, weights, normalisers, FPO draws, DPPO sigma) and copies the
  // weights; InvalidArgument naming the part on any inconsistency.
  static absl::StatusOr<std::unique_ptr<PolicyInference>> FromSnapshot(
      const v1::PolicySnapshot& snapshot);

  // Acts on `n` raw observations [n, obs_size]. `source` is kEncoder for the
  // stochastic policy, kEncoderMean for the deterministic one, kPrior (latent
  // policies only) for the decoder fed N(0, I). Not thread-safe: each thread
  // owns its PolicyInference (the scratch buffers live here).
  void Act(const float* obs_raw, int n, LatentSource source, bool record, Rng& rng, ActOutput& out);

  v1::PolicyKind kind() const { return kind_; }
  int obs_size() const { return obs_size_; }
  int action_size() const { return action_size_; }
  int64_t encoder_version() const { return encoder_version_; }
  int fpo_draws() const { return fpo_draws_; }
  int flow_steps() const { return decoder_.steps; }

 private:
  PolicyInference() = default;  // FromSnapshot is in policy_inference_build.cc (LibTorch)

  void ActLatent(const float* obs_raw, int n, LatentSource source, Rng& rng, ActOutput& out);
  void ActFlow(const float* obs_raw, int n, bool deterministic, bool record, Rng& rng,
               ActOutput& out);
  // u [n, A] from raw observations and latents (overwrites out_u).
  void Decode(const float* obs_raw, int n, const float* z, float* out_u);
  // Layer 0's observation part, obs_norm W0[obs rows], for the decoder: [n, width0].
  void DecoderObsPart(const float* obs_raw, int n);
  // The decoder network's output at inputs x [rows, A] and step index k per
  // row (`step_of_row`, or `step` for all), with row r's observation part at
  // row r / repeat of obs_part_.
  void DecoderNet(const float* x, int rows, int repeat, const int* step_of_row, int step,
                  float* out);

  v1::PolicyKind kind_ = v1::POLICY_KIND_LATENT;
  int obs_size_ = 0, action_size_ = 0;
  int64_t encoder_version_ = 0;
  // Latent policies.
  DenseMlp encoder_;
  RunningNormalizer normalizer_;
  float min_std_ = 0, max_std_ = 0;
  // The decoder (latent policies) or the flow policy (FPO / DPPO).
  DecoderInference decoder_;
  int fpo_draws_ = 0;
  float dppo_sigma_ = 0;

  // Scratch, reused across calls.
  DenseMlp::Workspace ws_;
  std::vector<float> obs_norm_, enc_out_, obs_part_, h0_, net_out_, x_, z_;
  std::vector<int> step_of_row_;
};

}  // namespace gorl::nn

#endif  // GORL_COMMON_NN_POLICY_INFERENCE_H_
