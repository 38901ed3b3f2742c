#include "envs/vector_env.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace gorl::envs {

VectorEnv::VectorEnv(const TaskSpec& spec, const VectorEnvOptions& options)
    : spec_(spec),
      num_envs_(options.num_envs),
      seed_(options.seed),
      pool_(std::min(options.num_threads, options.num_envs)) {}

absl::StatusOr<std::unique_ptr<VectorEnv>> VectorEnv::Create(const TaskFactory& factory,
                                                             const VectorEnvOptions& options) {
  if (options.num_envs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("vector env: num_envs must be >= 1, got ", options.num_envs));
  }
  if (options.num_threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("vector env: num_threads must be >= 1, got ", options.num_threads));
  }
  std::unique_ptr<VectorEnv> env(new VectorEnv(factory.spec(), options));
  const int n = env->num_envs_;
  for (int i = 0; i < n; ++i) {
    GORL_ASSIGN_OR_RETURN(std::unique_ptr<Task> task, factory.NewTask());
    env->tasks_.push_back(std::move(task));
    env->rngs_.emplace_back(DeriveSeed(options.seed, i));
  }
  const int shards = env->pool_.num_threads();
  for (int s = 0; s <= shards; ++s)
    env->shard_begin_.push_back(static_cast<int>(int64_t{n} * s / shards));
  env->finished_per_shard_.resize(shards);
  const int obs = env->spec_.obs_size;
  env->obs_.assign(static_cast<size_t>(n) * obs, 0.0f);
  env->final_obs_.assign(static_cast<size_t>(n) * obs, 0.0f);
  env->rewards_.assign(n, 0.0f);
  env->terminated_.assign(n, 0);
  env->truncated_.assign(n, 0);
  env->diverged_.assign(n, 0);
  env->episode_return_.assign(n, 0.0);
  env->episode_length_.assign(n, 0);
  return env;
}

absl::Status VectorEnv::RunOnShards(const std::function<absl::Status(int)>& fn) {
  std::vector<absl::Status> results(pool_.num_threads());
  pool_.Run([&](int shard) { results[shard] = fn(shard); });
  for (const absl::Status& status : results) GORL_RETURN_IF_ERROR(status);
  return absl::OkStatus();
}

absl::Status VectorEnv::Reset() {
  const int obs = spec_.obs_size;
  for (int i = 0; i < num_envs_; ++i) rngs_[i].Seed(DeriveSeed(seed_, i));
  GORL_RETURN_IF_ERROR(RunOnShards([&](int shard) -> absl::Status {
    for (int i = shard_begin_[shard]; i < shard_begin_[shard + 1]; ++i) {
      GORL_RETURN_IF_ERROR(tasks_[i]->Reset(rngs_[i], obs_.data() + static_cast<size_t>(i) * obs));
    }
    return absl::OkStatus();
  }));
  std::fill(rewards_.begin(), rewards_.end(), 0.0f);
  std::fill(terminated_.begin(), terminated_.end(), 0);
  std::fill(truncated_.begin(), truncated_.end(), 0);
  std::fill(diverged_.begin(), diverged_.end(), 0);
  std::fill(episode_return_.begin(), episode_return_.end(), 0.0);
  std::fill(episode_length_.begin(), episode_length_.end(), 0);
  finished_.clear();
  started_ = true;
  return absl::OkStatus();
}

absl::Status VectorEnv::StepShard(int shard, const float* actions) {
  const int obs_size = spec_.obs_size;
  const int act_size = spec_.action_size;
  std::vector<EpisodeRecord>& finished = finished_per_shard_[shard];
  for (int i = shard_begin_[shard]; i < shard_begin_[shard + 1]; ++i) {
    float* obs = obs_.data() + static_cast<size_t>(i) * obs_size;
    const StepOutcome outcome = tasks_[i]->Step(actions + static_cast<size_t>(i) * act_size, obs);
    episode_return_[i] += outcome.reward;
    ++episode_length_[i];
    const bool terminated = outcome.terminated || outcome.diverged;
    const bool truncated = !terminated && episode_length_[i] >= spec_.episode_length;
    rewards_[i] = static_cast<float>(outcome.reward);
    terminated_[i] = terminated;
    truncated_[i] = truncated;
    diverged_[i] = outcome.diverged;
    if (!terminated && !truncated) continue;
    std::copy(obs, obs + obs_size, final_obs_.data() + static_cast<size_t>(i) * obs_size);
    finished.push_back({.env = i,
                        .episode_return = episode_return_[i],
                        .length = episode_length_[i],
                        .truncated = truncated,
                        .diverged = outcome.diverged});
    episode_return_[i] = 0.0;
    episode_length_[i] = 0;
    GORL_RETURN_IF_ERROR(tasks_[i]->Reset(rngs_[i], obs));
  }
  return absl::OkStatus();
}

absl::Status VectorEnv::Step(const float* actions) {
  if (!started_) return absl::FailedPreconditionError("vector env: Step() before Reset()");
  const int64_t count = int64_t{num_envs_} * spec_.action_size;
  for (int64_t k = 0; k < count; ++k) {
    if (!std::isfinite(actions[k])) {
      return absl::InvalidArgumentError(
          absl::StrCat(spec_.name, ": non-finite action for env ", k / spec_.action_size,
                       ", component ", k % spec_.action_size, "; no env was stepped"));
    }
  }
  const absl::Status status = RunOnShards([&](int shard) { return StepShard(shard, actions); });
  for (std::vector<EpisodeRecord>& shard_records : finished_per_shard_) {
    for (const EpisodeRecord& record : shard_records) {
      ++total_episodes_;
      if (record.diverged) ++total_divergences_;
      finished_.push_back(record);
    }
    shard_records.clear();
  }
  total_steps_ += num_envs_;
  if (!status.ok()) {
    // A failed reset leaves that env without a valid episode.
    started_ = false;
  }
  return status;
}

std::vector<EpisodeRecord> VectorEnv::TakeFinishedEpisodes() {
  std::vector<EpisodeRecord> out;
  out.swap(finished_);
  return out;
}

}  // namespace gorl::envs
