// The refiner's work: train a fresh decoder on (observation, pre-tanh
// action) pairs with inputs from the fixed prior N(0, I) (GoRL's
// refinement), keeping the weights of the best validation loss.
//
//  - the observation normaliser is fitted once on the training split and
//    travels inside the decoder;
//  - `samples_per_pair` (t, eps) draws per pair per step, Adam, minibatches
//    of `batch_size` pairs, `epochs` passes, early stop after `patience`
//    epochs without a better validation loss;
//  - refine.inputs = "encoder" (ablation) uses the collected latents as
//    the noise end instead of fresh eps.
#ifndef GORL_REFINER_DECODER_TRAINER_H_
#define GORL_REFINER_DECODER_TRAINER_H_

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "gorl/v1/config.pb.h"
#include "gorl/v1/policy.pb.h"

namespace gorl::refiner {

struct RefineResult {
  v1::Decoder decoder;
  std::vector<double> train_losses;       // per epoch
  std::vector<double> validation_losses;  // per epoch
  double best_validation_loss = 0.0;
  int epochs_run = 0;
};

// Told after every epoch: its number (from 1), mean training loss and
// validation loss. The refiner service exports them as they come.
using EpochCallback = std::function<void(int epoch, double train_loss, double validation_loss)>;

// InvalidArgument on settings that ValidateRefineConfig refuses
// (common/config.h) and on malformed data (sizes, non-finite values, too few
// pairs for a validation split, ablation without latents). Trains on
// `device` (FailedPrecondition for DEVICE_CUDA without CUDA); the returned
// weights are CPU values either way, and the seed's random draws are made on
// the CPU, so they do not depend on it. `cancelled` (if set) is asked
// before every minibatch: when it returns true, training stops with a
// Cancelled error (the client left, or its deadline passed). `on_epoch`
// (if set) is told each epoch's losses.
absl::StatusOr<RefineResult> TrainDecoder(const v1::RefinementData& data, v1::DecoderKind kind,
                                          const v1::DecoderConfig& decoder_config,
                                          const v1::RefineConfig& refine_config, uint64_t seed,
                                          int64_t version, v1::Device device = v1::DEVICE_AUTO,
                                          const std::function<bool()>& cancelled = nullptr,
                                          const EpochCallback& on_epoch = nullptr);

}  // namespace gorl::refiner

#endif  // GORL_REFINER_DECODER_TRAINER_H_
