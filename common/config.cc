#include "common/config.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/presets.h"

namespace gorl {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Collects parser errors with their line numbers.
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    errors_.push_back(absl::StrCat("line ", line + 1, ":", column + 1, ": ", message));
  }
  std::string Joined() const { return absl::StrJoin(errors_, "; "); }

 private:
  std::vector<std::string> errors_;
};

std::string FieldNames(const Descriptor* descriptor) {
  std::vector<std::string> names;
  for (int i = 0; i < descriptor->field_count(); ++i) names.push_back(descriptor->field(i)->name());
  return absl::StrJoin(names, ", ");
}

absl::Status SetScalar(const std::string& path, const std::string& value,
                       const FieldDescriptor* field, Message* message) {
  if (field->type() == FieldDescriptor::TYPE_STRING) {
    const Reflection* reflection = message->GetReflection();
    if (field->is_repeated()) {
      reflection->AddString(message, field, value);
    } else {
      reflection->SetString(message, field, value);
    }
    return absl::OkStatus();
  }
  if (!google::protobuf::TextFormat::ParseFieldValueFromString(value, field, message)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config override ", path, ": '", value, "' is not a valid ",
                     field->type_name(), " value"));
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status Require(bool ok, const std::string& field, const T& value, const char* rule) {
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("config: ", field, " = ", value, " is invalid: ", rule));
}

}  // namespace

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (const BuiltinPreset& preset : BuiltinPresets()) names.push_back(preset.name);
  return names;
}

absl::StatusOr<v1::TrainConfig> ParseConfig(const std::string& text, const std::string& origin) {
  v1::TrainConfig config;
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &config)) {
    return absl::InvalidArgumentError(absl::StrCat("config ", origin, ": ", errors.Joined()));
  }
  return config;
}

absl::StatusOr<v1::TrainConfig> LoadPreset(const std::string& name_or_path) {
  const bool is_path = name_or_path.find('/') != std::string::npos ||
                       absl::EndsWith(name_or_path, ".textproto");
  if (!is_path) {
    for (const BuiltinPreset& preset : BuiltinPresets()) {
      if (name_or_path == preset.name) return ParseConfig(preset.text, name_or_path);
    }
    return absl::NotFoundError(absl::StrCat("unknown preset '", name_or_path,
                                            "'; built-in presets: ",
                                            absl::StrJoin(PresetNames(), ", "),
                                            " (or give a path to a .textproto file)"));
  }
  std::ifstream file(name_or_path);
  if (!file) return absl::NotFoundError(absl::StrCat("config file not found: ", name_or_path));
  std::stringstream buffer;
  buffer << file.rdbuf();
  return ParseConfig(buffer.str(), name_or_path);
}

absl::Status ApplyOverride(const std::string& assignment, v1::TrainConfig& config) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("config override '", assignment, "' must look like path.to.field=value"));
  }
  const std::string path = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  const std::vector<std::string> parts = absl::StrSplit(path, '.');
  Message* message = &config;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Descriptor* descriptor = message->GetDescriptor();
    const FieldDescriptor* field = descriptor->FindFieldByName(parts[i]);
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config override ", path, ": ", descriptor->name(), " has no field '", parts[i],
          "'; its fields are: ", FieldNames(descriptor)));
    }
    const Reflection* reflection = message->GetReflection();
    const bool last = i + 1 == parts.size();
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (last || field->is_repeated()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "config override ", path, ": '", parts[i], "' is a section; name a field inside it (",
            FieldNames(field->message_type()), ")"));
      }
      message = reflection->MutableMessage(message, field);
      continue;
    }
    if (!last) {
      return absl::InvalidArgumentError(
          absl::StrCat("config override ", path, ": '", parts[i], "' is not a section"));
    }
    if (field->is_repeated()) {
      // Validate on a scratch copy first so a bad element changes nothing.
      std::unique_ptr<Message> scratch(message->New());
      scratch->CopyFrom(*message);
      scratch->GetReflection()->ClearField(scratch.get(), field);
      if (!value.empty()) {
        for (const absl::string_view item : absl::StrSplit(value, ',')) {
          absl::Status status =
              SetScalar(path, std::string(absl::StripAsciiWhitespace(item)), field, scratch.get());
          if (!status.ok()) return status;
        }
      }
      message->CopyFrom(*scratch);
      return absl::OkStatus();
    }
    return SetScalar(path, value, field, message);
  }
  return absl::OkStatus();
}

