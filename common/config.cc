#include "common/config.h"

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/message_checks.h"
#include "common/presets.h"

namespace gorl {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
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
  names.reserve(descriptor->field_count());
  for (int i = 0; i < descriptor->field_count(); ++i) names.push_back(descriptor->field(i)->name());
  return absl::StrJoin(names, ", ");
}

absl::Status SetScalar(const std::string& path, const std::string& value,
                       const FieldDescriptor* field, Message* message) {
  const Reflection* reflection = message->GetReflection();
  if (field->type() == FieldDescriptor::TYPE_STRING) {
    if (field->is_repeated()) {
      reflection->AddString(message, field, value);
    } else {
      reflection->SetString(message, field, value);
    }
    return absl::OkStatus();
  }
  if (field->type() == FieldDescriptor::TYPE_ENUM) {
    absl::StatusOr<const EnumValueDescriptor*> parsed =
        ParseEnumUserName(*field->enum_type(), value);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config override ", path, ": ", parsed.status().message()));
    }
    if (field->is_repeated()) {
      reflection->AddEnum(message, field, *parsed);
    } else {
      reflection->SetEnum(message, field, *parsed);
    }
    return absl::OkStatus();
  }
  if (!google::protobuf::TextFormat::ParseFieldValueFromString(value, field, message)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config override ", path, ": '", value, "' is not a valid ", field->type_name(), " value"));
  }
  return absl::OkStatus();
}

// Enum fields by name, anywhere in a TrainConfig (names are unique there).
void CollectEnumFields(const Descriptor* descriptor,
                       std::map<std::string, const FieldDescriptor*>& fields) {
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->type() == FieldDescriptor::TYPE_ENUM) fields[field->name()] = field;
    if (field->type() == FieldDescriptor::TYPE_MESSAGE) {
      CollectEnumFields(field->message_type(), fields);
    }
  }
}

// The byte offset of (line, column) as the protobuf tokenizer counts them
// (columns expand tabs to multiples of 8).
size_t OffsetOf(const std::vector<size_t>& line_starts, const std::string& text, int line,
                int column) {
  size_t offset = line_starts[line];
  for (int col = 0; col < column && offset < text.size(); ++offset) {
    col = text[offset] == '\t' ? col + 8 - col % 8 : col + 1;
  }
  return offset;
}

// Rewrites `field: "user-name"` of enum fields into `field: VALUE_NAME`, so
// that the text-format parser accepts the names users type. Comments and
// other strings are left alone (the tokenizer skips comments).
absl::StatusOr<std::string> RewriteEnumNames(const std::string& text, const std::string& origin) {
  static const auto* const kEnumFields = [] {
    auto* fields = new std::map<std::string, const FieldDescriptor*>();
    CollectEnumFields(v1::TrainConfig::descriptor(), *fields);
    return fields;
  }();
  google::protobuf::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  ErrorCollector errors;
  google::protobuf::io::Tokenizer tokenizer(&input, &errors);
  tokenizer.set_comment_style(google::protobuf::io::Tokenizer::SH_COMMENT_STYLE);
  using Token = google::protobuf::io::Tokenizer::Token;
  std::vector<Token> tokens;
  while (tokenizer.Next()) tokens.push_back(tokenizer.current());
  // (offset, length, replacement), in order.
  std::vector<std::tuple<size_t, size_t, std::string>> edits;
  std::vector<size_t> line_starts = {0};
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') line_starts.push_back(i + 1);
  }
  for (size_t i = 0; i + 2 < tokens.size(); ++i) {
    if (tokens[i].type != google::protobuf::io::Tokenizer::TYPE_IDENTIFIER ||
        tokens[i + 1].text != ":" ||
        tokens[i + 2].type != google::protobuf::io::Tokenizer::TYPE_STRING) {
      continue;
    }
    auto field = kEnumFields->find(tokens[i].text);
    if (field == kEnumFields->end()) continue;
    std::string name;
    google::protobuf::io::Tokenizer::ParseString(tokens[i + 2].text, &name);
    absl::StatusOr<const EnumValueDescriptor*> value =
        ParseEnumUserName(*field->second->enum_type(), name);
    if (!value.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("config ", origin, ": line ",
                                                     tokens[i + 2].line + 1, ": ", field->first,
                                                     ": ", value.status().message()));
    }
    edits.emplace_back(OffsetOf(line_starts, text, tokens[i + 2].line, tokens[i + 2].column),
                       tokens[i + 2].text.size(), (*value)->name());
  }
  std::string out = text;
  for (auto it = edits.rbegin(); it != edits.rend(); ++it) {
    out.replace(std::get<0>(*it), std::get<1>(*it), std::get<2>(*it));
  }
  return out;
}

