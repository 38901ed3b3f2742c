// N environments of one task stepped by one call.
//
//   actions [N x A] -> shards of envs on a WorkerPool -> Task::Step
//                   -> time limit, auto-reset -> obs/reward/flags [N x ...]
//
// Semantics (Gymnasium's same-step auto-reset, as Brax and EnvPool do):
//  * `terminated[i]`: the episode reached a terminal state (Gym failure rules,
//    or a simulator divergence, which is also flagged in `diverged[i]`).
//  * `truncated[i]`: the episode hit the task's time limit without
//    terminating; bootstrap from `final_obs`.
//  * When either is set, `obs` row i already holds the first observation of
//    the next episode and `final_obs` row i the last one of the finished
//    episode. `final_obs` rows of envs that did not finish are stale.
// Outputs are float32 and owned by the VectorEnv; they stay valid until the
// next Reset() or Step().
#ifndef GORL_ENVS_VECTOR_ENV_H_
#define GORL_ENVS_VECTOR_ENV_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/random.h"
#include "common/worker_pool.h"
#include "envs/task_registry.h"

namespace gorl::envs {

struct VectorEnvOptions {
  int num_envs = 1;
  uint64_t seed = 0;
  // Threads that step the envs (the caller counts as one). Envs are split
  // into contiguous shards, one per thread.
  int num_threads = 1;
};

// One finished episode.
struct EpisodeRecord {
  int env = 0;
  double episode_return = 0.0;
  int length = 0;
  bool truncated = false;
  bool diverged = false;
};

class VectorEnv {
 public:
  static absl::StatusOr<std::unique_ptr<VectorEnv>> Create(const TaskFactory& factory,
                                                           const VectorEnvOptions& options);

  const TaskSpec& spec() const { return spec_; }
  int num_envs() const { return num_envs_; }
  int obs_size() const { return spec_.obs_size; }
  int action_size() const { return spec_.action_size; }

  // Starts a new episode in every env (env i draws from the stream
  // DeriveSeed(seed, i), so a run is reproducible for a fixed seed and env
  // count, whatever the thread count).
  absl::Status Reset();

  // Steps every env with `actions` (num_envs x action_size, row-major).
  // Non-finite actions are rejected before any env moves.
  absl::Status Step(const float* actions);

  const float* obs() const { return obs_.data(); }
  const float* final_obs() const { return final_obs_.data(); }
  const float* rewards() const { return rewards_.data(); }
  const uint8_t* terminated() const { return terminated_.data(); }
  const uint8_t* truncated() const { return truncated_.data(); }
  const uint8_t* diverged() const { return diverged_.data(); }

  // Episodes that finished since the last call, in env order per step.
  std::vector<EpisodeRecord> TakeFinishedEpisodes();

  // Lifetime counters.
  int64_t total_steps() const { return total_steps_; }
  int64_t total_episodes() const { return total_episodes_; }
  int64_t total_divergences() const { return total_divergences_; }

 private:
  VectorEnv(const TaskSpec& spec, const VectorEnvOptions& options);

  // Steps envs [begin, end); returns the first reset error, if any.
  absl::Status StepShard(int shard, const float* actions);
  absl::Status RunOnShards(const std::function<absl::Status(int shard)>& fn);

  const TaskSpec spec_;
  const int num_envs_;
  const uint64_t seed_;
  std::vector<std::unique_ptr<Task>> tasks_;
  std::vector<Rng> rngs_;
  std::vector<int> shard_begin_;  // num_threads + 1 boundaries
  WorkerPool pool_;
  bool started_ = false;

  std::vector<float> obs_, final_obs_, rewards_;
  std::vector<uint8_t> terminated_, truncated_, diverged_;
  std::vector<double> episode_return_;
  std::vector<int> episode_length_;
  std::vector<std::vector<EpisodeRecord>> finished_per_shard_;
  std::vector<EpisodeRecord> finished_;

  int64_t total_steps_ = 0;
  int64_t total_episodes_ = 0;
  int64_t total_divergences_ = 0;
};

}  // namespace gorl::envs

#endif  // GORL_ENVS_VECTOR_ENV_H_
