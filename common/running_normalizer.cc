#include "common/running_normalizer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace gorl {

RunningNormalizer::RunningNormalizer(int size) : mean_(size, 0.0), m2_(size, 0.0) {}

std::vector<double> RunningNormalizer::Variance() const {
  std::vector<double> var(mean_.size(), 0.0);
  if (count_ > 0) {
    for (size_t i = 0; i < var.size(); ++i) var[i] = m2_[i] / count_;
  }
  return var;
}

std::vector<double> RunningNormalizer::Std() const {
  std::vector<double> std_dev(mean_.size(), 1.0);
  if (count_ > 0) {
    for (size_t i = 0; i < std_dev.size(); ++i) {
      std_dev[i] = std::clamp(std::sqrt(m2_[i] / count_), kMinStd, kMaxStd);
    }
  }
  return std_dev;
}

absl::Status RunningNormalizer::Update(const float* batch, int64_t rows) {
  const int dim = size();
  if (rows <= 0) return absl::OkStatus();
  for (int64_t i = 0; i < rows * dim; ++i) {
    if (!std::isfinite(batch[i])) {
      return absl::InvalidArgumentError(absl::StrCat("normaliser update: non-finite value in row ",
                                                     i / dim, ", column ", i % dim));
    }
  }
  // Two passes over the batch (its own mean and M2), then Chan's merge: more
  // accurate than per-sample Welford for large batches, and the same result.
  RunningNormalizer batch_stats(dim);
  batch_stats.count_ = static_cast<double>(rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (int d = 0; d < dim; ++d) batch_stats.mean_[d] += batch[r * dim + d];
  }
  for (int d = 0; d < dim; ++d) batch_stats.mean_[d] /= batch_stats.count_;
  for (int64_t r = 0; r < rows; ++r) {
    for (int d = 0; d < dim; ++d) {
      const double delta = batch[r * dim + d] - batch_stats.mean_[d];
      batch_stats.m2_[d] += delta * delta;
    }
  }
  return Merge(batch_stats);
}

absl::Status RunningNormalizer::Merge(const RunningNormalizer& other) {
  if (other.size() != size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("normaliser merge: size ", other.size(), " != ", size()));
  }
  if (other.count_ == 0) return absl::OkStatus();
  const double total = count_ + other.count_;
  for (int d = 0; d < size(); ++d) {
    const double delta = other.mean_[d] - mean_[d];
    mean_[d] += delta * other.count_ / total;
    m2_[d] += other.m2_[d] + delta * delta * count_ * other.count_ / total;
  }
  count_ = total;
  return absl::OkStatus();
}

void RunningNormalizer::Normalize(float* batch, int64_t rows) const {
  Normalize(batch, batch, rows);
}

void RunningNormalizer::Normalize(const float* in, float* out, int64_t rows) const {
  const int dim = size();
  const std::vector<double> std_dev = Std();
  std::vector<float> inv_std(dim), mean(dim);
  for (int d = 0; d < dim; ++d) {
    inv_std[d] = static_cast<float>(1.0 / std_dev[d]);
    mean[d] = static_cast<float>(mean_[d]);
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int d = 0; d < dim; ++d) {
      out[r * dim + d] = (in[r * dim + d] - mean[d]) * inv_std[d];
    }
  }
}

v1::NormalizerState RunningNormalizer::ToProto() const {
  v1::NormalizerState state;
  state.set_count(count_);
  state.mutable_mean()->Add(mean_.begin(), mean_.end());
  state.mutable_m2()->Add(m2_.begin(), m2_.end());
  return state;
}

absl::StatusOr<RunningNormalizer> RunningNormalizer::FromProto(const v1::NormalizerState& state) {
  if (state.mean_size() != state.m2_size()) {
    return absl::InvalidArgumentError(absl::StrCat("normaliser state: mean has ", state.mean_size(),
                                                   " values, m2 has ", state.m2_size()));
  }
  if (!(state.count() >= 0) || !std::isfinite(state.count())) {
    return absl::InvalidArgumentError("normaliser state: count must be finite and >= 0");
  }
  RunningNormalizer normalizer(state.mean_size());
  normalizer.count_ = state.count();
  for (int d = 0; d < state.mean_size(); ++d) {
    if (!std::isfinite(state.mean(d)) || !std::isfinite(state.m2(d)) || state.m2(d) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("normaliser state: invalid statistics in dimension ", d));
    }
    normalizer.mean_[d] = state.mean(d);
    normalizer.m2_[d] = state.m2(d);
  }
  return normalizer;
}

}  // namespace gorl
