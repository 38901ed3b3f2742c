#include "refiner/decoder_trainer.h"

#include <cmath>
#include <limits>
#include <memory>
#include <utility>

#include <glog/logging.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/message_checks.h"
#include "common/nn/decoder.h"
#include "common/nn/device.h"
#include "common/nn/tensor_codec.h"
#include "common/running_normalizer.h"
#include "common/seed_streams.h"
#include "common/status_macros.h"

namespace gorl::refiner {
namespace {

// Number of validation pairs out of `pairs`.
int64_t ValidationPairs(int64_t pairs, double fraction) {
  return static_cast<int64_t>(std::floor(pairs * fraction));
}

absl::Status Validate(const v1::RefinementData& data, v1::DecoderKind kind,
                      const v1::DecoderConfig& decoder, const v1::RefineConfig& refine) {
  if (kind != v1::DECODER_KIND_FLOW && kind != v1::DECODER_KIND_DIFFUSION) {
    return absl::InvalidArgumentError(
        absl::StrCat("decoder trainer: only flow and diffusion decoders are trained, got kind ",
                     v1::DecoderKind_Name(kind)));
  }
  GORL_RETURN_IF_ERROR(ValidateRefineConfig(decoder, refine));
  GORL_RETURN_IF_ERROR(CheckRefinementData(data, {data.obs_size(), data.action_size()}));
  const int64_t pairs = data.actions_size() / data.action_size();
  if (refine.inputs() == v1::REFINE_INPUTS_ENCODER && data.latents_size() == 0) {
    return absl::InvalidArgumentError(
        "refinement data: refine.inputs=encoder needs the collected latents, none were sent");
  }
  if (pairs < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("refinement data: ", pairs, " pairs, need at least 2"));
  }
  if (ValidationPairs(pairs, refine.validation_fraction()) == 0) {
    return absl::InvalidArgumentError(absl::StrCat("refinement data: ", pairs,
                                                   " pairs leave no validation pair at "
                                                   "validation_fraction ",
                                                   refine.validation_fraction()));
  }
  return absl::OkStatus();
}

// Rows `index` of a packed [K, width] field, copied into a tensor.
torch::Tensor Rows(const google::protobuf::RepeatedField<float>& field, int64_t width,
                   const torch::Tensor& index) {
  const torch::Tensor all = torch::from_blob(const_cast<float*>(field.data()),
                                             {field.size() / width, width}, torch::kFloat32);
  return all.index_select(0, index);
}

struct Split {
  torch::Tensor obs, actions, latents;  // latents undefined unless the ablation
  int64_t size() const { return obs.size(0); }
  void To(const torch::Device& device) {
    obs = obs.to(device);
    actions = actions.to(device);
    if (latents.defined()) latents = latents.to(device);
  }
};

// Mean decoder loss over `split` in chunks of `batch` pairs, weighted by chunk size.
double MeanLoss(const nn::DecoderModel& decoder, const Split& split, int64_t batch, int samples,
                torch::Generator& gen) {
  torch::NoGradGuard no_grad;
  double sum = 0.0;
  for (int64_t begin = 0; begin < split.size(); begin += batch) {
    const int64_t end = std::min(split.size(), begin + batch);
    const torch::Tensor source =
        split.latents.defined() ? split.latents.slice(0, begin, end) : torch::Tensor();
    const torch::Tensor loss = decoder.Loss(
        split.obs.slice(0, begin, end), split.actions.slice(0, begin, end), samples, gen, source);
    sum += loss.item<double>() * static_cast<double>(end - begin);
  }
  return sum / static_cast<double>(split.size());
}

}  // namespace

