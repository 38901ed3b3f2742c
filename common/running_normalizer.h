// Running observation statistics with Brax semantics.
//
// Welford's algorithm in double precision, updated once per training
// iteration with the whole new batch, mergeable across actors (Chan et al.'s
// parallel formula). The normalised value is (x - mean) / std, with std the
// population standard deviation clipped to [1e-6, 1e6]; observations are not
// clipped.
#ifndef GORL_COMMON_RUNNING_NORMALIZER_H_
#define GORL_COMMON_RUNNING_NORMALIZER_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gorl/v1/tensor.pb.h"

namespace gorl {

class RunningNormalizer {
 public:
  static constexpr double kMinStd = 1e-6;
  static constexpr double kMaxStd = 1e6;

  explicit RunningNormalizer(int size = 0);

  int size() const { return static_cast<int>(mean_.size()); }
  double count() const { return count_; }
  const std::vector<double>& mean() const { return mean_; }

  // Population variance per dimension (0 before any update).
  std::vector<double> Variance() const;
  // Clipped standard deviation per dimension (1 before any update).
  std::vector<double> Std() const;

  // Adds `rows` observations stored row-major in `batch` (rows x size()).
  // Rejects non-finite values without changing the statistics.
  absl::Status Update(const float* batch, int64_t rows);

  // Folds another normaliser's statistics into this one, as if its samples
  // had been passed to Update().
  absl::Status Merge(const RunningNormalizer& other);

  // Normalises `rows` observations in place.
  void Normalize(float* batch, int64_t rows) const;
  // Normalises from `in` to `out` (may alias).
  void Normalize(const float* in, float* out, int64_t rows) const;

  v1::NormalizerState ToProto() const;
  static absl::StatusOr<RunningNormalizer> FromProto(const v1::NormalizerState& state);

 private:
  double count_ = 0.0;
  std::vector<double> mean_;
  std::vector<double> m2_;
};

}  // namespace gorl

#endif  // GORL_COMMON_RUNNING_NORMALIZER_H_
