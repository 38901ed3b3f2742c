// Fuzzes what `gorl train --config FILE path=value ...` does with the user's
// text (runtime/run_config.h BuildTrainConfig: the text rewrite of enum
// names such as algo: "gorl-fm", protobuf's text parser, the overrides
// through reflection, ValidateConfig). Input layout: fuzz_inputs.h. A
// config that is accepted must also survive what the run does with it next:
// written as config.textproto and read back (--resume compares the two),
// validated again, described, sized.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "fuzz_inputs.h"
#include "gorl/v1/config.pb.h"
#include "runtime/run_config.h"

namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

// The config text goes through a file, as with --config, but an in-memory
// one: no disk traffic per input. LoadPreset takes any path with a '/'.
class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("gorl-fuzz-config", 0)) { Require(fd_ >= 0); }
  std::string Write(const std::string& text) {
    Require(ftruncate(fd_, 0) == 0);
    Require(pwrite(fd_, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size()));
    return "/proc/self/fd/" + std::to_string(fd_);
  }

 private:
  int fd_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static MemoryFile* const file = new MemoryFile();
  const gorl::fuzz::ConfigInput input = gorl::fuzz::DecodeConfigInput(data, size);

  // The enum parser on its own, as `--algo WORD` reaches it.
  for (const std::string& word : input.overrides) {
    (void)gorl::ParseEnum<gorl::v1::Algo>(word);
  }

  gorl::runtime::ConfigSource source;
  source.config_file = file->Write(input.text);
  source.overrides = input.overrides;
  const absl::StatusOr<gorl::v1::TrainConfig> config = gorl::runtime::BuildTrainConfig(source);
  if (!config.ok()) return 0;

  Require(gorl::ValidateConfig(*config).ok());
  Require(gorl::EnvStepsPerIteration(*config) > 0);
  (void)gorl::DescribeConfig(*config);
  const absl::StatusOr<gorl::v1::TrainConfig> reread =
      gorl::ParseConfig(gorl::ConfigToText(*config), "config.textproto");
  Require(reread.ok());
  Require(reread->SerializeAsString() == config->SerializeAsString());
  return 0;
}
