#include "runtime/run_fork.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <system_error>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config.h"
#include "common/metrics_log.h"
#include "common/status_macros.h"
#include "learner/checkpoint.h"
#include "learner/checkpoint_position.h"

namespace gorl::runtime {
namespace {

namespace fs = std::filesystem;
using google::protobuf::FieldDescriptor;

// `config` with every top-level field but `field` cleared.
v1::TrainConfig OnlyField(const v1::TrainConfig& config, const FieldDescriptor* field) {
  v1::TrainConfig only = config;
  const google::protobuf::Reflection* reflection = only.GetReflection();
  std::vector<const FieldDescriptor*> present;
  reflection->ListFields(only, &present);
  for (const FieldDescriptor* other : present) {
    if (other != field) reflection->ClearField(&only, other);
  }
  return only;
}

bool Forkable(const std::string& name) {
  for (const std::string& allowed : ForkableFields()) {
    if (allowed == name) return true;
  }
  return false;
}

// InvalidArgument naming the fields that differ and may not.
absl::Status CheckForkable(const v1::TrainConfig& source, const v1::TrainConfig& fork) {
  std::vector<std::string> refused;
  const google::protobuf::Descriptor* descriptor = v1::TrainConfig::descriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (Forkable(field->name())) continue;
    if (!google::protobuf::util::MessageDifferencer::Equals(OnlyField(source, field),
                                                            OnlyField(fork, field))) {
      refused.push_back(field->name());
    }
  }
  // PPO's settings may change, but the checkpoint's observation normaliser
  // exists only when the run normalised.
  if (source.ppo().normalize_observations() != fork.ppo().normalize_observations()) {
    refused.push_back("ppo.normalize_observations");
  }
  if (refused.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "a fork cannot change ", absl::StrJoin(refused, ", "),
      ": the checkpoint's weights and data were made with them (a fork may change ",
      absl::StrJoin(ForkableFields(), ", "), ", and ppo.* except normalize_observations)"));
}

// Every leaf field of `message` as "path.to.field" -> its value in text
// format (a repeated field as "a,b,c", the override syntax; "(none)" when
// empty), unset fields at their defaults.
void Flatten(const google::protobuf::Message& message, const std::string& prefix,
             std::map<std::string, std::string>& out) {
  const google::protobuf::Descriptor* descriptor = message.GetDescriptor();
  const google::protobuf::Reflection* reflection = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    const std::string path = prefix + field->name();
    std::string value;
    if (field->is_repeated()) {
      std::vector<std::string> items;
      for (int j = 0; j < reflection->FieldSize(message, field); ++j) {
        google::protobuf::TextFormat::PrintFieldValueToString(message, field, j, &value);
        items.push_back(value);
      }
      out[path] = items.empty() ? "(none)" : absl::StrJoin(items, ",");
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      Flatten(reflection->GetMessage(message, field), path + ".", out);
    } else {
      google::protobuf::TextFormat::PrintFieldValueToString(message, field, -1, &value);
      out[path] = value;
    }
  }
}

// "refine.epochs: 60 -> 10; seed: 0 -> 3" ("none" when equal).
std::string Changes(const v1::TrainConfig& source, const v1::TrainConfig& fork) {
  std::map<std::string, std::string> before, after;
  Flatten(source, "", before);
  Flatten(fork, "", after);
  std::vector<std::string> changes;
  for (const auto& [path, value] : before) {
    const std::string& now = after[path];
    if (now != value) changes.push_back(absl::StrCat(path, ": ", value, " -> ", now));
  }
  return changes.empty() ? "none" : absl::StrJoin(changes, "; ");
}

absl::StatusOr<std::string> ReadPrefix(const std::string& path, int64_t bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string text(static_cast<size_t>(bytes), '\0');
  in.read(text.data(), bytes);
  if (in.gcount() != bytes) {
    return absl::DataLossError(
        absl::StrCat(path, " holds ", in.gcount(), " bytes, fewer than its checkpoint's ", bytes));
  }
  return text;
}

// Copies `name` from the source when it exists there.
absl::Status CopyIfPresent(const std::string& from_dir, const std::string& to_dir,
                           const std::string& name) {
  std::error_code error;
  if (!fs::exists(fs::path(from_dir) / name, error)) return absl::OkStatus();
  fs::copy_file(fs::path(from_dir) / name, fs::path(to_dir) / name,
                fs::copy_options::overwrite_existing, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot copy ", from_dir, "/", name, " to ", to_dir, ": ", error.message()));
  }
  return absl::OkStatus();
}

