#include "common/nn/decoder.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/nn/random_decoder.h"
#include "common/nn/tensor_codec.h"
#include "common/status_macros.h"

namespace gorl::nn {
namespace {

constexpr int kTimeFeatures = 8;
constexpr double kPi = 3.14159265358979323846;
// Improved DDPM caps the cosine schedule's betas so that the last alpha_bar
// (f(steps) = cos(pi / 2)^2 ~ 0) does not vanish and DDIM can divide by it.
constexpr double kMaxBeta = 0.999;

torch::Tensor CumulativeAlphaBar(const std::vector<double>& betas) {
  std::vector<double> alpha_bar(betas.size());
  double product = 1.0;
  for (size_t k = 0; k < betas.size(); ++k) {
    product *= 1.0 - betas[k];
    alpha_bar[k] = product;
  }
  return torch::tensor(alpha_bar, torch::kDouble);
}

bool IsTrainableKind(v1::DecoderKind kind) {
  return kind == v1::DECODER_KIND_FLOW || kind == v1::DECODER_KIND_DIFFUSION;
}

// A decoder proto comes from another role: what it declares is checked
// before Build allocates it. Sizes beyond any task's (the largest has a few
// hundred observations), and steps an order of magnitude beyond DDPM's
// 1000 (a diffusion schedule holds one value per step, a flow decoder runs
// one pass per step).
constexpr int kMaxSize = 1 << 16;
constexpr int kMaxSteps = 1 << 14;

// The network's widths must not describe more values than the weights
// carry (DecodeModule then checks each tensor exactly): a proto cannot make
// Build allocate layers far larger than the message itself.
absl::Status CheckWeightCount(const v1::Decoder& proto) {
  int64_t carried = 0;
  for (const v1::Tensor& tensor : proto.weights().tensors()) carried += tensor.values_size();
  std::vector<int64_t> widths(proto.hidden().begin(), proto.hidden().end());
  widths.push_back(proto.action_size());
  int64_t declared = 0;
  int64_t in = int64_t{proto.obs_size()} + proto.action_size() + kTimeFeatures;
  for (const int64_t out : widths) {
    // Each factor at most `carried` (< 2^31): the product cannot overflow.
    if (in > carried || out > carried) {
      declared = carried + 1;
      break;
    }
    declared += in * out + out;  // weight and bias
    if (declared > carried) break;
    in = out;
  }
  if (declared > carried) {
    return absl::InvalidArgumentError(absl::StrCat(
        "decoder: its widths (obs ", proto.obs_size(), ", hidden [",
        absl::StrJoin(proto.hidden(), ", "), "], action ", proto.action_size(),
        ") need more than the ", carried,
        " weight values it carries (weights missing, or widths that do not match them)"));
  }
  return absl::OkStatus();
}

}  // namespace

torch::Tensor CosineAlphaBar(int steps, double s) {
  CHECK_GT(steps, 0);
  auto f = [&](int k) {
    const double c = std::cos((static_cast<double>(k) / steps + s) / (1.0 + s) * kPi / 2.0);
    return c * c;
  };
  std::vector<double> betas(steps);
  for (int k = 0; k < steps; ++k) betas[k] = std::min(1.0 - f(k + 1) / f(k), kMaxBeta);
  return CumulativeAlphaBar(betas);
}

torch::Tensor LinearAlphaBar(int steps, double beta_start, double beta_end) {
  CHECK_GT(steps, 0);
  std::vector<double> betas(steps, beta_start);
  for (int k = 1; k < steps; ++k) {
    betas[k] = beta_start + (beta_end - beta_start) * k / (steps - 1);
  }
  return CumulativeAlphaBar(betas);
}

// Layout [cos(t), cos(2t), cos(4t), cos(8t), sin(t), ..., sin(8t)]: the cosines
// first, then the sines, as one concatenation of two blocks.
torch::Tensor TimeFeatures(const torch::Tensor& t) {
  const torch::Tensor column = t.reshape({-1, 1});
  const torch::Tensor freqs = torch::tensor({1.0, 2.0, 4.0, 8.0}, column.options());
  const torch::Tensor angles = column * freqs;  // [B, 4]
  return torch::cat({torch::cos(angles), torch::sin(angles)}, /*dim=*/1);
}

std::unique_ptr<DecoderModel> DecoderModel::Identity(v1::DecoderKind kind, int obs_size,
                                                     int action_size,
                                                     const v1::DecoderConfig& config) {
  CHECK(kind == v1::DECODER_KIND_IDENTITY || IsTrainableKind(kind))
      << "Identity: unknown decoder kind " << kind;
  CHECK_GT(obs_size, 0);
  CHECK_GT(action_size, 0);
  std::unique_ptr<DecoderModel> decoder(new DecoderModel());
  decoder->kind_ = kind;
  decoder->obs_size_ = obs_size;
  decoder->action_size_ = action_size;
  decoder->normalizer_ = RunningNormalizer(obs_size);
  if (kind == v1::DECODER_KIND_IDENTITY) {
    decoder->steps_ = 0;  // no network, no integration
  } else {
    CHECK_GT(config.steps(), 0) << "Identity: decoder steps must be positive";
    decoder->steps_ = config.steps();
    decoder->hidden_.assign(config.hidden().begin(), config.hidden().end());
    if (kind == v1::DECODER_KIND_DIFFUSION) decoder->schedule_ = v1::NOISE_SCHEDULE_LINEAR;
  }
  // A zero network draws nothing; the generator is only a formality.
  decoder->Build(MlpInit::kZero, MakeGenerator(0));
  return decoder;
}

std::unique_ptr<DecoderModel> DecoderModel::NewTrainable(v1::DecoderKind kind, int obs_size,
                                                         int action_size,
                                                         const v1::DecoderConfig& config,
                                                         const RunningNormalizer& normalizer,
                                                         torch::Generator generator) {
  CHECK(IsTrainableKind(kind)) << "NewTrainable: decoder kind " << kind << " has no network";
  CHECK_GT(obs_size, 0);
  CHECK_GT(action_size, 0);
  CHECK_GT(config.steps(), 0) << "NewTrainable: decoder steps must be positive";
  CHECK_EQ(normalizer.size(), obs_size) << "NewTrainable: normaliser size";
  std::unique_ptr<DecoderModel> decoder(new DecoderModel());
  decoder->kind_ = kind;
  decoder->obs_size_ = obs_size;
  decoder->action_size_ = action_size;
  decoder->steps_ = config.steps();
  decoder->hidden_.assign(config.hidden().begin(), config.hidden().end());
  if (kind == v1::DECODER_KIND_DIFFUSION) {
    CHECK(v1::DiffusionPrediction_IsValid(config.diffusion_prediction()))
        << "NewTrainable: diffusion prediction " << config.diffusion_prediction();
    decoder->schedule_ = v1::NOISE_SCHEDULE_COSINE;
    decoder->prediction_ = config.diffusion_prediction();
  }
  decoder->normalizer_ = normalizer;
  decoder->Build(MlpInit::kLecunUniform, std::move(generator));
  return decoder;
}

std::unique_ptr<DecoderModel> DecoderModel::NewFlowPolicy(int obs_size, int action_size,
                                                          const std::vector<int>& hidden, int steps,
                                                          double velocity_scale,
                                                          torch::Generator generator) {
  CHECK_GT(obs_size, 0);
  CHECK_GT(action_size, 0);
  CHECK_GT(steps, 0) << "NewFlowPolicy: steps must be positive";
  CHECK(velocity_scale > 0 && std::isfinite(velocity_scale)) << "NewFlowPolicy: velocity scale";
  std::unique_ptr<DecoderModel> decoder(new DecoderModel());
  decoder->kind_ = v1::DECODER_KIND_FLOW;
  decoder->obs_size_ = obs_size;
  decoder->action_size_ = action_size;
  decoder->steps_ = steps;
  decoder->hidden_ = hidden;
  decoder->velocity_scale_ = velocity_scale;
  decoder->normalizer_ = RunningNormalizer(obs_size);
  decoder->Build(MlpInit::kLecunUniform, std::move(generator));
  return decoder;
}

void DecoderModel::Build(MlpInit init, torch::Generator generator) {
  // The same float arithmetic as RunningNormalizer::Normalize, so that the
  // decoder sees exactly the inputs the normaliser would produce.
  const std::vector<double> std_dev = normalizer_.Std();
  std::vector<float> mean(obs_size_), inv_std(obs_size_);
  for (int d = 0; d < obs_size_; ++d) {
    mean[d] = static_cast<float>(normalizer_.mean()[d]);
    inv_std[d] = static_cast<float>(1.0 / std_dev[d]);
  }
  obs_mean_ = torch::tensor(mean, torch::kFloat).reshape({1, obs_size_});
  obs_inv_std_ = torch::tensor(inv_std, torch::kFloat).reshape({1, obs_size_});

  if (kind_ == v1::DECODER_KIND_DIFFUSION) {
    alpha_bar_ =
        schedule_ == v1::NOISE_SCHEDULE_LINEAR ? LinearAlphaBar(steps_) : CosineAlphaBar(steps_);
  }
  if (IsTrainableKind(kind_)) {
    MlpOptions options;
    options.input_size = obs_size_ + action_size_ + kTimeFeatures;
    options.hidden = hidden_;
    options.output_size = action_size_;
    options.init = init;
    net_ = Mlp(options, std::move(generator));
  }
}

absl::StatusOr<std::unique_ptr<DecoderModel>> DecoderModel::FromProto(const v1::Decoder& proto) {
  const v1::DecoderKind kind = proto.kind();
  if (kind != v1::DECODER_KIND_IDENTITY && !IsTrainableKind(kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat("decoder: unknown or unspecified kind ", static_cast<int>(kind)));
  }
  if (proto.obs_size() <= 0 || proto.action_size() <= 0 || proto.obs_size() > kMaxSize ||
      proto.action_size() > kMaxSize) {
    return absl::InvalidArgumentError(absl::StrCat("decoder: obs_size ", proto.obs_size(),
                                                   " and action_size ", proto.action_size(),
                                                   " must be in 1..", kMaxSize));
  }
  std::unique_ptr<DecoderModel> decoder(new DecoderModel());
  decoder->kind_ = kind;
  decoder->obs_size_ = proto.obs_size();
  decoder->action_size_ = proto.action_size();
  if (kind == v1::DECODER_KIND_IDENTITY) {
    decoder->steps_ = 0;
    if (proto.weights().tensors_size() > 0) {
      return absl::InvalidArgumentError("decoder: an identity decoder has no weights");
    }
  } else {
    for (int i = 0; i < proto.hidden_size(); ++i) {
      if (proto.hidden(i) <= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("decoder: hidden layer ", i, " has width ", proto.hidden(i)));
      }
    }
    if (proto.steps() < 1 || proto.steps() > kMaxSteps) {
      return absl::InvalidArgumentError(
          absl::StrCat("decoder: steps must be in 1..", kMaxSteps, ", got ", proto.steps()));
    }
    GORL_RETURN_IF_ERROR(CheckWeightCount(proto));
    decoder->steps_ = proto.steps();
    // 0 (unset) is GoRL's unscaled velocity. The negated form rejects NaN.
    const float scale = proto.velocity_scale();
    if (!(scale >= 0 && scale <= 1e6f) || (scale != 0 && kind != v1::DECODER_KIND_FLOW)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "decoder: velocity_scale ", scale, " must be in [0, 1e6] (0 = 1), and only for flow"));
    }
    decoder->velocity_scale_ = scale == 0 ? 1.0 : scale;
    decoder->hidden_.assign(proto.hidden().begin(), proto.hidden().end());
    if (kind == v1::DECODER_KIND_DIFFUSION) {
      if (proto.schedule() != v1::NOISE_SCHEDULE_LINEAR &&
          proto.schedule() != v1::NOISE_SCHEDULE_COSINE) {
        return absl::InvalidArgumentError(
            absl::StrCat("decoder: a diffusion decoder needs a noise schedule, got ",
                         static_cast<int>(proto.schedule())));
      }
      decoder->schedule_ = proto.schedule();
      if (!v1::DiffusionPrediction_IsValid(proto.prediction())) {
        return absl::InvalidArgumentError(absl::StrCat("decoder: unknown diffusion prediction ",
                                                       static_cast<int>(proto.prediction())));
      }
      decoder->prediction_ = proto.prediction();
    } else if (proto.prediction() != v1::DIFFUSION_PREDICTION_EPSILON) {
      return absl::InvalidArgumentError(
          "decoder: a prediction other than epsilon is for diffusion decoders only");
    }
  }

  const v1::NormalizerState& state = proto.normalizer();
  if (kind == v1::DECODER_KIND_IDENTITY && state.mean_size() == 0 && state.m2_size() == 0 &&
      state.count() == 0) {
    // The identity never reads its observations, so a bare identity proto
    // (e.g. written by hand for Gaussian PPO) needs no statistics.
    decoder->normalizer_ = RunningNormalizer(decoder->obs_size_);
  } else {
    absl::StatusOr<RunningNormalizer> normalizer = RunningNormalizer::FromProto(state);
    if (!normalizer.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("decoder: ", normalizer.status().message()));
    }
    if (normalizer->size() != decoder->obs_size_) {
      return absl::InvalidArgumentError(absl::StrCat("decoder: normaliser has size ",
                                                     normalizer->size(), ", obs_size is ",
                                                     decoder->obs_size_));
    }
    decoder->normalizer_ = *std::move(normalizer);
  }

  decoder->Build(MlpInit::kZero, MakeGenerator(0));
  if (decoder->net_) {
    const absl::Status decoded = DecodeModule(proto.weights(), *decoder->net_);
    if (!decoded.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("decoder weights: ", decoded.message()));
    }
  }
  return decoder;
}