absl::Status ValidateConfig(const v1::TrainConfig& c) {
  auto check = [](absl::Status status, absl::Status& first) {
    if (first.ok() && !status.ok()) first = status;
  };
  absl::Status first;
  check(Require(c.algo() == "ppo" || c.algo() == "gorl-fm" || c.algo() == "gorl-diff", "algo",
                c.algo(), "must be ppo, gorl-fm or gorl-diff"), first);
  check(Require(c.total_env_steps() > 0, "total_env_steps", c.total_env_steps(), "must be > 0"),
        first);
  const v1::RolloutConfig& r = c.rollout();
  check(Require(r.num_envs() > 0, "rollout.num_envs", r.num_envs(), "must be > 0"), first);
  check(Require(r.unroll_length() > 0, "rollout.unroll_length", r.unroll_length(), "must be > 0"),
        first);
  check(Require(r.num_threads() > 0, "rollout.num_threads", r.num_threads(), "must be > 0"), first);
  const v1::PpoConfig& p = c.ppo();
  check(Require(p.learning_rate() > 0, "ppo.learning_rate", p.learning_rate(), "must be > 0"),
        first);
  check(Require(p.discount() > 0 && p.discount() <= 1, "ppo.discount", p.discount(),
                "must be in (0, 1]"), first);
  check(Require(p.gae_lambda() >= 0 && p.gae_lambda() <= 1, "ppo.gae_lambda", p.gae_lambda(),
                "must be in [0, 1]"), first);
  check(Require(p.clip_epsilon() > 0, "ppo.clip_epsilon", p.clip_epsilon(), "must be > 0"), first);
  check(Require(p.max_grad_norm() >= 0, "ppo.max_grad_norm", p.max_grad_norm(), "must be >= 0"),
        first);
  check(Require(p.prior_penalty() >= 0, "ppo.prior_penalty", p.prior_penalty(), "must be >= 0"),
        first);
  check(Require(p.entropy_cost() >= 0, "ppo.entropy_cost", p.entropy_cost(), "must be >= 0"), first);
  check(Require(p.batch_size() > 0, "ppo.batch_size", p.batch_size(), "must be > 0"), first);
  check(Require(p.num_minibatches() > 0, "ppo.num_minibatches", p.num_minibatches(),
                "must be > 0"), first);
  check(Require(p.updates_per_batch() > 0, "ppo.updates_per_batch", p.updates_per_batch(),
                "must be > 0"), first);
  check(Require(p.reward_scaling() > 0, "ppo.reward_scaling", p.reward_scaling(), "must be > 0"),
        first);
  check(Require(c.encoder().hidden_size() > 0, "encoder.hidden", c.encoder().hidden_size(),
                "needs at least one layer"), first);
  check(Require(c.encoder().critic_hidden_size() > 0, "encoder.critic_hidden",
                c.encoder().critic_hidden_size(), "needs at least one layer"), first);
  check(Require(c.encoder().min_std() > 0 && c.encoder().max_std() > c.encoder().min_std(),
                "encoder.min_std/max_std", c.encoder().min_std(), "need 0 < min_std < max_std"),
        first);
  if (c.algo() != "ppo") {
    check(Require(c.decoder().hidden_size() > 0, "decoder.hidden", c.decoder().hidden_size(),
                  "needs at least one layer"), first);
    check(Require(c.decoder().steps() > 0, "decoder.steps", c.decoder().steps(), "must be > 0"),
          first);
    const v1::RefineConfig& f = c.refine();
    check(Require(f.num_pairs() > 0, "refine.num_pairs", f.num_pairs(), "must be > 0"), first);
    check(Require(f.collect_envs() > 0, "refine.collect_envs", f.collect_envs(), "must be > 0"),
          first);
    check(Require(f.batch_size() > 0, "refine.batch_size", f.batch_size(), "must be > 0"), first);
    check(Require(f.epochs() > 0, "refine.epochs", f.epochs(), "must be > 0"), first);
    check(Require(f.samples_per_pair() > 0, "refine.samples_per_pair", f.samples_per_pair(),
                  "must be > 0"), first);
    check(Require(f.validation_fraction() > 0 && f.validation_fraction() < 1,
                  "refine.validation_fraction", f.validation_fraction(), "must be in (0, 1)"),
          first);
    check(Require(f.inputs() == "prior" || f.inputs() == "encoder", "refine.inputs", f.inputs(),
                  "must be prior or encoder"), first);
  }
  const v1::StageConfig& s = c.stages();
  check(Require(s.fractions_size() > 0, "stages.fractions", s.fractions_size(),
                "needs at least one stage"), first);
  for (double fraction : s.fractions()) {
    check(Require(fraction > 0 && std::isfinite(fraction), "stages.fractions", fraction,
                  "every fraction must be > 0"), first);
  }
  check(Require(s.collect_with() == "best" || s.collect_with() == "final", "stages.collect_with",
                s.collect_with(), "must be best or final"), first);
  check(Require(c.eval().episodes() > 0, "eval.episodes", c.eval().episodes(), "must be > 0"),
        first);
  check(Require(c.eval().every_env_steps() > 0, "eval.every_env_steps", c.eval().every_env_steps(),
                "must be > 0"), first);
  check(Require(c.learner_threads() > 0, "learner_threads", c.learner_threads(), "must be > 0"),
        first);
  check(Require(c.device().empty() || c.device() == "auto" || c.device() == "cpu" ||
                    c.device() == "cuda",
                "device", absl::StrCat("'", c.device(), "'"), "must be auto, cpu or cuda"),
        first);
  check(Require(c.checkpoint_every_iterations() >= 0, "checkpoint_every_iterations",
                c.checkpoint_every_iterations(), "must be >= 0 (0: only at stage ends and exit)"),
        first);
  check(Require(EnvStepsPerIteration(c) % (int64_t{r.num_envs()} * r.unroll_length()) == 0,
                "ppo.batch_size * ppo.num_minibatches", p.batch_size() * p.num_minibatches(),
                "must be a multiple of rollout.num_envs (each env contributes whole unrolls)"),
        first);
  return first;
}

