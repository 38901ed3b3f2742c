#include "runtime/actor_bench_run.h"

#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "actor/rollout_worker.h"
#include "common/config.h"
#include "common/nn/random_decoder.h"
#include "common/status_macros.h"
#include "envs/task_registry.h"
#include "learner/ppo_learner.h"
#include "learner/training_loop.h"
#include "runtime/run_config.h"

namespace gorl::runtime {
namespace {

// What an actor receives from the learner of `config` (its first snapshot)
// with a decoder of the algorithm's kind and full size.
absl::StatusOr<v1::PolicySnapshot> BenchPolicy(const v1::TrainConfig& config,
                                               const envs::TaskSpec& spec) {
  absl::StatusOr<std::unique_ptr<learner::PpoLearner>> learner =
      learner::PpoLearner::Create(config, spec.obs_size, spec.action_size);
  if (!learner.ok()) return learner.status();
  v1::PolicySnapshot snapshot = (*learner)->Snapshot();
  *snapshot.mutable_decoder() =
      nn::RandomDecoder(learner::DecoderKindFor(config.algo()), spec.obs_size, spec.action_size,
                        config.decoder(), config.seed());
  return snapshot;
}

}  // namespace

absl::Status RunActorBench(const ActorBenchRunOptions& options,
                           const std::function<void(const ActorBenchRow&)>& on_row) {
  if (options.batch < 1 || options.unroll < 1 || options.timing.seconds <= 0) {
    return absl::InvalidArgumentError("--batch, --unroll and --seconds must be positive");
  }
  for (const std::string& task : options.tasks) {
    GORL_ASSIGN_OR_RETURN(std::unique_ptr<envs::TaskFactory> factory,
                          envs::MakeTaskFactory(task, options.assets));
    for (const std::string& algo : options.algos) {
      ConfigSource source;
      source.preset = options.preset;
      source.task = task;
      source.algo = algo;
      GORL_ASSIGN_OR_RETURN(const v1::TrainConfig config, BuildTrainConfig(source));
      if (config.algo() == v1::ALGO_FPO || config.algo() == v1::ALGO_DPPO) {
        return absl::InvalidArgumentError(
            absl::StrCat(algo, ": the actor benchmark covers ppo, gorl-fm and gorl-diff"));
      }
      GORL_ASSIGN_OR_RETURN(const v1::PolicySnapshot policy, BenchPolicy(config, factory->spec()));
      actor::WorkerOptions worker_options;
      worker_options.num_envs = options.batch;
      worker_options.num_threads = 1;
      worker_options.seed = options.timing.seed;
      GORL_ASSIGN_OR_RETURN(std::unique_ptr<actor::RolloutWorker> worker,
                            actor::RolloutWorker::Create(*factory, worker_options));
      GORL_RETURN_IF_ERROR(worker->SetPolicy(policy));
      const bench::ActorLoop loop = [&](double seconds) -> absl::StatusOr<int64_t> {
        using Clock = std::chrono::steady_clock;
        const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
        int64_t steps = 0;
        while (Clock::now() < deadline) {
          GORL_RETURN_IF_ERROR(worker->Unroll(options.unroll).status());
          steps += static_cast<int64_t>(options.batch) * options.unroll;
        }
        return steps;
      };
      ActorBenchRow row;
      row.task = task;
      row.algo = EnumUserName(config.algo());
      row.batch = options.batch;
      bench::ActorBenchOptions timing = options.timing;
      timing.batch = options.batch;
      GORL_ASSIGN_OR_RETURN(row.result, bench::BenchmarkActor(*factory, loop, timing));
      on_row(row);
    }
  }
  return absl::OkStatus();
}

}  // namespace gorl::runtime