v1::Decoder DecoderModel::ToProto(int64_t version) const {
  v1::Decoder proto;
  proto.set_kind(kind_);
  proto.set_version(version);
  proto.set_obs_size(obs_size_);
  proto.set_action_size(action_size_);
  for (int width : hidden_) proto.add_hidden(width);
  proto.set_steps(steps_);
  proto.set_schedule(schedule_);
  proto.set_prediction(prediction_);
  if (velocity_scale_ != 1.0) proto.set_velocity_scale(static_cast<float>(velocity_scale_));
  if (net_) *proto.mutable_weights() = EncodeModule(*net_);
  *proto.mutable_normalizer() = normalizer_.ToProto();
  return proto;
}

torch::Tensor DecoderModel::NormalizeObs(const torch::Tensor& obs_raw) const {
  CHECK_EQ(obs_raw.dim(), 2);
  CHECK_EQ(obs_raw.size(1), obs_size_) << "decoder: observation width";
  return (obs_raw - obs_mean_.to(obs_raw.device())) * obs_inv_std_.to(obs_raw.device());
}

torch::Tensor DecoderModel::Net(const torch::Tensor& obs_norm, const torch::Tensor& x,
                                const torch::Tensor& t) const {
  // A holder copy shares the module; forward() is non-const only by LibTorch convention.
  Mlp net = net_;
  return net->forward(torch::cat({obs_norm, x, TimeFeatures(t)}, /*dim=*/1));
}

