// Fuzzes the checks every gorl.v1 message from a peer goes through before
// it reaches shared state (common/message_checks.h): any bytes, parsed as a
// Rollout, a RefinementData and an EvalReport, against a task shape, a
// joined num_envs and an episode count from the input (layout:
// fuzz_inputs.h). Besides "no crash, no UB", a message that passes must
// really have the sizes its consumers index with and only finite values.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/message_checks.h"
#include "fuzz_inputs.h"
#include "gorl/v1/policy.pb.h"

namespace {

// The consumers' assumptions, restated independently of the checks.
void Require(bool condition) {
  if (!condition) std::abort();
}

template <typename Values>
bool AllFinite(const Values& values) {
  for (const auto value : values) {
    if (!std::isfinite(value)) return false;
  }
  return true;
}

void FuzzRollout(const gorl::fuzz::MessageChecksInput& input) {
  gorl::v1::Rollout rollout;
  if (!rollout.ParseFromString(input.message)) return;
  if (!gorl::CheckRollout(rollout, input.shape, input.num_envs).ok()) return;
  const int64_t n = rollout.num_envs();
  const int64_t t = rollout.unroll_length();
  Require(n == input.num_envs && n > 0 && t > 0);
  Require(rollout.obs_size() == input.shape.obs_size);
  Require(rollout.latent_size() == input.shape.action_size);
  Require(rollout.observations_size() == (t + 1) * n * rollout.obs_size());
  Require(rollout.latents_size() == t * n * rollout.latent_size());
  Require(rollout.log_probs_size() == t * n && rollout.rewards_size() == t * n);
  Require(rollout.terminated_size() == t * n && rollout.truncated_size() == t * n);
  Require(AllFinite(rollout.observations()) && AllFinite(rollout.latents()) &&
          AllFinite(rollout.log_probs()) && AllFinite(rollout.rewards()) &&
          AllFinite(rollout.episode_returns()));
}

void FuzzRefinementData(const gorl::fuzz::MessageChecksInput& input) {
  gorl::v1::RefinementData data;
  if (!data.ParseFromString(input.message)) return;
  if (!gorl::CheckRefinementData(data, input.shape).ok()) return;
  const int64_t pairs = data.observations_size() / input.shape.obs_size;
  Require(data.observations_size() == pairs * input.shape.obs_size);
  Require(data.actions_size() == pairs * input.shape.action_size);
  Require(data.latents_size() == 0 || data.latents_size() == data.actions_size());
  Require(AllFinite(data.observations()) && AllFinite(data.actions()) && AllFinite(data.latents()));
}

void FuzzEvalReport(const gorl::fuzz::MessageChecksInput& input) {
  gorl::v1::EvalReport report;
  if (!report.ParseFromString(input.message)) return;
  if (!gorl::CheckEvalReport(report, input.episodes).ok()) return;
  Require(report.episode_returns_size() == input.episodes);
  Require(report.diverged_episodes() >= 0 && report.diverged_episodes() <= input.episodes);
  Require(AllFinite(report.episode_returns()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gorl::fuzz::MessageChecksInput input;
  if (!gorl::fuzz::DecodeMessageChecksInput(data, size, &input)) return 0;
  FuzzRollout(input);
  FuzzRefinementData(input);
  FuzzEvalReport(input);
  return 0;
}
