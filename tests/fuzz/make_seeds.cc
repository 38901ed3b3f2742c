// Writes the committed seed corpus (tests/fuzz/corpus/<target>/): a few
// valid inputs made by the project's own code (a learner's SaveState, a
// module's EncodeModule, a decoder's ToProto, the built-in presets), laid
// out as fuzz_inputs.h says, plus a few edge cases. Deterministic, so
// re-running it changes nothing unless the code or the messages changed:
//
//   build-fuzz/tests/fuzz/gorl_fuzz_seeds tests/fuzz/corpus
#include <sys/stat.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <string>

#include <torch/torch.h>

#include "common/config.h"
#include "common/nn/decoder.h"
#include "common/nn/mlp.h"
#include "common/nn/tensor_codec.h"
#include "common/presets.h"
#include "common/running_normalizer.h"
#include "fuzz_inputs.h"
#include "gorl/v1/checkpoint.pb.h"
#include "gorl/v1/policy.pb.h"
#include "learner/checkpoint.h"
#include "learner/ppo_learner.h"

namespace gorl::fuzz {
namespace {

void Die(const std::string& what) {
  std::cerr << "make_seeds: " << what << "\n";
  std::exit(1);
}

void Write(const std::string& dir, const std::string& name, const std::string& bytes) {
  mkdir(dir.c_str(), 0755);
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out.good()) Die("cannot write " + dir + "/" + name);
}

template <typename Field>
void Fill(Field* field, int count, float start) {
  for (int i = 0; i < count; ++i) field->Add(start + 0.25f * i);
}

// --- message_checks -------------------------------------------------------

v1::Rollout ValidRollout(const TaskShape& shape, int num_envs, int unroll) {
  v1::Rollout r;
  r.set_encoder_version(3);
  r.set_num_envs(num_envs);
  r.set_unroll_length(unroll);
  r.set_obs_size(shape.obs_size);
  r.set_latent_size(shape.action_size);
  const int tn = num_envs * unroll;
  Fill(r.mutable_observations(), (tn + num_envs) * shape.obs_size, -1.0f);
  Fill(r.mutable_latents(), tn * shape.action_size, 0.5f);
  Fill(r.mutable_log_probs(), tn, -2.0f);
  Fill(r.mutable_rewards(), tn, 0.0f);
  for (int i = 0; i < tn; ++i) {
    r.add_terminated(i == tn - 1);
    r.add_truncated(false);
  }
  r.add_episode_returns(12.5f);
  return r;
}

void MessageChecksSeeds(const std::string& dir) {
  MessageChecksInput input;
  input.shape = {3, 2};
  input.num_envs = 2;
  input.episodes = 4;

  v1::Rollout rollout = ValidRollout(input.shape, 2, 3);
  input.message = rollout.SerializeAsString();
  Write(dir, "rollout_valid", EncodeMessageChecksInput(input));
  rollout.set_rewards(1, std::numeric_limits<float>::quiet_NaN());
  input.message = rollout.SerializeAsString();
  Write(dir, "rollout_nan_reward", EncodeMessageChecksInput(input));

  // Declared sizes that would overflow a product of them.
  v1::Rollout huge = ValidRollout(input.shape, 2, 3);
  huge.set_num_envs(std::numeric_limits<int32_t>::max());
  huge.set_unroll_length(std::numeric_limits<int32_t>::max());
  MessageChecksInput huge_input = input;
  huge_input.shape = {256, 256};
  huge_input.num_envs = std::numeric_limits<int32_t>::max();
  huge.set_obs_size(256);
  huge.set_latent_size(256);
  huge_input.message = huge.SerializeAsString();
  Write(dir, "rollout_huge_sizes", EncodeMessageChecksInput(huge_input));

  v1::RefinementData data;
  data.set_obs_size(3);
  data.set_action_size(2);
  Fill(data.mutable_observations(), 4 * 3, -1.0f);
  Fill(data.mutable_actions(), 4 * 2, 0.1f);
  Fill(data.mutable_latents(), 4 * 2, 0.2f);
  input.message = data.SerializeAsString();
  Write(dir, "refinement_valid", EncodeMessageChecksInput(input));
  data.mutable_observations()->RemoveLast();
  input.message = data.SerializeAsString();
  Write(dir, "refinement_ragged", EncodeMessageChecksInput(input));

  v1::EvalReport report;
  report.set_encoder_version(7);
  Fill(report.mutable_episode_returns(), 4, 100.0f);
  report.set_diverged_episodes(1);
  input.message = report.SerializeAsString();
  Write(dir, "eval_valid", EncodeMessageChecksInput(input));
  report.set_diverged_episodes(5);
  input.message = report.SerializeAsString();
  Write(dir, "eval_diverged_too_many", EncodeMessageChecksInput(input));
}

// --- tensor_codec ---------------------------------------------------------

void TensorCodecSeeds(const std::string& dir) {
  nn::MlpOptions options;
  options.input_size = kCodecMlpInput;
  options.hidden = {kCodecMlpHidden};
  options.output_size = kCodecMlpOutput;
  nn::Mlp mlp(options, nn::MakeGenerator(2));
  v1::TensorBundle bundle = nn::EncodeModule(*mlp);
  Write(dir, "bundle_valid", bundle.SerializeAsString());
  v1::TensorBundle nan = bundle;
  nan.mutable_tensors(0)->set_values(0, std::numeric_limits<float>::infinity());
  Write(dir, "bundle_infinite_value", nan.SerializeAsString());
  v1::TensorBundle twice = bundle;
  *twice.add_tensors() = bundle.tensors(0);
  Write(dir, "bundle_duplicate", twice.SerializeAsString());
  v1::TensorBundle reshaped = bundle;
  reshaped.mutable_tensors(0)->set_shape(0, 1 << 30);
  Write(dir, "bundle_wrong_shape", reshaped.SerializeAsString());

  v1::DecoderConfig config;
  config.add_hidden(4);
  config.set_steps(2);
  const RunningNormalizer normalizer(3);
  for (const v1::DecoderKind kind : {v1::DECODER_KIND_FLOW, v1::DECODER_KIND_DIFFUSION}) {
    const auto decoder =
        nn::DecoderModel::NewTrainable(kind, 3, 2, config, normalizer, nn::MakeGenerator(3));
    Write(dir, std::string("decoder_") + v1::DecoderKind_Name(kind),
          decoder->ToProto(1).SerializeAsString());
  }
  const auto identity = nn::DecoderModel::Identity(v1::DECODER_KIND_IDENTITY, 3, 2, config);
  Write(dir, "decoder_identity", identity->ToProto(0).SerializeAsString());
  // Widths that no weights could match: must be refused before building.
  v1::Decoder wide = nn::DecoderModel::NewTrainable(v1::DECODER_KIND_FLOW, 3, 2, config, normalizer,
                                                    nn::MakeGenerator(3))
                         ->ToProto(1);
  wide.set_hidden(0, 1 << 30);
  Write(dir, "decoder_huge_width", wide.SerializeAsString());
}

// --- config ---------------------------------------------------------------

void ConfigSeeds(const std::string& dir) {
  for (const BuiltinPreset& preset : BuiltinPresets()) {
    Write(dir, std::string("preset_") + preset.name, EncodeConfigInput({preset.text, {}}));
  }
  const std::string local = BuiltinPresets().front().text;
  Write(dir, "local_overrides",
        EncodeConfigInput({local,
                           {"algo=ppo", "encoder.hidden=64,64", "ppo.clip_epsilon=0.2",
                            "stages.collect_with=final", "device=cpu"}}));
  Write(dir, "minimal_enum_names",
        EncodeConfigInput({"algo: \"gorl-fm\"\nstages { collect_with: \"best\" }\n"
                           "refine { inputs: \"prior\" }\n",
                           {"total_env_steps=1000"}}));
  Write(dir, "zero_envs", EncodeConfigInput({local, {"rollout.num_envs=0"}}));
  Write(dir, "negative_width", EncodeConfigInput({local, {"encoder.hidden=-5"}}));
  Write(dir, "iteration_overflow",
        EncodeConfigInput(
            {local, {"ppo.batch_size=65536", "ppo.num_minibatches=65536", "rollout.num_envs=7"}}));
  Write(dir, "empty", "");
}

// --- checkpoint -----------------------------------------------------------

void CheckpointSeeds(const std::string& dir) {
  const absl::StatusOr<v1::TrainConfig> config = CheckpointLearnerConfig();
  if (!config.ok()) Die(config.status().ToString());
  auto learner = learner::PpoLearner::Create(*config, kCheckpointObsSize, kCheckpointLatentSize);
  if (!learner.ok()) Die(learner.status().ToString());
  // One update, so that the Adam states and the normaliser hold something.
  v1::Rollout rollout = ValidRollout({kCheckpointObsSize, kCheckpointLatentSize}, 4, 3);
  rollout.set_encoder_version((*learner)->encoder_version());
  const auto updated = (*learner)->Update({rollout});
  if (!updated.ok()) Die(updated.status().ToString());
  v1::LearnerCheckpoint checkpoint;
  *checkpoint.mutable_config() = *config;
  checkpoint.set_stage(0);
  checkpoint.set_iteration(0);
  checkpoint.set_next_eval(1000);
  checkpoint.mutable_decoder()->set_kind(v1::DECODER_KIND_IDENTITY);
  *checkpoint.mutable_learner() = (*learner)->SaveState();

  // Through WriteCheckpoint, so the seed carries a valid version and checksum.
  const std::string path = dir + "/checkpoint_valid";
  mkdir(dir.c_str(), 0755);
  if (!learner::WriteCheckpoint(checkpoint, path).ok()) Die("cannot write " + path);
  std::ifstream in(path, std::ios::binary);
  const std::string valid((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  Write(dir, "checkpoint_truncated", valid.substr(0, valid.size() / 2));
  std::string flipped = valid;
  flipped[flipped.size() / 2] ^= 0x10;
  Write(dir, "checkpoint_bit_flip", flipped);
  v1::LearnerCheckpoint negative = checkpoint;
  negative.mutable_learner()->mutable_normalizer()->set_m2(0, -1.0);
  Write(dir, "checkpoint_negative_m2", negative.SerializeAsString());
  v1::LearnerCheckpoint adam = checkpoint;
  adam.mutable_learner()->mutable_encoder_adam()->add_steps(0);
  Write(dir, "checkpoint_adam_mismatch", adam.SerializeAsString());
}

}  // namespace
}  // namespace gorl::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: gorl_fuzz_seeds CORPUS_DIR (tests/fuzz/corpus)\n";
    return 2;
  }
  torch::set_num_threads(1);
  const std::string root = argv[1];
  mkdir(root.c_str(), 0755);
  gorl::fuzz::MessageChecksSeeds(root + "/message_checks");
  gorl::fuzz::TensorCodecSeeds(root + "/tensor_codec");
  gorl::fuzz::ConfigSeeds(root + "/config");
  gorl::fuzz::CheckpointSeeds(root + "/checkpoint");
  return 0;
}