torch::Tensor DecoderModel::Decode(const torch::Tensor& obs_raw, const torch::Tensor& z) const {
  if (kind_ == v1::DECODER_KIND_IDENTITY) return z;
  CHECK_EQ(z.dim(), 2);
  CHECK_EQ(z.size(1), action_size_) << "decoder: latent width";
  CHECK_EQ(obs_raw.size(0), z.size(0)) << "decoder: batch sizes differ";
  const torch::Tensor obs = NormalizeObs(obs_raw);
  const int64_t batch = z.size(0);
  torch::Tensor x = z;

  if (kind_ == v1::DECODER_KIND_FLOW) {
    return SampleNormalized(obs, z, /*sigma=*/0.0, /*generator=*/nullptr);
  }

  // Deterministic DDIM (eta = 0) from index steps-1 down to 0.
  const torch::Tensor alpha_bar = alpha_bar_.to(torch::kCPU).contiguous();
  const double* ab = alpha_bar.data_ptr<double>();
  for (int k = steps_ - 1; k >= 0; --k) {
    const double t = static_cast<double>(k) / steps_;
    const torch::Tensor out = Net(obs, x, torch::full({batch, 1}, t, z.options()));
    const double ab_prev = k > 0 ? ab[k - 1] : 1.0;
    const double signal = std::sqrt(ab[k]), noise = std::sqrt(1.0 - ab[k]);
    torch::Tensor a0, eps_hat;
    if (prediction_ == v1::DIFFUSION_PREDICTION_V) {
      a0 = signal * x - noise * out;
      eps_hat = noise * x + signal * out;
    } else {
      eps_hat = out;
      a0 = (x - noise * eps_hat) / signal;
    }
    x = std::sqrt(ab_prev) * a0 + std::sqrt(1.0 - ab_prev) * eps_hat;
  }
  return x;
}

