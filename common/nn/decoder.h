// GoRL's decoders g(s, z) -> pre-tanh action u, all conditioned on the
// observation normalised with the decoder's *own* normaliser snapshot.
//
//  identity : u = z.
//  flow     : conditional flow matching, x_t = t eps + (1 - t) a, target
//             velocity eps - a; sampling starts at x = z at t = 1 and takes
//             `steps` Euler steps to t = 0 (velocity at the step's start t).
//             Input [obs_norm, x_t, time features], 8 time features
//             cos(t 2^k), sin(t 2^k), k = 0..3. All-zero weights = identity.
//  diffusion: epsilon or v prediction (`prediction`, policy.proto) over
//             `steps` indices (cosine schedule, s = 0.008; GoRL-Diff's
//             stage-0 decoder uses epsilon and a linear beta schedule
//             1e-4..0.02), time input index / steps (same 8 features of
//             it), deterministic DDIM (eta = 0) from index steps-1 down to 0
//             with alpha_bar(-1) = 1, starting at x = z. With v, the network
//             output o gives a0 = sqrt(ab) x - sqrt(1 - ab) o and
//             eps = sqrt(1 - ab) x + sqrt(ab) o.
//
// The FPO and DPPO baselines (docs/algorithm.md §2-3) use the flow decoder
// itself as their policy, started from x = eps0 ~ N(0, I), with its velocity
// scaled by velocity_scale (0.25): the *Normalized methods below take
// observations already normalised by the caller (the learner's running
// normaliser) and hold each rule of those algorithms in one place.
#ifndef GORL_COMMON_NN_DECODER_H_
#define GORL_COMMON_NN_DECODER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "common/nn/mlp.h"
#include "common/running_normalizer.h"
#include "gorl/v1/config.pb.h"
#include "gorl/v1/policy.pb.h"

namespace gorl::nn {

class DecoderModel {
 public:
  // The stage-0 decoder of `kind`: identity for IDENTITY; an all-zero flow
  // network (exactly the identity); an all-zero diffusion network on the
  // linear schedule (u = z / sqrt(alpha_bar) ~ 1.05 z). Its normaliser is
  // the identity (mean 0, var 1).
  static std::unique_ptr<DecoderModel> Identity(v1::DecoderKind kind, int obs_size, int action_size,
                                                const v1::DecoderConfig& config);

  // A freshly (LeCun-uniform) initialised trainable decoder of `kind`
  // (FLOW or DIFFUSION, cosine schedule, config.diffusion_prediction) that
  // normalises observations with `normalizer`.
  static std::unique_ptr<DecoderModel> NewTrainable(v1::DecoderKind kind, int obs_size,
                                                    int action_size,
                                                    const v1::DecoderConfig& config,
                                                    const RunningNormalizer& normalizer,
                                                    torch::Generator generator);

  // A freshly (LeCun-uniform) initialised FLOW network for the FPO/DPPO
  // policies: `steps` Euler steps, velocity = velocity_scale x output, an
  // identity normaliser (callers pass normalised observations).
  static std::unique_ptr<DecoderModel> NewFlowPolicy(int obs_size, int action_size,
                                                     const std::vector<int>& hidden, int steps,
                                                     double velocity_scale,
                                                     torch::Generator generator);

  // Validates everything (kind, sizes, widths, steps, schedule, weights,
  // normaliser) and rebuilds the decoder.
  static absl::StatusOr<std::unique_ptr<DecoderModel>> FromProto(const v1::Decoder& proto);
  v1::Decoder ToProto(int64_t version) const;

  // Pre-tanh actions [B, action] from raw observations [B, obs] and latents [B, action].
  torch::Tensor Decode(const torch::Tensor& obs_raw, const torch::Tensor& z) const;

  // Training loss on a batch of raw observations and pre-tanh actions with
  // `samples` (t, eps) draws per pair: flow-matching MSE to eps - a, or
  // epsilon-prediction MSE. Mean over everything. When `source` is given
  // (the latent-input ablation) it replaces eps ~ N(0, I) as the noise end.
  torch::Tensor Loss(const torch::Tensor& obs_raw, const torch::Tensor& actions, int samples,
                     torch::Generator& generator,
                     const torch::Tensor& source = torch::Tensor()) const;

  // --- Flow decoders on normalised observations (FPO, DPPO). ---