absl::StatusOr<RefineResult> TrainDecoder(const v1::RefinementData& data, v1::DecoderKind kind,
                                          const v1::DecoderConfig& decoder_config,
                                          const v1::RefineConfig& refine_config, uint64_t seed,
                                          int64_t version, v1::Device device_name,
                                          const std::function<bool()>& cancelled,
                                          const EpochCallback& on_epoch) {
  GORL_RETURN_IF_ERROR(Validate(data, kind, decoder_config, refine_config));
  GORL_ASSIGN_OR_RETURN(const torch::Device device, nn::ResolveDevice(device_name));
  const bool ablation = refine_config.inputs() == v1::REFINE_INPUTS_ENCODER;
  const int obs_size = data.obs_size(), action_size = data.action_size();
  const int64_t pairs = data.actions_size() / action_size;
  const int64_t num_validation = ValidationPairs(pairs, refine_config.validation_fraction());

  // Seeded split: the validation pairs are a random subset, not the tail
  // (collected data is ordered by env and time).
  torch::Generator split_gen = nn::MakeGenerator(SeedFor(seed, RefineStream::kSplit));
  const torch::Tensor order =
      torch::randperm(pairs, split_gen, torch::TensorOptions().dtype(torch::kLong));
  auto take = [&](const torch::Tensor& index) {
    Split split;
    split.obs = Rows(data.observations(), obs_size, index);
    split.actions = Rows(data.actions(), action_size, index);
    if (const float clip = refine_config.target_clip(); clip > 0) {
      split.actions.clamp_(-clip, clip);
    }
    if (ablation) split.latents = Rows(data.latents(), action_size, index);
    return split;
  };
  Split validation = take(order.slice(0, 0, num_validation));
  Split train = take(order.slice(0, num_validation));

  // Fitted once on the training split; it travels inside the decoder.
  RunningNormalizer normalizer(obs_size);
  GORL_RETURN_IF_ERROR(normalizer.Update(train.obs.data_ptr<float>(), train.size()));
  std::unique_ptr<nn::DecoderModel> decoder =
      nn::DecoderModel::NewTrainable(kind, obs_size, action_size, decoder_config, normalizer,
                                     nn::MakeGenerator(SeedFor(seed, RefineStream::kInit)));
  nn::Mlp* net = decoder->net();
  CHECK(net != nullptr) << "a trainable decoder has a network";
  // Initialised on the CPU (the same weights on every device), then moved with
  // the data; the decoder's loss draws on the CPU generator and moves the draws.
  (*net)->to(device);
  train.To(device);
  validation.To(device);
  const std::vector<torch::Tensor> params = (*net)->parameters();
  torch::optim::Adam adam(params, torch::optim::AdamOptions(refine_config.learning_rate())
                                      .betas(std::make_tuple(0.9, 0.999))
                                      .eps(1e-8));

  RefineResult result;
  result.best_validation_loss = std::numeric_limits<double>::quiet_NaN();
  std::vector<torch::Tensor> best_params;
  int epochs_since_best = 0;
  torch::Generator train_gen = nn::MakeGenerator(SeedFor(seed, RefineStream::kTrain));
  const int64_t batch = refine_config.batch_size();
  const int samples = refine_config.samples_per_pair();

  for (int epoch = 0; epoch < refine_config.epochs(); ++epoch) {
    const torch::Tensor perm =
        torch::randperm(train.size(), train_gen, torch::TensorOptions().dtype(torch::kLong));
    double train_sum = 0.0;
    for (int64_t begin = 0; begin < train.size(); begin += batch) {
      if (cancelled && cancelled()) {
        return absl::CancelledError(
            absl::StrCat("refinement of decoder v", version, " cancelled in epoch ", epoch + 1));
      }
      const torch::Tensor idx =
          perm.slice(0, begin, std::min(train.size(), begin + batch)).to(device);
      const torch::Tensor source = ablation ? train.latents.index_select(0, idx) : torch::Tensor();
      const torch::Tensor loss =
          decoder->Loss(train.obs.index_select(0, idx), train.actions.index_select(0, idx), samples,
                        train_gen, source);
      adam.zero_grad();
      loss.backward();
      adam.step();
      train_sum += loss.item<double>() * static_cast<double>(idx.size(0));
    }
    result.train_losses.push_back(train_sum / static_cast<double>(train.size()));
    result.epochs_run = epoch + 1;

    // The same (t, eps) draws every epoch, so epochs differ only by weights.
    torch::Generator validation_gen = nn::MakeGenerator(SeedFor(seed, RefineStream::kValidation));
    const double loss = MeanLoss(*decoder, validation, batch, samples, validation_gen);
    result.validation_losses.push_back(loss);
    if (on_epoch) on_epoch(epoch + 1, result.train_losses.back(), loss);
    if (best_params.empty() || loss < result.best_validation_loss) {
      result.best_validation_loss = loss;
      epochs_since_best = 0;
      torch::NoGradGuard no_grad;
      best_params.clear();
      for (const torch::Tensor& p : params) best_params.push_back(p.detach().clone());
    } else if (refine_config.patience() > 0 && ++epochs_since_best >= refine_config.patience()) {
      break;
    }
  }
  if (!best_params.empty()) {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best_params[i]);
  }
  result.decoder = decoder->ToProto(version);
  return result;
}

}  // namespace gorl::refiner