std::vector<double> DecoderModel::StepTimes() const {
  std::vector<double> times(steps_);
  for (int k = 0; k < steps_; ++k) times[k] = 1.0 - static_cast<double>(k) / steps_;
  return times;
}

torch::Tensor DecoderModel::Velocity(const torch::Tensor& obs_norm, const torch::Tensor& x,
                                     const torch::Tensor& t) const {
  CHECK(kind_ == v1::DECODER_KIND_FLOW && net_) << "decoder: Velocity needs a flow network";
  const torch::Tensor out = Net(obs_norm, x, t);
  return velocity_scale_ == 1.0 ? out : velocity_scale_ * out;
}

torch::Tensor DecoderModel::SampleNormalized(const torch::Tensor& obs_norm, const torch::Tensor& x0,
                                             double sigma, torch::Generator* generator,
                                             torch::Tensor* chain) const {
  CHECK_EQ(x0.dim(), 2);
  CHECK_EQ(x0.size(1), action_size_) << "decoder: latent width";
  CHECK_EQ(obs_norm.size(0), x0.size(0)) << "decoder: batch sizes differ";
  CHECK(sigma == 0 || generator != nullptr) << "decoder: noisy sampling needs a generator";
  const int64_t batch = x0.size(0);
  const double dt = 1.0 / steps_;
  std::vector<torch::Tensor> states = {x0};
  torch::Tensor x = x0;
  for (const double t : StepTimes()) {
    x = x - dt * Velocity(obs_norm, x, torch::full({batch, 1}, t, x0.options()));
    if (sigma > 0) {
      x = x +
          sigma * torch::randn({batch, action_size_}, *generator, x0.options().device(torch::kCPU))
                      .to(x0.device());
    }
    if (chain != nullptr) states.push_back(x);
  }
  if (chain != nullptr) *chain = torch::stack(states, /*dim=*/1);
  return x;
}

