#include "bench/actor_bench.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "bench/median.h"
#include "bench/raw_physics.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace gorl::bench {

absl::StatusOr<ActorBenchResult> BenchmarkActor(const envs::TaskFactory& factory,
                                                const ActorLoop& actor,
                                                const ActorBenchOptions& options) {
  using Clock = std::chrono::steady_clock;
  std::shared_ptr<const envs::MujocoModel> model = factory.model();
  // One untimed pass: first-call allocations and lazy initialisation.
  GORL_RETURN_IF_ERROR(actor(std::min(0.2, options.seconds)).status());
  std::vector<double> raw, actor_rates;
  for (int round = 0; round < std::max(1, options.rounds); ++round) {
    if (model != nullptr) {
      const auto start = Clock::now();
      const int64_t steps =
          RawPhysicsLoop(factory.spec(), model->get(), DeriveSeed(options.seed, round),
                         options.seconds, options.batch);
      raw.push_back(steps / std::chrono::duration<double>(Clock::now() - start).count());
    }
    const auto start = Clock::now();
    GORL_ASSIGN_OR_RETURN(const int64_t steps, actor(options.seconds));
    actor_rates.push_back(steps / std::chrono::duration<double>(Clock::now() - start).count());
  }
  ActorBenchResult result;
  result.actor_steps_per_s = Median(actor_rates);
  if (!raw.empty()) result.raw_steps_per_s = Median(raw);
  return result;
}

}  // namespace gorl::bench