// Collects the first failed check; later ones are skipped.
class Checks {
 public:
  template <typename T>
  void Require(bool ok, const std::string& field, const T& value, absl::string_view rule) {
    if (ok || !first_.ok()) return;
    first_ = absl::InvalidArgumentError(
        absl::StrCat("config: ", field, " = ", value, " is invalid: ", rule));
  }
  void Add(const absl::Status& status) {
    if (first_.ok()) first_ = status;
  }
  absl::Status status() const { return first_; }

 private:
  absl::Status first_;
};

void CheckLayers(Checks& check, const google::protobuf::RepeatedField<int32_t>& widths,
                 const std::string& field) {
  check.Require(!widths.empty(), field, widths.size(), "needs at least one layer");
  for (int width : widths) check.Require(width > 0, field, width, "every width must be > 0");
}

}  // namespace

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (const BuiltinPreset& preset : BuiltinPresets()) names.push_back(preset.name);
  return names;
}

std::string EnumUserName(const EnumValueDescriptor& value) {
  // ALGO_GORL_FM of enum Algo -> GORL_FM -> gorl-fm.
  std::string prefix;
  for (char c : value.type()->name()) {
    if (absl::ascii_isupper(c) && !prefix.empty()) prefix += '_';
    prefix += absl::ascii_toupper(c);
  }
  absl::string_view name = value.name();
  absl::ConsumePrefix(&name, prefix + "_");
  return absl::StrReplaceAll(absl::AsciiStrToLower(name), {{"_", "-"}});
}

absl::StatusOr<const EnumValueDescriptor*> ParseEnumUserName(const EnumDescriptor& type,
                                                             absl::string_view name) {
  std::vector<std::string> valid;
  for (int i = 0; i < type.value_count(); ++i) {
    const EnumValueDescriptor* value = type.value(i);
    if (value->number() == 0 && absl::EndsWith(value->name(), "_UNSPECIFIED")) continue;
    if (name == EnumUserName(*value) || name == value->name()) return value;
    valid.push_back(EnumUserName(*value));
  }
  return absl::InvalidArgumentError(absl::StrCat("'", name, "' is not a valid ",
                                                 absl::AsciiStrToLower(type.name()),
                                                 "; valid: ", absl::StrJoin(valid, ", ")));
}

absl::StatusOr<v1::TrainConfig> ParseConfig(const std::string& raw_text,
                                            const std::string& origin) {
  absl::StatusOr<std::string> text = RewriteEnumNames(raw_text, origin);
  if (!text.ok()) return text.status();
  v1::TrainConfig config;
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(*text, &config)) {
    return absl::InvalidArgumentError(absl::StrCat("config ", origin, ": ", errors.Joined()));
  }
  return config;
}