torch::Tensor DecoderModel::StepLogLikelihoods(const torch::Tensor& obs_norm,
                                               const torch::Tensor& chain, double sigma) const {
  CHECK_GT(sigma, 0.0);
  CHECK_EQ(chain.dim(), 3);
  CHECK_EQ(chain.size(1), steps_ + 1) << "decoder: chain length";
  CHECK_EQ(chain.size(2), action_size_) << "decoder: chain width";
  const int64_t batch = chain.size(0);
  // All steps in one batched pass: row (b, k) is step k of sample b.
  const torch::Tensor x = chain.slice(1, 0, steps_).reshape({batch * steps_, action_size_});
  const torch::Tensor next = chain.slice(1, 1).reshape({batch * steps_, action_size_});
  const std::vector<double> times = StepTimes();
  const torch::Tensor t = torch::tensor(times, torch::kDouble)
                              .to(chain.options())
                              .repeat({batch})
                              .reshape({batch * steps_, 1});
  const torch::Tensor obs = obs_norm.repeat_interleave(steps_, /*dim=*/0);
  const torch::Tensor mean = x - (1.0 / steps_) * Velocity(obs, x, t);
  const torch::Tensor z = (next - mean) / sigma;
  const double constant = action_size_ * (std::log(sigma) + 0.5 * std::log(2.0 * kPi));
  return (-0.5 * z.pow(2).sum(-1) - constant).reshape({batch, steps_});
}

