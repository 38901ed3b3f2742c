// twin-peaks: a contextual bandit whose best action distribution is bimodal.
//
// Every step shows a context c ~ U(-1, 1). A hidden sign k in {-1, +1} is
// drawn with P(k = +1 | c) = clamp(0.5 + 2.5 c, 0, 1), and the action a in
// [-1, 1] earns exp(-((a - 0.6 k) / 0.15)^2 / 2). Far from c = 0 the context
// gives k away and the best action is +-0.6; for |c| < 0.2 both peaks pay,
// and at c = 0 they pay equally, so the best policy there (and the
// maximum-entropy one in the whole band) puts mass on both +0.6 and -0.6,
// which no Gaussian can. Plain C++, about 20 ns a step: the fast
// multimodality test bed. Episodes have 100 steps and never terminate.
//
// twin-peaks-sharp is the same bandit with a band 20x narrower,
// P(k = +1 | c) = clamp(0.5 + 50 c, 0, 1), |c| < 0.01: the best policy
// switches peaks almost as a step at c = 0. It tests whether an optimum
// sharper than a refined decoder resolves makes GoRL's policy bimodal
// (docs/learning.md: at the local learning rate over 300k steps PPO's own
// switch stays a ramp about 0.08 wide; at 3x the rate over 600k steps it
// sharpens to about 0.02, and the paper's 4 x 32 decoder refined on that
// data has a mode on each peak: LearningTest.HandOverTurnsASharpSwitchIntoTwoModes).
#include <algorithm>
#include <cmath>
#include <utility>

#include "envs/task_catalog.h"

namespace gorl::envs {
namespace {

constexpr double kPeak = 0.6;
constexpr double kWidth = 0.15;
// P(k=+1|c) ramps over |c| < 0.5 / slope: 0.2 (twin-peaks), 0.01 (-sharp).
constexpr double kBandSlope = 2.5;
constexpr double kSharpBandSlope = 50.0;

class TwinPeaks : public Task {
 public:
  TwinPeaks(const TaskSpec& spec, double band_slope) : spec_(spec), band_slope_(band_slope) {}

  const TaskSpec& spec() const override { return spec_; }

  absl::Status Reset(Rng& rng, float* obs) override {
    // The episode's own stream, drawn from the reset stream, keeps a run
    // reproducible for a fixed seed.
    step_rng_.Seed(rng.NextU64());
    DrawContext(obs);
    return absl::OkStatus();
  }

  StepOutcome Step(const float* action, float* obs) override {
    const double p_plus = std::clamp(0.5 + band_slope_ * context_, 0.0, 1.0);
    const double k = step_rng_.Uniform() < p_plus ? 1.0 : -1.0;
    const double d = (action[0] - kPeak * k) / kWidth;
    StepOutcome outcome;
    outcome.reward = std::exp(-0.5 * d * d);
    DrawContext(obs);
    return outcome;
  }

 private:
  void DrawContext(float* obs) {
    context_ = step_rng_.Uniform(-1.0, 1.0);
    obs[0] = static_cast<float>(context_);
  }

  const TaskSpec spec_;
  const double band_slope_;
  Rng step_rng_;
  double context_ = 0.0;
};

}  // namespace

void AddToyTasks(std::vector<TaskRegistration>& tasks) {
  for (const auto& [name, band_slope] :
       {std::pair<const char*, double>{"twin-peaks", kBandSlope},
        std::pair<const char*, double>{"twin-peaks-sharp", kSharpBandSlope}}) {
    TaskSpec spec;
    spec.name = name;
    spec.family = "toy";
    spec.obs_size = 1;
    spec.action_size = 1;
    spec.control_timestep = 1.0;
    spec.physics_substeps = 1;
    spec.episode_length = 100;
    const double slope = band_slope;
    tasks.push_back(PlainTaskRegistration(spec, [slope](const TaskSpec& s) {
      return std::unique_ptr<Task>(new TwinPeaks(s, slope));
    }));
  }
}

}  // namespace gorl::envs
