// GoRL's stage coordinator: the loop that the learner runs.
//
//   for each stage s:
//     (s > 0) re-initialise the encoder (and critic) to the prior
//     repeat: broadcast snapshot -> gather unrolls -> PPO update
//             -> evaluate every eval.every_env_steps and at the stage end
//     (s < last, GoRL) freeze the best (or final) encoder -> collect
//             (observation, pre-tanh action) pairs -> refiner trains a
//             fresh decoder from the prior -> swap it in
//
// Gaussian PPO is the same loop with one stage and the identity decoder.
// Every step is logged to <run_dir>/metrics.jsonl; decoders are saved as
// <run_dir>/decoder_stage<k>.pb (binary gorl.v1.Decoder) so that a frozen
// decoder can be reused by the ablation.
//
// <run_dir>/checkpoint.pb (gorl.v1.LearnerCheckpoint) is written at the
// start, rewritten every
// config.checkpoint_every_iterations iterations (if > 0), after each stage's
// refinement, when the run finishes and when it is cancelled (a role call
// returns CANCELLED, e.g. the learner's SIGTERM): then it holds the last
// completed iteration. Resume() continues from it with the same counters, so
// an interrupted run ends as the uninterrupted one would have (given actors
// that produce the same data). The one before it is kept as
// checkpoint.prev.pb (learner/checkpoint.h).
//
// A non-finite update (PpoLearner::Update's Aborted error) ends the run
// with that error and writes nothing: the disk keeps the last good
// checkpoint, and the learner is back at the state it holds or later.
#ifndef GORL_LEARNER_TRAINING_LOOP_H_
#define GORL_LEARNER_TRAINING_LOOP_H_

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/metrics_log.h"
#include "gorl/v1/checkpoint.pb.h"
#include "gorl/v1/config.pb.h"
#include "gorl/v1/policy.pb.h"
#include "learner/ppo_learner.h"
#include "learner/refinement_fidelity.h"
#include "learner/roles.h"

namespace gorl::learner {

// What the progress callback sees after every iteration.
struct Progress {
  int64_t env_steps = 0;
  int64_t total_env_steps = 0;
  int stage = 0;
  int num_stages = 1;
  double steps_per_second = 0.0;
  double elapsed_seconds = 0.0;
  double last_eval_return = 0.0;  // NaN before the first evaluation
  PpoMetrics ppo;                 // this iteration's update
  // Of the decoder in use; NaN until a refinement of this session trained one.
  double decoder_validation_loss = std::numeric_limits<double>::quiet_NaN();
  // The best evaluation return of this stage so far (NaN before its first).
  double stage_best_return = std::numeric_limits<double>::quiet_NaN();
};

// What one refinement did and how faithfully it handed the policy over
// (learner/refinement_fidelity.h). Returns are means over the same
// evaluation episodes (eval.episodes, the evaluation seed) for both
// policies: `collecting` is the encoder that collected the data with the
// decoder it used, `refined` the new decoder with the next stage's freshly
// initialised encoder, before any update.
struct RefinementReport {
  int stage = 0;  // the stage that ended
  int64_t env_steps = 0;
  RefinementFidelity fidelity;  // states == 0: not measured (refine.fidelity_states 0)
  TargetStats targets;          // the decoder's training targets (pre-tanh actions)
  double collecting_stochastic = 0.0, collecting_deterministic = 0.0;
  double refined_stochastic = 0.0, refined_deterministic = 0.0;
  // The episodes' spread behind the two stochastic means: whether a ratio
  // below the goal is a loss or noise (the report's 95% interval).
  double collecting_stochastic_std = 0.0, refined_stochastic_std = 0.0;
  int eval_episodes = 0;  // of each of the four returns above (refine.fidelity_episodes)
  std::vector<double> validation_losses;  // the decoder's, per epoch
  double collect_seconds = 0.0, refine_seconds = 0.0, fidelity_seconds = 0.0;
};

struct EvalPoint {
  int64_t env_steps = 0;
  int stage = 0;
  double deterministic_mean = 0.0;
  double deterministic_std = 0.0;
  double stochastic_mean = 0.0;  // NaN when stochastic evaluation is off
  double stochastic_std = 0.0;   // likewise; not kept in checkpoints
  int episodes = 0;
};

struct TrainingSummary {
  int64_t env_steps = 0;
  int64_t collect_env_steps = 0;  // refinement data, outside the PPO budget
  double seconds = 0.0;
  std::vector<EvalPoint> evaluations;
  EvalPoint final_evaluation;
  int64_t diverged_episodes = 0;
};

struct TrainingLoopOptions {
  v1::TrainConfig config;
  std::string run_dir;          // must exist
  v1::Decoder initial_decoder;  // stage-0 (or frozen) decoder
  std::function<void(const Progress&)> on_progress;
  // Called once before the first iteration, when the run's position is in
  // place (restored by Resume, or the start checkpoint written by Run), with
  // its env steps: from here on the run can take actors' data.
  std::function<void(int64_t env_steps)> on_start;
  // Called as the loop enters each phase: "train" (gathering rollouts and
  // updating), "evaluate", "collect" (refinement pairs), "refine" (waiting
  // for the refiner) and "done". The exporter shows it, so that an alert
  // can tell a long refinement, which makes no PPO update, from a stall.
  std::function<void(const char* phase)> on_phase;
  // Called after each refinement, with what it measured.
  std::function<void(const RefinementReport&)> on_refinement;
  // Called after every checkpoint written to run_dir (the start, periodic,
  // before a refinement, at a stage end; not the one written on SIGTERM).
  std::function<void()> on_checkpoint;
};

class TrainingLoop {
 public:
  TrainingLoop(TrainingLoopOptions options, PpoLearner& learner, ActorGroup& actors,
               Refiner& refiner);