torch::Tensor DecoderModel::CfmLosses(const torch::Tensor& obs_norm, const torch::Tensor& u,
                                      const torch::Tensor& taus, const torch::Tensor& eps) const {
  CHECK_EQ(u.dim(), 2);
  CHECK_EQ(u.size(1), action_size_) << "decoder: action width";
  CHECK_EQ(taus.dim(), 2);
  const int64_t batch = u.size(0), draws = taus.size(1);
  CHECK(eps.sizes() == torch::IntArrayRef({batch, draws, action_size_}))
      << "decoder: eps must be [B, M, A]";
  const torch::Tensor tau = taus.reshape({batch * draws, 1});
  const torch::Tensor e = eps.reshape({batch * draws, action_size_});
  const torch::Tensor a = u.repeat_interleave(draws, /*dim=*/0);
  const torch::Tensor x_tau = tau * e + (1.0 - tau) * a;
  const torch::Tensor v = Velocity(obs_norm.repeat_interleave(draws, /*dim=*/0), x_tau, tau);
  // The released code's "u_but_supervise_as_eps": the noise predicted from
  // the velocity, x_tau + (1 - tau) v, against eps.
  return (e - (x_tau + (1.0 - tau) * v)).pow(2).mean(-1).reshape({batch, draws});
}

torch::Tensor DecoderModel::Loss(const torch::Tensor& obs_raw, const torch::Tensor& actions,
                                 int samples, torch::Generator& generator,
                                 const torch::Tensor& source) const {
  CHECK(net_) << "decoder: the identity decoder has no loss";
  CHECK_GE(samples, 1);
  CHECK_EQ(actions.dim(), 2);
  CHECK_EQ(actions.size(1), action_size_) << "decoder: action width";
  CHECK_EQ(obs_raw.size(0), actions.size(0)) << "decoder: batch sizes differ";
  const torch::Tensor obs = NormalizeObs(obs_raw).repeat_interleave(samples, /*dim=*/0);
  const torch::Tensor a = actions.repeat_interleave(samples, /*dim=*/0);
  const int64_t rows = a.size(0);
  // Random draws happen on the CPU generator, in a fixed order (noise first,
  // then time), so that a seed fixes the loss exactly.
  const auto cpu = a.options().device(torch::kCPU);
  torch::Tensor eps;
  if (source.defined()) {
    CHECK(source.sizes() == actions.sizes()) << "decoder: source must match the actions";
    eps = source.to(a.options()).repeat_interleave(samples, /*dim=*/0);
  } else {
    eps = torch::randn({rows, action_size_}, generator, cpu).to(a.device());
  }

  if (kind_ == v1::DECODER_KIND_FLOW) {
    const torch::Tensor t = torch::rand({rows, 1}, generator, cpu).to(a.device());
    const torch::Tensor x_t = t * eps + (1.0 - t) * a;
    return torch::mse_loss(Net(obs, x_t, t), eps - a);
  }

  const torch::Tensor k =
      torch::randint(0, steps_, {rows}, generator, torch::TensorOptions().dtype(torch::kLong));
  const torch::Tensor ab = alpha_bar_.index_select(0, k).unsqueeze(1);
  const torch::Tensor signal = ab.sqrt().to(a.options()), noise = (1.0 - ab).sqrt().to(a.options());
  const torch::Tensor x_k = signal * a + noise * eps;
  const torch::Tensor t = (k.to(torch::kDouble) / steps_).unsqueeze(1).to(a.options());
  const torch::Tensor target =
      prediction_ == v1::DIFFUSION_PREDICTION_V ? signal * eps - noise * a : eps;
  return torch::mse_loss(Net(obs, x_k, t), target);
}

}  // namespace gorl::nn

// common/nn/random_decoder.h: here, so that it adds no LibTorch translation unit.
namespace gorl::nn {

v1::Decoder RandomDecoder(v1::DecoderKind kind, int obs_size, int action_size,
                          const v1::DecoderConfig& config, uint64_t seed) {
  if (kind == v1::DECODER_KIND_IDENTITY) {
    return DecoderModel::Identity(kind, obs_size, action_size, config)->ToProto(1);
  }
  return DecoderModel::NewTrainable(kind, obs_size, action_size, config,
                                    RunningNormalizer(obs_size), MakeGenerator(seed))
      ->ToProto(1);
}

}  // namespace gorl::nn
