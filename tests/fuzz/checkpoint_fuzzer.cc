// Fuzzes the path `gorl train --resume` takes on a damaged checkpoint file:
// learner/checkpoint.h ReadCheckpoint on a file holding the input bytes,
// then PpoLearner::RestoreState on what it parsed.
//
// A random change almost never passes the checkpoint's checksum, so the
// restore would be out of the fuzzer's reach. Hence two steps per input:
//   1. ReadCheckpoint on the raw bytes, as they are (must refuse or accept
//      cleanly);
//   2. if the bytes parse as a LearnerCheckpoint, WriteCheckpoint stamps a
//      valid version and checksum (a file a buggy or hostile writer could
//      produce), ReadCheckpoint must then accept it, and its learner state
//      goes to RestoreState of a learner made with
//      fuzz_inputs.h CheckpointLearnerConfig(). RestoreState promises that a
//      refused state leaves the learner as it was, and that an accepted one
//      can be saved and restored again; both are checked.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "fuzz_inputs.h"
#include "gorl/v1/checkpoint.pb.h"
#include "learner/checkpoint.h"
#include "learner/ppo_learner.h"

namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

// Files under /dev/shm when there is one: WriteCheckpoint fsyncs, which is
// free on tmpfs and costs milliseconds per input on a disk.
struct Scratch {
  std::string dir;
  std::string raw;      // the input bytes, as they are
  std::string stamped;  // the parsed checkpoint, written by WriteCheckpoint

  Scratch() {
    std::string pattern = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    if (const char* tmp = getenv("TMPDIR"); tmp != nullptr && access("/dev/shm", W_OK) != 0) {
      pattern = tmp;
    }
    pattern += "/gorl-fuzz-checkpoint.XXXXXX";
    Require(mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    raw = dir + "/raw.pb";
    stamped = dir + "/checkpoint.pb";
  }
};

Scratch* scratch = nullptr;

void RemoveScratch() {
  if (scratch == nullptr) return;
  std::remove(scratch->raw.c_str());
  std::remove(scratch->stamped.c_str());
  std::remove((scratch->stamped + ".tmp").c_str());
  rmdir(scratch->dir.c_str());
}

gorl::learner::PpoLearner& Learner() {
  static gorl::learner::PpoLearner* const learner = [] {
    const absl::StatusOr<gorl::v1::TrainConfig> config = gorl::fuzz::CheckpointLearnerConfig();
    Require(config.ok());
    auto created = gorl::learner::PpoLearner::Create(*config, gorl::fuzz::kCheckpointObsSize,
                                                     gorl::fuzz::kCheckpointLatentSize);
    Require(created.ok());
    return created->release();
  }();
  return *learner;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  scratch = new Scratch();
  std::atexit(RemoveScratch);
  Learner();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  {
    std::ofstream out(scratch->raw, std::ios::binary | std::ios::trunc);
    out << bytes;
    Require(out.good());
  }
  (void)gorl::learner::ReadCheckpoint(scratch->raw);

  gorl::v1::LearnerCheckpoint parsed;
  if (!parsed.ParseFromString(bytes)) return 0;
  Require(gorl::learner::WriteCheckpoint(parsed, scratch->stamped).ok());
  const absl::StatusOr<gorl::v1::LearnerCheckpoint> checkpoint =
      gorl::learner::ReadCheckpoint(scratch->stamped);
  Require(checkpoint.ok());

  gorl::learner::PpoLearner& learner = Learner();
  const std::string before = learner.SaveState().SerializeAsString();
  if (!learner.RestoreState(checkpoint->learner()).ok()) {
    Require(learner.SaveState().SerializeAsString() == before);
    return 0;
  }
  Require(learner.RestoreState(learner.SaveState()).ok());
  return 0;
}
