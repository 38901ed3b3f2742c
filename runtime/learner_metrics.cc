#include "runtime/learner_metrics.h"

#include <cmath>

namespace gorl::runtime {

void PublishProgress(const learner::Progress& p, RoleMetrics& metrics) {
  metrics.AddPpoUpdates(1);
  metrics.SetStepsPerSecond(p.steps_per_second);
  if (std::isfinite(p.last_eval_return)) metrics.SetEvalReturn(p.last_eval_return);
  metrics.SetPolicyLoss(p.ppo.policy_loss);
  metrics.SetValueLoss(p.ppo.value_loss);
  metrics.SetApproxKl(p.ppo.approx_kl);
  metrics.SetClipFraction(p.ppo.clip_fraction);
  metrics.SetEntropy(p.ppo.entropy);
  metrics.SetExplainedVariance(p.ppo.explained_variance);
  if (std::isfinite(p.decoder_validation_loss)) metrics.SetDecoderLoss(p.decoder_validation_loss);
  if (std::isfinite(p.stage_best_return)) metrics.SetStageBestReturn(p.stage, p.stage_best_return);
}

void PublishRefinement(const learner::RefinementReport& r, RoleMetrics& metrics) {
  metrics.SetRefinementReturn("collecting", "stochastic", r.collecting_stochastic);
  metrics.SetRefinementReturn("collecting", "deterministic", r.collecting_deterministic);
  metrics.SetRefinementReturn("refined", "stochastic", r.refined_stochastic);
  metrics.SetRefinementReturn("refined", "deterministic", r.refined_deterministic);
  if (r.fidelity.states == 0) return;  // not measured
  const struct {
    const char* against;
    const learner::ActionDistance& distance;
  } rows[] = {{"prior", r.fidelity.prior},
              {"fresh_encoder", r.fidelity.fresh_encoder},
              {"floor", r.fidelity.floor}};
  for (const auto& row : rows) {
    metrics.SetRefinementFidelity(row.against, "sliced_wasserstein",
                                  row.distance.sliced_wasserstein);
    metrics.SetRefinementFidelity(row.against, "mean_error", row.distance.mean_error);
    metrics.SetRefinementFidelity(row.against, "std_error", row.distance.std_error);
  }
}

}  // namespace gorl::runtime
