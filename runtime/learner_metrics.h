// What the learner's training loop reports, turned into its Prometheus
// series (common/metrics.h).
#ifndef GORL_RUNTIME_LEARNER_METRICS_H_
#define GORL_RUNTIME_LEARNER_METRICS_H_

#include "common/metrics.h"
#include "learner/training_loop.h"

namespace gorl::runtime {

// The last iteration's statistics.
void PublishProgress(const learner::Progress& p, RoleMetrics& metrics);

// A refinement's fidelity and the returns on both sides of it.
void PublishRefinement(const learner::RefinementReport& r, RoleMetrics& metrics);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_LEARNER_METRICS_H_
