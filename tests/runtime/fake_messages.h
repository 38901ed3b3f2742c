// Test helper: well-formed gorl.v1 messages of a toy task (3 observations,
// 2 actions) for the learner-side runtime tests, which need no environment.
#ifndef GORL_TESTS_RUNTIME_FAKE_MESSAGES_H_
#define GORL_TESTS_RUNTIME_FAKE_MESSAGES_H_

#include <cstdint>

#include "gorl/v1/policy.pb.h"

namespace gorl::runtime::testing {

inline constexpr int kObs = 3, kAct = 2;

inline v1::PolicySnapshot Snapshot(int64_t version, v1::ActorMode mode, int stage = 0) {
  v1::PolicySnapshot snapshot;
  snapshot.set_encoder_version(version);
  snapshot.set_mode(mode);
  snapshot.set_stage(stage);
  snapshot.set_obs_size(kObs);
  snapshot.set_latent_size(kAct);
  return snapshot;
}

// `envs` envs unrolled `steps` steps by encoder `version`, finite values.
inline v1::Rollout Rollout(int64_t version, int envs, int steps = 2) {
  v1::Rollout r;
  r.set_encoder_version(version);
  r.set_num_envs(envs);
  r.set_unroll_length(steps);
  r.set_obs_size(kObs);
  r.set_latent_size(kAct);
  for (int i = 0; i < (steps + 1) * envs * kObs; ++i) r.add_observations(0.5f);
  for (int i = 0; i < steps * envs * kAct; ++i) r.add_latents(0.1f);
  for (int i = 0; i < steps * envs; ++i) {
    r.add_log_probs(-1.0f);
    r.add_rewards(1.0f);
    r.add_terminated(false);
    r.add_truncated(false);
  }
  return r;
}

}  // namespace gorl::runtime::testing

#endif  // GORL_TESTS_RUNTIME_FAKE_MESSAGES_H_