  absl::StatusOr<TrainingSummary> Run();

  // Continues the run that wrote `checkpoint` (from ReadCheckpoint): checks
  // it against options.config (which must equal checkpoint.config) and the
  // schedule, restores the learner, decoder, counters, evaluations and the
  // stage's best snapshot, cuts metrics.jsonl back to the checkpoint, and
  // runs to the end. Nothing changes when the checkpoint is refused
  // (InvalidArgument naming the field).
  absl::StatusOr<TrainingSummary> Resume(const v1::LearnerCheckpoint& checkpoint);

  // The decoder in use (after Run: the one the final encoder trained against).
  const v1::Decoder& decoder() const { return decoder_; }

 private:
  // Where the run is, besides the learner and the decoder: what a
  // checkpoint holds (see LearnerCheckpoint for the meaning of each field).
  struct Position {
    int stage = 0;
    int64_t iteration = 0;
    int64_t next_eval = 0;
    double elapsed_before = 0.0;  // seconds spent before this Run/Resume
    double best_return = -std::numeric_limits<double>::infinity();
    v1::PolicySnapshot best_snapshot;
    TrainingSummary summary;
  };

  // What a cancelled run must still write (see Continue).
  enum class AtExit {
    kNothing,   // the disk already holds the last completed position (or none exists)
    kPosition,  // the live position and learner are that position
    kPending,   // `pending_checkpoint_` holds it (taken before an update that evaluates)
  };

  // Runs from `position`; when cancelled, writes the checkpoint that AtExit says.
  absl::StatusOr<TrainingSummary> Continue(Position position, bool resumed);
  // The loop itself; keeps `pos` and at_exit_ current for Continue.
  absl::StatusOr<TrainingSummary> RunStages(Position& pos, bool resumed,
                                            const std::function<double()>& elapsed);
  v1::LearnerCheckpoint MakeCheckpoint(const Position& position, double elapsed) const;
  absl::Status SaveCheckpoint(const Position& position, double elapsed) const;
  // SaveCheckpoint, and a copy kept as BoundaryCheckpointPath(position.stage).
  absl::Status SaveBoundaryCheckpoint(const Position& position, double elapsed) const;
  // Tells options_.on_phase, if set.
  void EnterPhase(const char* phase) const;
  // Deterministic and (if `stochastic`) stochastic returns of `snapshot`
  // over `episodes` episodes, from the same start states every time.
  absl::StatusOr<EvalPoint> Evaluate(const v1::PolicySnapshot& snapshot, int64_t env_steps,
                                     int stage, bool stochastic, int episodes);
  // The refinement at the end of `pos.stage`: collect with the stage's
  // chosen policy, train a new decoder, measure the hand-over, swap the
  // decoder in. Logs an "refine" row and tells options_.on_refinement.
  absl::Status RefineAfterStage(Position& pos, MetricsLog& log,
                                const std::function<double()>& elapsed);
  v1::PolicySnapshot MakeSnapshot(v1::ActorMode mode) const;

  TrainingLoopOptions options_;
  PpoLearner& learner_;
  ActorGroup& actors_;
  Refiner& refiner_;
  v1::Decoder decoder_;
  int eval_round_ = 0;
  double decoder_validation_loss_ = std::numeric_limits<double>::quiet_NaN();
  AtExit at_exit_ = AtExit::kNothing;
  v1::LearnerCheckpoint pending_checkpoint_;
};

// The decoder kind an algorithm uses (PPO: identity, GoRL-FM: flow,
// GoRL-Diff: diffusion).
v1::DecoderKind DecoderKindFor(v1::Algo algo);

}  // namespace gorl::learner

#endif  // GORL_LEARNER_TRAINING_LOOP_H_
