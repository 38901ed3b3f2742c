// The statistic every benchmark reports over its rounds: the median resists
// the outliers a shared, noisy machine produces.
#ifndef GORL_BENCH_MEDIAN_H_
#define GORL_BENCH_MEDIAN_H_

#include <algorithm>
#include <cstddef>
#include <vector>

namespace gorl::bench {

// 0 for no values; the mean of the middle two for an even count.
inline double Median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

}  // namespace gorl::bench

#endif  // GORL_BENCH_MEDIAN_H_