// The source as an absolute path: the fork row outlives the working directory.
std::string SourcePath(const std::string& dir) {
  std::error_code error;
  const fs::path absolute = fs::absolute(dir, error);
  return error ? dir : absolute.lexically_normal().string();
}

bool SameDirectory(const std::string& a, const std::string& b) {
  std::error_code error;
  return fs::exists(b, error) && fs::equivalent(a, b, error);
}

}  // namespace

const std::vector<std::string>& ForkableFields() {
  static const auto* const kFields = new std::vector<std::string>{"preset",
                                                                  "seed",
                                                                  "total_env_steps",
                                                                  "ppo",
                                                                  "first_stage",
                                                                  "decoder",
                                                                  "refine",
                                                                  "stages",
                                                                  "eval",
                                                                  "learner_threads",
                                                                  "checkpoint_every_iterations",
                                                                  "device"};
  return *kFields;
}

absl::StatusOr<ForkPlan> PlanFork(const ForkOptions& options) {
  ForkPlan plan;
  plan.source_dir = options.source_dir;
  plan.overwrite = options.overwrite;
  GORL_ASSIGN_OR_RETURN(plan.source, LoadSavedRun(options.source_dir));
  plan.fork = plan.source;
  v1::TrainConfig& config = plan.fork.config;
  for (const std::string& assignment : options.overrides) {
    GORL_RETURN_IF_ERROR(ApplyOverride(assignment, config));
  }
  GORL_RETURN_IF_ERROR(ValidateConfig(config));
  GORL_RETURN_IF_ERROR(CheckForkable(plan.source.config, config));
  const v1::LearnerCheckpoint& checkpoint = plan.source.checkpoint;
  if (const absl::Status fits = learner::CheckCheckpointPosition(checkpoint, config); !fits.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the fork's schedule does not fit the checkpoint of ", options.source_dir,
                     " (stage ", checkpoint.stage(), ", iteration ", checkpoint.iteration(), ", ",
                     checkpoint.env_steps(), " env steps): ", fits.message()));
  }
  // A changed evaluation period counts from the checkpoint on.
  if (config.eval().every_env_steps() != plan.source.config.eval().every_env_steps()) {
    const int64_t every = config.eval().every_env_steps();
    plan.fork.checkpoint.set_next_eval((checkpoint.env_steps() / every + 1) * every);
  }
  *plan.fork.checkpoint.mutable_config() = config;
  plan.changes = Changes(plan.source.config, config);
  plan.run_dir = options.run_dir.empty() ? DefaultRunDir(config) : options.run_dir;
  if (SameDirectory(options.source_dir, plan.run_dir)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--run_dir ", plan.run_dir,
                     " is the source run: a fork needs its own "
                     "directory (continue the source itself with --resume)"));
  }
  return plan;
}

absl::StatusOr<SavedRun> WriteFork(const ForkPlan& plan) {
  SavedRun fork = plan.fork;
  const v1::LearnerCheckpoint& source = plan.source.checkpoint;
  GORL_ASSIGN_OR_RETURN(std::string metrics,
                        ReadPrefix(plan.source_dir + "/metrics.jsonl", source.metrics_bytes()));
  GORL_RETURN_IF_ERROR(PrepareRunDir(fork.config, plan.run_dir, plan.overwrite));
  // What the checkpoint's stage has seen: decoders 0..stage (decoder k + 1
  // is written by boundary k's refinement) and the policies stages
  // 0..stage-1 ended with. Later files of the source are after its
  // checkpoint and not the fork's history.
  for (int k = 0; k <= source.stage(); ++k) {
    GORL_RETURN_IF_ERROR(
        CopyIfPresent(plan.source_dir, plan.run_dir, absl::StrCat("decoder_stage", k, ".pb")));
    if (k < source.stage()) {
      GORL_RETURN_IF_ERROR(
          CopyIfPresent(plan.source_dir, plan.run_dir, absl::StrCat("policy_stage", k, ".pb")));
    }
  }
  const JsonRow row = JsonRow()
                          .Add("event", "fork")
                          .Add("source", SourcePath(plan.source_dir))
                          .Add("env_steps", source.env_steps())
                          .Add("stage", source.stage())
                          .Add("changes", plan.changes);
  absl::StrAppend(&metrics, row.ToString(), "\n");
  GORL_RETURN_IF_ERROR(learner::WriteFileAtomically(plan.run_dir + "/metrics.jsonl", metrics));
  // The fork's resume keeps the history and the fork row.
  fork.checkpoint.set_metrics_bytes(static_cast<int64_t>(metrics.size()));
  GORL_RETURN_IF_ERROR(learner::SaveRunCheckpoint(fork.checkpoint, plan.run_dir));
  return fork;
}

}  // namespace gorl::runtime