std::string ConfigToText(const v1::TrainConfig& config) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  return text;
}

int64_t EnvStepsPerIteration(const v1::TrainConfig& c) {
  return int64_t{c.ppo().batch_size()} * c.ppo().num_minibatches() * c.rollout().unroll_length();
}

std::string DescribeConfig(const v1::TrainConfig& c) {
  const v1::PpoConfig& p = c.ppo();
  std::string out = absl::StrCat(
      "preset ", c.preset(), ": ", c.algo(), " on ", c.task(), ", seed ", c.seed(), ", ",
      c.total_env_steps(), " env steps in ", c.stages().fractions_size(), " stage(s)\n",
      "  rollout: ", c.rollout().num_envs(), " envs x unroll ", c.rollout().unroll_length(), ", ",
      c.rollout().num_threads(), " actor thread(s)\n",
      "  ppo: ", EnvStepsPerIteration(c), " env steps/iteration, ", p.updates_per_batch(),
      " epochs x ", p.num_minibatches(), " minibatches of ", p.batch_size(), " sequences, lr ",
      p.learning_rate(), ", clip ", p.clip_epsilon(), ", entropy ", p.entropy_cost(),
      ", discount ", p.discount(), ", reward x", p.reward_scaling(), "\n");
  if (c.algo() != "ppo") {
    absl::StrAppend(&out, "  decoder: ", absl::StrJoin(c.decoder().hidden(), "x"), ", ",
                    c.decoder().steps(), " steps; refine: ", c.refine().num_pairs(), " pairs, ",
                    c.refine().epochs(), " epochs, batch ", c.refine().batch_size(), ", inputs ",
                    c.refine().inputs(), "\n");
  }
  absl::StrAppend(&out, "  eval: ", c.eval().episodes(), " episodes every ",
                  c.eval().every_env_steps(), " env steps");
  return out;
}

}  // namespace gorl
