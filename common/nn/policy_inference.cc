#include "common/nn/policy_inference.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"

namespace gorl::nn {
namespace {

constexpr double kLogSqrtTwoPi = 0.91893853320467274178;  // 0.5 log(2 pi)

// LibTorch's softplus (threshold 20: linear beyond it).
float Softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

void FillNormal(Rng& rng, float* out, size_t count) {
  for (size_t i = 0; i < count; ++i) out[i] = static_cast<float>(rng.Normal());
}

}  // namespace

void PolicyInference::Act(const float* obs_raw, int n, LatentSource source, bool record, Rng& rng,
                          ActOutput& out) {
  if (kind_ == v1::POLICY_KIND_LATENT) {
    ActLatent(obs_raw, n, source, rng, out);
    return;
  }
  CHECK(source != LatentSource::kPrior) << "a flow policy has no prior to sample from";
  ActFlow(obs_raw, n, source == LatentSource::kEncoderMean, record, rng, out);
}

void PolicyInference::ActLatent(const float* obs_raw, int n, LatentSource source, Rng& rng,
                                ActOutput& out) {
  const int a = action_size_;
  const size_t count = static_cast<size_t>(n) * a;
  z_.resize(count);
  out.log_probs.assign(n, 0.0f);
  if (source == LatentSource::kPrior) {
    FillNormal(rng, z_.data(), count);
  } else {
    obs_norm_.resize(static_cast<size_t>(n) * obs_size_);
    normalizer_.Normalize(obs_raw, obs_norm_.data(), n);
    enc_out_.resize(count * 2);
    encoder_.Forward(obs_norm_.data(), n, enc_out_.data(), ws_);
    for (int r = 0; r < n; ++r) {
      const float* mean = enc_out_.data() + static_cast<size_t>(r) * 2 * a;
      const float* raw_std = mean + a;
      float* z = z_.data() + static_cast<size_t>(r) * a;
      double log_prob = 0.0;
      for (int d = 0; d < a; ++d) {
        const float std_dev = std::clamp(Softplus(raw_std[d]) + min_std_, min_std_, max_std_);
        z[d] = source == LatentSource::kEncoderMean
                   ? mean[d]
                   : mean[d] + std_dev * static_cast<float>(rng.Normal());
        const float white = (z[d] - mean[d]) / std_dev;
        log_prob += -0.5 * white * white - std::log(std_dev) - kLogSqrtTwoPi;
      }
      out.log_probs[r] = static_cast<float>(log_prob);
    }
  }
  out.latents.assign(z_.begin(), z_.end());
  out.pre_tanh.resize(count);
  Decode(obs_raw, n, z_.data(), out.pre_tanh.data());
  out.actions.resize(count);
  for (size_t i = 0; i < count; ++i) out.actions[i] = std::tanh(out.pre_tanh[i]);
}

void PolicyInference::DecoderObsPart(const float* obs_raw, int n) {
  const DecoderInference& dec = decoder_;
  const int o = dec.obs_size, width = dec.net.layer(0).out;
  obs_norm_.resize(static_cast<size_t>(n) * o);
  for (int r = 0; r < n; ++r) {
    for (int d = 0; d < o; ++d) {
      const size_t i = static_cast<size_t>(r) * o + d;
      obs_norm_[i] = (obs_raw[i] - dec.obs_mean[d]) * dec.obs_inv_std[d];
    }
  }
  obs_part_.resize(static_cast<size_t>(n) * width);
  MatMul(obs_norm_.data(), n, o, o, dec.net.layer(0).weight.data(), width, width, obs_part_.data(),
         width, /*accumulate=*/false);
}

void PolicyInference::DecoderNet(const float* x, int rows, int repeat, const int* step_of_row,
                                 int step, float* out) {
  const DecoderInference& dec = decoder_;
  const DenseLayer& first = dec.net.layer(0);
  const int width = first.out, a = dec.action_size;
  h0_.resize(static_cast<size_t>(rows) * width);
  for (int r = 0; r < rows; ++r) {
    const float* obs_part = obs_part_.data() + static_cast<size_t>(r / repeat) * width;
    const int k = step_of_row != nullptr ? step_of_row[r] : step;
    const float* time_row = dec.time_rows.data() + static_cast<size_t>(k) * width;
    float* h = h0_.data() + static_cast<size_t>(r) * width;
    for (int j = 0; j < width; ++j) h[j] = obs_part[j] + time_row[j];
  }
  // Rows [obs_size, obs_size + A) of W0 take x.
  MatMul(x, rows, a, a, first.weight.data() + static_cast<size_t>(dec.obs_size) * width, width,
         width, h0_.data(), width, /*accumulate=*/true);
  dec.net.ForwardFromFirstPreActivation(h0_.data(), rows, out, ws_);
}

void PolicyInference::Decode(const float* obs_raw, int n, const float* z, float* out_u) {
  const DecoderInference& dec = decoder_;
  const size_t count = static_cast<size_t>(n) * dec.action_size;
  std::memcpy(out_u, z, count * sizeof(float));
  if (dec.kind == v1::DECODER_KIND_IDENTITY) return;
  DecoderObsPart(obs_raw, n);
  net_out_.resize(count);
  float* x = out_u;
  if (dec.kind == v1::DECODER_KIND_FLOW) {
    const float step_size = static_cast<float>(1.0 / dec.steps) * dec.velocity_scale;
    for (int k = 0; k < dec.steps; ++k) {
      DecoderNet(x, n, 1, nullptr, k, net_out_.data());
      for (size_t i = 0; i < count; ++i) x[i] -= step_size * net_out_[i];
    }
    return;
  }
  // Deterministic DDIM (eta = 0) from index steps-1 down to 0.
  for (int k = dec.steps - 1; k >= 0; --k) {
    DecoderNet(x, n, 1, nullptr, k, net_out_.data());
    const double ab = dec.alpha_bar[k], ab_prev = k > 0 ? dec.alpha_bar[k - 1] : 1.0;
    const float signal_in = static_cast<float>(std::sqrt(ab));
    const float noise_in = static_cast<float>(std::sqrt(1.0 - ab));
    const float signal_out = static_cast<float>(std::sqrt(ab_prev));
    const float noise_out = static_cast<float>(std::sqrt(1.0 - ab_prev));
    if (dec.prediction == v1::DIFFUSION_PREDICTION_V) {
      for (size_t i = 0; i < count; ++i) {
        const float v_hat = net_out_[i];
        const float a0 = signal_in * x[i] - noise_in * v_hat;
        const float eps_hat = noise_in * x[i] + signal_in * v_hat;
        x[i] = signal_out * a0 + noise_out * eps_hat;
      }
    } else {
      const float inv_signal = static_cast<float>(1.0 / std::sqrt(ab));
      for (size_t i = 0; i < count; ++i) {
        const float eps_hat = net_out_[i];
        const float a0 = (x[i] - noise_in * eps_hat) * inv_signal;
        x[i] = signal_out * a0 + noise_out * eps_hat;
      }
    }
  }
}

void PolicyInference::ActFlow(const float* obs_raw, int n, bool deterministic, bool record,
                              Rng& rng, ActOutput& out) {
  const DecoderInference& flow = decoder_;
  const int a = flow.action_size, steps = flow.steps;
  const size_t count = static_cast<size_t>(n) * a;
  const bool dppo = kind_ == v1::POLICY_KIND_DPPO;
  const float sigma = dppo && !deterministic ? dppo_sigma_ : 0.0f;
  CHECK(!(record && deterministic)) << "recording needs the stochastic policy";
  const bool keep_chain = record && dppo;
  DecoderObsPart(obs_raw, n);
  x_.assign(count, 0.0f);
  if (!deterministic) FillNormal(rng, x_.data(), count);
  if (keep_chain) {
    out.dppo_chain.resize(count * (steps + 1));
    out.dppo_log_probs.resize(static_cast<size_t>(n) * steps);
  }
  auto store_chain = [&](int k) {
    for (int r = 0; r < n; ++r) {
      std::memcpy(out.dppo_chain.data() + (static_cast<size_t>(r) * (steps + 1) + k) * a,
                  x_.data() + static_cast<size_t>(r) * a, a * sizeof(float));
    }
  };
  if (keep_chain) store_chain(0);
  net_out_.resize(count);
  const float dt = static_cast<float>(1.0 / steps);
  const double log_norm = a * (std::log(static_cast<double>(sigma)) + kLogSqrtTwoPi);
  for (int k = 0; k < steps; ++k) {
    DecoderNet(x_.data(), n, 1, nullptr, k, net_out_.data());
    for (int r = 0; r < n; ++r) {
      double sum_sq = 0.0;
      for (int d = 0; d < a; ++d) {
        const size_t i = static_cast<size_t>(r) * a + d;
        const float mean = x_[i] - dt * (flow.velocity_scale * net_out_[i]);
        x_[i] = sigma > 0 ? mean + sigma * static_cast<float>(rng.Normal()) : mean;
        if (keep_chain) {
          const float white = (x_[i] - mean) / sigma;
          sum_sq += white * white;
        }
      }
      if (keep_chain) {
        out.dppo_log_probs[static_cast<size_t>(r) * steps + k] =
            static_cast<float>(-0.5 * sum_sq - log_norm);
      }
    }
    if (keep_chain) store_chain(k + 1);
  }
  out.latents.assign(x_.begin(), x_.end());
  out.pre_tanh = out.latents;
  out.actions.resize(count);
  for (size_t i = 0; i < count; ++i) out.actions[i] = std::tanh(x_[i]);
  out.log_probs.assign(n, 0.0f);
  if (!record) return;
  if (dppo) {
    for (int r = 0; r < n; ++r) {
      double total = 0.0;
      for (int k = 0; k < steps; ++k) {
        total += out.dppo_log_probs[static_cast<size_t>(r) * steps + k];
      }
      out.log_probs[r] = static_cast<float>(total);
    }
    return;
  }
  // FPO: tau_i uniform on the sampling grid {1, 1 - 1/K, ..., 1/K}, eps_i ~
  // N(0, I), and each draw's conditional-flow-matching loss (the released
  // code's "u_but_supervise_as_eps": the noise predicted from the velocity,
  // x_tau + (1 - tau) v, against eps).
  const int m = fpo_draws_;
  const int rows = n * m;
  step_of_row_.resize(rows);
  out.fpo_times.resize(rows);
  for (int i = 0; i < rows; ++i) {
    step_of_row_[i] = static_cast<int>(rng.NextU64() % static_cast<uint64_t>(steps));
    out.fpo_times[i] = flow.step_times[step_of_row_[i]];
  }
  out.fpo_noise.resize(static_cast<size_t>(rows) * a);
  FillNormal(rng, out.fpo_noise.data(), out.fpo_noise.size());
  std::vector<float>& x_tau = z_;
  x_tau.resize(static_cast<size_t>(rows) * a);
  for (int i = 0; i < rows; ++i) {
    const float tau = out.fpo_times[i];
    const float* u = x_.data() + static_cast<size_t>(i / m) * a;
    for (int d = 0; d < a; ++d) {
      const size_t j = static_cast<size_t>(i) * a + d;
      x_tau[j] = tau * out.fpo_noise[j] + (1.0f - tau) * u[d];
    }
  }
  net_out_.resize(static_cast<size_t>(rows) * a);
  DecoderNet(x_tau.data(), rows, m, step_of_row_.data(), 0, net_out_.data());
  out.fpo_old_losses.resize(rows);
  for (int i = 0; i < rows; ++i) {
    const float tau = out.fpo_times[i];
    double sum_sq = 0.0;
    for (int d = 0; d < a; ++d) {
      const size_t j = static_cast<size_t>(i) * a + d;
      const float v = flow.velocity_scale * net_out_[j];
      const float diff = out.fpo_noise[j] - (x_tau[j] + (1.0f - tau) * v);
      sum_sq += diff * diff;
    }
    out.fpo_old_losses[i] = static_cast<float>(sum_sq / a);
  }
  for (int r = 0; r < n; ++r) {
    double total = 0.0;
    for (int i = 0; i < m; ++i) total += out.fpo_old_losses[static_cast<size_t>(r) * m + i];
    out.log_probs[r] = static_cast<float>(-total / m);
  }
}

absl::StatusOr<std::vector<float>> SampleActions(const v1::PolicySnapshot& policy,
                                                 const std::vector<float>& obs, int samples,
                                                 LatentSource source, uint64_t seed) {
  auto inference = PolicyInference::FromSnapshot(policy);
  if (!inference.ok()) return inference.status();
  if (static_cast<int>(obs.size()) != (*inference)->obs_size() || samples < 1) {
    return absl::InvalidArgumentError(absl::StrCat(samples, " samples of an observation of ",
                                                   obs.size(), " values; the policy's has ",
                                                   (*inference)->obs_size()));
  }
  if (source == LatentSource::kPrior && (*inference)->kind() != v1::POLICY_KIND_LATENT) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a ", v1::PolicyKind_Name((*inference)->kind()),
        " flow policy has no latent prior to sample from; only GoRL's and PPO's policies"));
  }
  std::vector<float> rows;
  rows.reserve(obs.size() * samples);
  for (int i = 0; i < samples; ++i) rows.insert(rows.end(), obs.begin(), obs.end());
  Rng rng(seed);
  ActOutput out;
  (*inference)->Act(rows.data(), samples, source, /*record=*/false, rng, out);
  return out.actions;
}

}  // namespace gorl::nn
