// Whether a checkpoint's position (stage, iteration, counters) fits a run
// configuration's stage schedule: what `gorl train --resume` and
// `gorl train --fork` must know before they continue from it. The weights
// are checked later, by PpoLearner::RestoreState.
#ifndef GORL_LEARNER_CHECKPOINT_POSITION_H_
#define GORL_LEARNER_CHECKPOINT_POSITION_H_

#include "absl/status/status.h"
#include "gorl/v1/checkpoint.pb.h"
#include "gorl/v1/config.pb.h"

namespace gorl::learner {

// InvalidArgument naming what does not fit: the format version, a stage or
// iteration outside the schedule of `config`, env_steps that another
// iteration size or schedule would give, counters below zero, a decoder
// without a kind, evaluations after the checkpoint. Ignores
// checkpoint.config(): a fork continues under another configuration.
absl::Status CheckCheckpointPosition(const v1::LearnerCheckpoint& checkpoint,
                                     const v1::TrainConfig& config);

}  // namespace gorl::learner

#endif  // GORL_LEARNER_CHECKPOINT_POSITION_H_