  // velocity_scale x net([obs_norm, x, TimeFeatures(t)]); t: [B, 1].
  torch::Tensor Velocity(const torch::Tensor& obs_norm, const torch::Tensor& x,
                         const torch::Tensor& t) const;
  // Euler steps k = 0..steps-1 from x_0 at t = 1 (t_k = 1 - k/steps, dt =
  // 1/steps): x_{k+1} = x_k - dt v(x_k, t_k) + sigma xi_k, xi_k ~ N(0, I)
  // drawn from `generator` (none when sigma = 0). Returns x_steps; when
  // `chain` is given it receives [B, steps + 1, A] = x_0..x_steps.
  torch::Tensor SampleNormalized(const torch::Tensor& obs_norm, const torch::Tensor& x0,
                                 double sigma, torch::Generator* generator,
                                 torch::Tensor* chain = nullptr) const;
  // DPPO: log N(x_{k+1}; x_k - dt v(x_k, t_k), sigma^2 I) of each step of
  // `chain` [B, steps + 1, A], summed over action dimensions: [B, steps].
  torch::Tensor StepLogLikelihoods(const torch::Tensor& obs_norm, const torch::Tensor& chain,
                                   double sigma) const;
  // FPO: per-draw conditional-flow-matching losses of pre-tanh actions u
  // [B, A] at times taus [B, M] with noises eps [B, M, A]:
  // mean_d (eps - (x_tau + (1 - tau) v(x_tau, tau)))^2, x_tau = tau eps +
  // (1 - tau) u. Returns [B, M].
  torch::Tensor CfmLosses(const torch::Tensor& obs_norm, const torch::Tensor& u,
                          const torch::Tensor& taus, const torch::Tensor& eps) const;
  // The sampling grid's start times t_k = 1 - k/steps, k = 0..steps-1.
  std::vector<double> StepTimes() const;
  torch::Tensor NormalizeObs(const torch::Tensor& obs_raw) const;

  v1::DecoderKind kind() const { return kind_; }
  // Diffusion only (EPSILON for every other kind).
  v1::DiffusionPrediction prediction() const { return prediction_; }
  int steps() const { return steps_; }
  double velocity_scale() const { return velocity_scale_; }
  int obs_size() const { return obs_size_; }
  int action_size() const { return action_size_; }
  const RunningNormalizer& normalizer() const { return normalizer_; }
  // What NormalizeObs applies, (obs - mean) * inv_std, each [1, obs] float.
  const torch::Tensor& obs_mean() const { return obs_mean_; }
  // Diffusion only: the schedule's alpha_bar[k], k = 0..steps-1 (float64).
  const torch::Tensor& alpha_bar() const { return alpha_bar_; }
  const torch::Tensor& obs_inv_std() const { return obs_inv_std_; }
  // Null for the identity decoder.
  Mlp* net() { return net_ ? &net_ : nullptr; }

 private:
  DecoderModel() = default;
  // Builds the derived state (normaliser tensors, alpha_bar, network) from
  // the fields set by a factory; `generator` draws the LeCun weights.
  void Build(MlpInit init, torch::Generator generator);
  // net_(concat[obs_norm, x, TimeFeatures(t)]), t: [B, 1].
  torch::Tensor Net(const torch::Tensor& obs_norm, const torch::Tensor& x,
                    const torch::Tensor& t) const;

  v1::DecoderKind kind_ = v1::DECODER_KIND_IDENTITY;
  int obs_size_ = 0, action_size_ = 0, steps_ = 10;
  double velocity_scale_ = 1.0;  // flow only
  std::vector<int> hidden_;
  v1::NoiseSchedule schedule_ = v1::NOISE_SCHEDULE_UNSPECIFIED;
  v1::DiffusionPrediction prediction_ = v1::DIFFUSION_PREDICTION_EPSILON;
  RunningNormalizer normalizer_;
  torch::Tensor obs_mean_, obs_inv_std_;  // from normalizer_, [1, obs]
  torch::Tensor alpha_bar_;               // diffusion: [steps]
  Mlp net_{nullptr};
};

// Noise-schedule helpers, exposed for tests: cumulative alpha_bar[k], k = 0..steps-1.
torch::Tensor CosineAlphaBar(int steps, double s = 0.008);
torch::Tensor LinearAlphaBar(int steps, double beta_start = 1e-4, double beta_end = 0.02);
// The 8 time features of a [B] or [B, 1] tensor t: [cos(t 2^k), sin(t 2^k)], k = 0..3.
torch::Tensor TimeFeatures(const torch::Tensor& t);

}  // namespace gorl::nn

#endif  // GORL_COMMON_NN_DECODER_H_
