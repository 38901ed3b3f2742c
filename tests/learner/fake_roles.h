// Test doubles of the actor and refiner roles whose answers depend only on
// what they are sent (the broadcast snapshot) and asked, never on how many
// calls came before. A fresh instance therefore continues a run exactly like
// the original one, which is what the checkpoint/resume tests need. Failures
// can be injected to interrupt a run at a chosen call.
#ifndef GORL_TESTS_LEARNER_FAKE_ROLES_H_
#define GORL_TESTS_LEARNER_FAKE_ROLES_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "learner/roles.h"
#include "tests/learner/synthetic_rollout.h"

namespace gorl::learner::testing {

class DeterministicActors : public ActorGroup {
 public:
  DeterministicActors(int num_envs, int obs_size, int action_size)
      : num_envs_(num_envs), obs_size_(obs_size), action_size_(action_size) {}

  absl::Status Broadcast(const v1::PolicySnapshot& snapshot) override {
    broadcasts.push_back(snapshot);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<v1::Rollout>> GatherRollouts(int64_t sequences,
                                                          int unroll_length) override {
    if (gather_calls++ == fail_gather_call) return Injected("gather");
    const v1::PolicySnapshot& current = broadcasts.back();
    std::vector<v1::Rollout> rollouts;
    for (int64_t k = 0; k < sequences / num_envs_; ++k) {
      SyntheticOptions options;
      options.num_envs = num_envs_;
      options.unroll_length = unroll_length;
      // Versions are unique within a run, so every unroll gets its own seed.
      options.seed = static_cast<uint64_t>(current.encoder_version()) * 1000 + k + 1;
      options.truncate_every = 4;
      options.reward = [](const float* z) { return -z[0] * z[0]; };
      rollouts.push_back(SampleRollout(current, options));
      rollouts.back().add_episode_returns(static_cast<float>(current.encoder_version()));
      if (gather_calls - 1 == poison_gather_call) {
        for (float& r : *rollouts.back().mutable_rewards()) r = 3e38f;
      }
    }
    return rollouts;
  }

  absl::StatusOr<v1::RefinementData> Collect(int64_t pairs, int num_envs, uint64_t seed) override {
    if (collect_calls++ == fail_collect_call) return Injected("collect");
    collect_snapshots.push_back(broadcasts.back());
    v1::RefinementData data;
    data.set_obs_size(obs_size_);
    data.set_action_size(action_size_);
    for (int64_t i = 0; i < pairs * obs_size_; ++i) data.add_observations(0.1f * (i % 7));
    for (int64_t i = 0; i < pairs * action_size_; ++i) {
      data.add_actions(0.01f * static_cast<float>((seed + i) % 50) - 0.25f);
    }
    return data;
  }

  // Returns by encoder version: with 2 iterations per stage and a
  // re-initialisation at each boundary, the stages evaluate versions 1, 2 |
  // 4, 5 | 7, 8, and each stage's first evaluation scores best, so "best"
  // is never the stage's final encoder.
  absl::StatusOr<v1::EvalReport> Evaluate(int episodes, bool deterministic,
                                          uint64_t /*seed*/) override {
    if (eval_calls++ == fail_eval_call) return Injected("evaluate");
    const v1::PolicySnapshot& current = broadcasts.back();
    v1::EvalReport report;
    report.set_encoder_version(current.encoder_version());
    report.set_deterministic(deterministic);
    const int64_t version = current.encoder_version();
    const float value = static_cast<float>(version % 3 == 1 ? 10 + version : version);
    for (int e = 0; e < episodes; ++e) report.add_episode_returns(value + 0.5f * e);
    return report;
  }

  // Broadcasts of one mode, in order.
  std::vector<v1::PolicySnapshot> Broadcasts(v1::ActorMode mode) const {
    std::vector<v1::PolicySnapshot> out;
    for (const v1::PolicySnapshot& s : broadcasts) {
      if (s.mode() == mode) out.push_back(s);
    }
    return out;
  }

  // Call index (0-based) at which each method fails with `fail_code`; -1 never.
  int fail_gather_call = -1, fail_collect_call = -1, fail_eval_call = -1;
  // Call index at which GatherRollouts returns rewards of 3e38: finite, but
  // beyond the bound the rollout checks allow (they would overflow the update).
  int poison_gather_call = -1;
  // kCancelled is what the learner's SIGTERM makes of a pending call.
  absl::StatusCode fail_code = absl::StatusCode::kUnavailable;
  int gather_calls = 0, collect_calls = 0, eval_calls = 0;
  std::vector<v1::PolicySnapshot> broadcasts;
  std::vector<v1::PolicySnapshot> collect_snapshots;

 private:
  absl::Status Injected(const char* what) const {
    return absl::Status(fail_code, absl::StrCat("injected: ", what));
  }
  int num_envs_, obs_size_, action_size_;
};

// A refiner that "trains" a flow decoder identified by its version.
class VersionRefiner : public Refiner {
 public:
  absl::StatusOr<RefineOutcome> Refine(const v1::RefinementData& data, int64_t version) override {
    if (calls++ == fail_call) return absl::CancelledError("injected: refine");
    versions.push_back(version);
    RefineOutcome outcome;
    outcome.decoder.set_kind(v1::DECODER_KIND_FLOW);
    outcome.decoder.set_version(version);
    outcome.decoder.set_obs_size(data.obs_size());
    outcome.decoder.set_action_size(data.action_size());
    outcome.best_validation_loss = 0.5 / static_cast<double>(version);
    outcome.epochs = static_cast<int>(version);
    return outcome;
  }
  std::vector<int64_t> versions;
  // Call index (0-based) that is cancelled; -1 never.
  int fail_call = -1;
  int calls = 0;
};

}  // namespace gorl::learner::testing

#endif  // GORL_TESTS_LEARNER_FAKE_ROLES_H_