absl::StatusOr<v1::TrainConfig> LoadPreset(const std::string& name_or_path) {
  const bool is_path =
      name_or_path.find('/') != std::string::npos || absl::EndsWith(name_or_path, ".textproto");
  if (!is_path) {
    for (const BuiltinPreset& preset : BuiltinPresets()) {
      if (name_or_path == preset.name) return ParseConfig(preset.text, name_or_path);
    }
    return absl::NotFoundError(
        absl::StrCat("unknown preset '", name_or_path, "'; built-in presets: ",
                     absl::StrJoin(PresetNames(), ", "), " (or give a path to a .textproto file)"));
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
      return absl::InvalidArgumentError(
          absl::StrCat("config override ", path, ": ", descriptor->name(), " has no field '",
                       parts[i], "'; its fields are: ", FieldNames(descriptor)));
    }
    const Reflection* reflection = message->GetReflection();
    const bool last = i + 1 == parts.size();
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (last || field->is_repeated()) {
        return absl::InvalidArgumentError(absl::StrCat("config override ", path, ": '", parts[i],
                                                       "' is a section; name a field inside it (",
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

namespace {

// The fpo or dppo section of a run whose algo is fpo or dppo.
void CheckFlowBaseline(Checks& check, const v1::TrainConfig& c) {
  const bool fpo = c.algo() == v1::ALGO_FPO;
  const std::string name = fpo ? "fpo" : "dppo";
  const v1::FlowBaselineConfig& b = FlowBaselineSection(c);
  check.Require(b.learning_rate() > 0, name + ".learning_rate", b.learning_rate(), "must be > 0");
  check.Require(b.clip_epsilon() > 0, name + ".clip_epsilon", b.clip_epsilon(), "must be > 0");
  check.Require(b.max_grad_norm() >= 0, name + ".max_grad_norm", b.max_grad_norm(),
                "must be >= 0 (0: off)");
  CheckLayers(check, b.hidden(), name + ".hidden");
  check.Require(b.steps() > 0 && b.steps() <= kMaxDppoSteps, name + ".steps", b.steps(),
                absl::StrCat("must be in 1..", kMaxDppoSteps));
  check.Require(b.velocity_scale() > 0 && b.velocity_scale() <= 1e6, name + ".velocity_scale",
                b.velocity_scale(), "must be in (0, 1e6]");
  if (fpo) {
    check.Require(b.draws() > 0 && b.draws() <= kMaxFpoDraws, "fpo.draws", b.draws(),
                  absl::StrCat("must be in 1..", kMaxFpoDraws));
    check.Require(b.log_ratio_clip() > 0, "fpo.log_ratio_clip", b.log_ratio_clip(), "must be > 0");
  } else {
    check.Require(b.sigma() > 0 && std::isfinite(b.sigma()), "dppo.sigma", b.sigma(),
                  "must be > 0");
  }
}

}  // namespace

absl::Status ValidateLearnerConfig(const v1::TrainConfig& c) {
  Checks check;
  check.Require(c.algo() != v1::ALGO_UNSPECIFIED && v1::Algo_IsValid(c.algo()), "algo",
                EnumUserName(c.algo()), "must be ppo, gorl-fm, gorl-diff, fpo or dppo");
  const v1::PpoConfig& p = c.ppo();
  check.Require(p.learning_rate() > 0, "ppo.learning_rate", p.learning_rate(), "must be > 0");
  check.Require(p.discount() > 0 && p.discount() <= 1, "ppo.discount", p.discount(),
                "must be in (0, 1]");
  check.Require(p.gae_lambda() >= 0 && p.gae_lambda() <= 1, "ppo.gae_lambda", p.gae_lambda(),
                "must be in [0, 1]");
  check.Require(p.clip_epsilon() > 0, "ppo.clip_epsilon", p.clip_epsilon(), "must be > 0");
  check.Require(p.max_grad_norm() >= 0, "ppo.max_grad_norm", p.max_grad_norm(), "must be >= 0");
  check.Require(p.prior_penalty() >= 0, "ppo.prior_penalty", p.prior_penalty(), "must be >= 0");
  check.Require(p.entropy_cost() >= 0, "ppo.entropy_cost", p.entropy_cost(), "must be >= 0");
  check.Require(p.batch_size() > 0, "ppo.batch_size", p.batch_size(), "must be > 0");
  check.Require(p.num_minibatches() > 0, "ppo.num_minibatches", p.num_minibatches(), "must be > 0");
  check.Require(p.updates_per_batch() > 0, "ppo.updates_per_batch", p.updates_per_batch(),
                "must be > 0");
  check.Require(p.reward_scaling() > 0, "ppo.reward_scaling", p.reward_scaling(), "must be > 0");
  const v1::PpoStageOverrides& first = c.first_stage();
  check.Require(!first.has_clip_epsilon() || first.clip_epsilon() > 0, "first_stage.clip_epsilon",
                first.clip_epsilon(), "must be > 0");
  check.Require(!first.has_max_grad_norm() || first.max_grad_norm() >= 0,
                "first_stage.max_grad_norm", first.max_grad_norm(), "must be >= 0");
  check.Require(!first.has_prior_penalty() || first.prior_penalty() >= 0,
                "first_stage.prior_penalty", first.prior_penalty(), "must be >= 0");
  CheckLayers(check, c.encoder().hidden(), "encoder.hidden");
  CheckLayers(check, c.encoder().critic_hidden(), "encoder.critic_hidden");
  check.Require(c.encoder().min_std() > 0 && c.encoder().max_std() > c.encoder().min_std(),
                "encoder.min_std/max_std",
                absl::StrCat(c.encoder().min_std(), "/", c.encoder().max_std()),
                "need 0 < min_std < max_std");
  if (IsFlowBaseline(c.algo())) CheckFlowBaseline(check, c);
  check.Require(c.learner_threads() > 0, "learner_threads", c.learner_threads(), "must be > 0");
  check.Require(v1::Device_IsValid(c.device()), "device", static_cast<int>(c.device()),
                "must be auto, cpu or cuda");
  return check.status();
}

absl::Status ValidateRefineConfig(const v1::DecoderConfig& d, const v1::RefineConfig& f) {
  Checks check;
  CheckLayers(check, d.hidden(), "decoder.hidden");
  check.Require(d.steps() > 0, "decoder.steps", d.steps(), "must be > 0");
  check.Require(v1::DiffusionPrediction_IsValid(d.diffusion_prediction()),
                "decoder.diffusion_prediction", EnumUserName(d.diffusion_prediction()),
                "must be epsilon or v");
  check.Require(f.batch_size() > 0, "refine.batch_size", f.batch_size(), "must be > 0");
  check.Require(f.learning_rate() > 0, "refine.learning_rate", f.learning_rate(), "must be > 0");
  check.Require(f.epochs() > 0, "refine.epochs", f.epochs(), "must be > 0");
  check.Require(f.samples_per_pair() > 0, "refine.samples_per_pair", f.samples_per_pair(),
                "must be > 0");
  // A held-out split is what picks the best weights and stops early.
  check.Require(f.validation_fraction() > 0 && f.validation_fraction() < 1,
                "refine.validation_fraction", f.validation_fraction(), "must be in (0, 1)");
  check.Require(f.patience() >= 0, "refine.patience", f.patience(), "must be >= 0");
  check.Require(v1::RefineInputs_IsValid(f.inputs()), "refine.inputs", EnumUserName(f.inputs()),
                "must be prior or encoder");
  check.Require(f.fidelity_states() >= 0, "refine.fidelity_states", f.fidelity_states(),
                "must be >= 0 (0: no fidelity measurement)");
  // A standard deviation and a distribution distance need two samples.
  check.Require(f.fidelity_states() == 0 || f.fidelity_samples() >= 2, "refine.fidelity_samples",
                f.fidelity_samples(), "must be >= 2 when refine.fidelity_states > 0");
  check.Require(f.target_clip() >= 0 && std::isfinite(f.target_clip()), "refine.target_clip",
                f.target_clip(), "must be >= 0 and finite (0: targets not clamped)");
  check.Require(f.fidelity_episodes() >= 0, "refine.fidelity_episodes", f.fidelity_episodes(),
                "must be >= 0 (0: eval.episodes)");
  return check.status();
}

absl::Status ValidateConfig(const v1::TrainConfig& c) {
  Checks check;
  check.Add(ValidateLearnerConfig(c));
  check.Require(c.total_env_steps() > 0, "total_env_steps", c.total_env_steps(), "must be > 0");
  const v1::RolloutConfig& r = c.rollout();
  check.Require(r.num_envs() > 0, "rollout.num_envs", r.num_envs(), "must be > 0");
  check.Require(r.unroll_length() > 0, "rollout.unroll_length", r.unroll_length(), "must be > 0");
  check.Require(r.num_threads() > 0, "rollout.num_threads", r.num_threads(), "must be > 0");
  if (HasDecoder(c.algo())) {
    check.Add(ValidateRefineConfig(c.decoder(), c.refine()));
    const v1::RefineConfig& f = c.refine();
    check.Require(f.num_pairs() > 0, "refine.num_pairs", f.num_pairs(), "must be > 0");
    check.Require(f.collect_envs() > 0, "refine.collect_envs", f.collect_envs(), "must be > 0");
  }
  const v1::StageConfig& s = c.stages();
  check.Require(s.fractions_size() > 0, "stages.fractions", s.fractions_size(),
                "needs at least one stage");
  for (double fraction : s.fractions()) {
    check.Require(fraction > 0 && std::isfinite(fraction), "stages.fractions", fraction,
                  "every fraction must be > 0");
  }
  check.Require(
      s.collect_with() != v1::COLLECT_WITH_UNSPECIFIED && v1::CollectWith_IsValid(s.collect_with()),
      "stages.collect_with", EnumUserName(s.collect_with()), "must be best or final");
  check.Require(!s.reinit_to_prior() || s.reinit_encoder(), "stages.reinit_to_prior", "true",
                "needs stages.reinit_encoder = true (no encoder is re-initialised without it)");
  check.Require(c.eval().episodes() > 0, "eval.episodes", c.eval().episodes(), "must be > 0");
  check.Require(c.eval().every_env_steps() > 0, "eval.every_env_steps", c.eval().every_env_steps(),
                "must be > 0");
  check.Require(c.checkpoint_every_iterations() >= 0, "checkpoint_every_iterations",
                c.checkpoint_every_iterations(), "must be >= 0 (0: only at stage ends and exit)");
  // Only once the sizes are known to be positive (no division by zero).
  if (check.status().ok()) {
    const int64_t per_round = int64_t{r.num_envs()} * r.unroll_length();
    const v1::PpoConfig& p = c.ppo();
    const int64_t sequences = int64_t{p.batch_size()} * p.num_minibatches();
    // Each factor is < 2^31, so only the product with the unroll length
    // (EnvStepsPerIteration) can overflow int64.
    int64_t steps = 0;
    if (__builtin_mul_overflow(sequences, int64_t{r.unroll_length()}, &steps)) {
      check.Require(false, "ppo.batch_size * ppo.num_minibatches", sequences,
                    "times rollout.unroll_length overflows 64 bits");
    } else {
      check.Require(steps % per_round == 0, "ppo.batch_size * ppo.num_minibatches", sequences,
                    "must be a multiple of rollout.num_envs (each env contributes whole unrolls)");
    }
  }
  return check.status();
}

std::string ConfigToText(const v1::TrainConfig& config) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  return text;
}

int64_t EnvStepsPerIteration(const v1::TrainConfig& c) {
  return int64_t{c.ppo().batch_size()} * c.ppo().num_minibatches() * c.rollout().unroll_length();
}

int FidelityEpisodes(const v1::TrainConfig& c) {
  return c.refine().fidelity_episodes() > 0 ? c.refine().fidelity_episodes() : c.eval().episodes();
}

std::string DescribeConfig(const v1::TrainConfig& c) {
  const v1::PpoConfig& p = c.ppo();
  std::string out = absl::StrCat(
      "preset ", c.preset(), ": ", EnumUserName(c.algo()), " on ", c.task(), ", seed ", c.seed(),
      ", ", c.total_env_steps(), " env steps in ",
      HasDecoder(c.algo()) ? c.stages().fractions_size() : 1, " stage(s)\n",
      "  rollout: ", c.rollout().num_envs(), " envs x unroll ", c.rollout().unroll_length(), ", ",
      c.rollout().num_threads(), " actor thread(s)\n", "  ppo: ", EnvStepsPerIteration(c),
      " env steps/iteration, ", p.updates_per_batch(), " epochs x ", p.num_minibatches(),
      " minibatches of ", p.batch_size(), " sequences, ");
  if (IsFlowBaseline(c.algo())) {
    // The baselines' own learning rate, clip and gradient clip replace the ppo section's.
    const v1::FlowBaselineConfig& b = FlowBaselineSection(c);
    absl::StrAppend(&out, "discount ", p.discount(), ", reward x", p.reward_scaling(), "\n  ",
                    EnumUserName(c.algo()), ": lr ", b.learning_rate(), ", clip ", b.clip_epsilon(),
                    ", entropy 0 (none), grad clip ",
                    b.max_grad_norm() > 0 ? absl::StrCat(b.max_grad_norm()) : "off",
                    "; flow policy ", absl::StrJoin(b.hidden(), "x"), ", ", b.steps(),
                    " Euler steps, velocity x", b.velocity_scale());
    if (c.algo() == v1::ALGO_FPO) {
      absl::StrAppend(&out, ", ", b.draws(), " draws per step, log-ratio clip +-",
                      b.log_ratio_clip(), "\n");
    } else {
      absl::StrAppend(&out, ", step noise sigma ", b.sigma(), "\n");
    }
  } else {
    absl::StrAppend(&out, "lr ", p.learning_rate(), ", clip ", p.clip_epsilon(), ", entropy ",
                    p.entropy_cost(), ", discount ", p.discount(), ", reward x", p.reward_scaling(),
                    "\n");
  }
  if (HasDecoder(c.algo())) {
    absl::StrAppend(
        &out, "  decoder: ", absl::StrJoin(c.decoder().hidden(), "x"), ", ", c.decoder().steps(),
        " steps",
        c.algo() == v1::ALGO_GORL_DIFF
            ? absl::StrCat(", ", EnumUserName(c.decoder().diffusion_prediction()), "-prediction")
            : std::string(),
        "; refine: ", c.refine().num_pairs(), " pairs, ", c.refine().epochs(), " epochs, batch ",
        c.refine().batch_size(), ", inputs ", EnumUserName(c.refine().inputs()), ", targets ",
        c.refine().target_clip() > 0 ? absl::StrCat("clamped to +-", c.refine().target_clip())
                                     : std::string("unclamped"),
        "; hand-over evaluated over ", FidelityEpisodes(c), " episodes\n");
  }
  absl::StrAppend(&out, "  eval: ", c.eval().episodes(), " episodes every ",
                  c.eval().every_env_steps(), " env steps");
  return out;
}

}  // namespace gorl
