// How each fuzz target reads its input bytes, in one place so that the
// fuzzers (tests/fuzz/*_fuzzer.cc) and the seed writer (make_seeds.cc) agree:
// a seed is a valid input because it is written by the same layout the
// fuzzer decodes. No LibTorch.
#ifndef GORL_TESTS_FUZZ_FUZZ_INPUTS_H_
#define GORL_TESTS_FUZZ_FUZZ_INPUTS_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "common/message_checks.h"
#include "gorl/v1/config.pb.h"

namespace gorl::fuzz {

// message_checks: an 8-byte header, then one serialised message that the
// fuzzer parses as a Rollout, a RefinementData and an EvalReport in turn.
// The header holds what the learner knows besides the message: the task's
// sizes (1..256 each, as a real task's are small and positive), the
// episodes it asked for (0..65535) and the num_envs the peer claimed at
// Join (any int32: the peer chooses it).
struct MessageChecksInput {
  TaskShape shape;
  int episodes = 0;
  int32_t num_envs = 0;
  std::string message;
};
inline constexpr size_t kMessageChecksHeader = 8;

inline bool DecodeMessageChecksInput(const uint8_t* data, size_t size, MessageChecksInput* input) {
  if (size < kMessageChecksHeader) return false;
  input->shape.obs_size = 1 + data[0];
  input->shape.action_size = 1 + data[1];
  input->episodes = data[2] | (data[3] << 8);
  uint32_t num_envs = 0;
  for (int i = 0; i < 4; ++i) num_envs |= uint32_t{data[4 + i]} << (8 * i);
  std::memcpy(&input->num_envs, &num_envs, sizeof(num_envs));
  input->message.assign(reinterpret_cast<const char*>(data) + kMessageChecksHeader,
                        size - kMessageChecksHeader);
  return true;
}

inline std::string EncodeMessageChecksInput(const MessageChecksInput& input) {
  std::string bytes(kMessageChecksHeader, '\0');
  bytes[0] = static_cast<char>(input.shape.obs_size - 1);
  bytes[1] = static_cast<char>(input.shape.action_size - 1);
  bytes[2] = static_cast<char>(input.episodes & 0xff);
  bytes[3] = static_cast<char>((input.episodes >> 8) & 0xff);
  uint32_t num_envs = 0;
  std::memcpy(&num_envs, &input.num_envs, sizeof(num_envs));
  for (int i = 0; i < 4; ++i) bytes[4 + i] = static_cast<char>((num_envs >> (8 * i)) & 0xff);
  return bytes + input.message;
}

// config: the text of a config file, then the `path=value` override words,
// each after a NUL byte (a command line cannot hold NUL, so it separates
// them unambiguously).
struct ConfigInput {
  std::string text;
  std::vector<std::string> overrides;
};

inline ConfigInput DecodeConfigInput(const uint8_t* data, size_t size) {
  ConfigInput input;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  size_t start = bytes.find('\0');
  input.text = bytes.substr(0, start);
  while (start != std::string::npos) {
    const size_t next = bytes.find('\0', start + 1);
    input.overrides.push_back(
        bytes.substr(start + 1, next == std::string::npos ? std::string::npos : next - start - 1));
    start = next;
  }
  return input;
}

inline std::string EncodeConfigInput(const ConfigInput& input) {
  std::string bytes = input.text;
  for (const std::string& word : input.overrides) bytes += '\0' + word;
  return bytes;
}

// tensor_codec: one serialised message that the fuzzer parses as a
// TensorBundle (decoded into an MLP of these sizes) and as a Decoder (built
// by DecoderModel::FromProto, as an actor builds the learner's decoder).
inline constexpr int kCodecMlpInput = 3;
inline constexpr int kCodecMlpHidden = 4;
inline constexpr int kCodecMlpOutput = 2;

// checkpoint: the bytes of a checkpoint file. The fuzzer restores a
// PpoLearner made with this config and these sizes (small networks, so that
// a seed stays a few KB and an input runs in milliseconds).
inline constexpr int kCheckpointObsSize = 3;
inline constexpr int kCheckpointLatentSize = 2;
inline absl::StatusOr<v1::TrainConfig> CheckpointLearnerConfig() {
  absl::StatusOr<v1::TrainConfig> config = LoadPreset("local");
  if (!config.ok()) return config;
  for (const char* assignment :
       {"encoder.hidden=4", "encoder.critic_hidden=4,4", "learner_threads=1", "rollout.num_envs=4",
        "rollout.unroll_length=3", "ppo.batch_size=4", "ppo.num_minibatches=1",
        "ppo.updates_per_batch=1"}) {
    const absl::Status status = ApplyOverride(assignment, *config);
    if (!status.ok()) return status;
  }
  return config;
}

}  // namespace gorl::fuzz

#endif  // GORL_TESTS_FUZZ_FUZZ_INPUTS_H_
