#include "bench/env_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "bench/median.h"
#include "bench/raw_physics.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "envs/vector_env.h"

namespace gorl::bench {
namespace {

using Clock = std::chrono::steady_clock;

double MeasureRaw(const envs::TaskSpec& spec, const mjModel* model, const EnvBenchOptions& options,
                  int round) {
  std::vector<int64_t> steps(options.threads, 0);
  std::vector<std::thread> threads;
  threads.reserve(options.threads);
  const auto start = Clock::now();
  for (int t = 0; t < options.threads; ++t) {
    threads.emplace_back([&, t] {
      steps[t] =
          RawPhysicsLoop(spec, model, DeriveSeed(options.seed, 1000 * round + t), options.seconds);
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  int64_t total = 0;
  for (int64_t s : steps) total += s;
  return total / elapsed;
}

absl::StatusOr<double> MeasureVector(envs::VectorEnv& env, const EnvBenchOptions& options,
                                     int round) {
  Rng rng(DeriveSeed(options.seed, 7777 + round));
  std::vector<float> actions(static_cast<size_t>(env.num_envs()) * env.action_size());
  int64_t steps = 0;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(options.seconds);
  while (true) {
    for (int k = 0; k < 64; ++k) {
      for (float& a : actions) a = static_cast<float>(rng.Uniform(-1.0, 1.0));
      GORL_RETURN_IF_ERROR(env.Step(actions.data()));
      steps += env.num_envs();
    }
    if (Clock::now() >= deadline) break;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return steps / elapsed;
}

}  // namespace

absl::StatusOr<EnvBenchResult> BenchmarkTask(const envs::TaskFactory& factory,
                                             const EnvBenchOptions& options) {
  EnvBenchResult result;
  result.task = factory.spec().name;
  result.threads = options.threads;
  envs::VectorEnvOptions env_options;
  env_options.num_envs = options.threads;
  env_options.num_threads = options.threads;
  env_options.seed = options.seed;
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<envs::VectorEnv> env,
                        envs::VectorEnv::Create(factory, env_options));
  GORL_RETURN_IF_ERROR(env->Reset());
  std::shared_ptr<const envs::MujocoModel> model = factory.model();
  std::vector<double> raw, vector;
  for (int round = 0; round < std::max(1, options.rounds); ++round) {
    if (model != nullptr) raw.push_back(MeasureRaw(factory.spec(), model->get(), options, round));
    GORL_ASSIGN_OR_RETURN(const double steps_per_s, MeasureVector(*env, options, round));
    vector.push_back(steps_per_s);
  }
  result.vector_steps_per_s = Median(vector);
  if (!raw.empty()) result.raw_steps_per_s = Median(raw);
  return result;
}

}  // namespace gorl::bench
