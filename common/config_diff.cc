#include "common/config_diff.h"

#include <map>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/text_format.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gorl {
namespace {

using google::protobuf::FieldDescriptor;

// Every leaf field of `message` as "path.to.field" -> its value in text
// format; unset fields at their defaults, except optionals, whose presence
// is a setting of its own (a stage override that is absent is not 0).
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
    } else if (field->has_presence() && !reflection->HasField(message, field)) {
      out[path] = "(unset)";
    } else {
      google::protobuf::TextFormat::PrintFieldValueToString(message, field, -1, &value);
      out[path] = value;
    }
  }
}

}  // namespace

std::vector<ConfigChange> ConfigChanges(const v1::TrainConfig& before,
                                        const v1::TrainConfig& after) {
  std::map<std::string, std::string> old_values;
  std::map<std::string, std::string> new_values;
  Flatten(before, "", old_values);
  Flatten(after, "", new_values);
  // Both maps hold every leaf path of TrainConfig.
  std::vector<ConfigChange> changes;
  for (const auto& [path, value] : old_values) {
    const std::string& now = new_values[path];
    if (now != value) changes.push_back({path, value, now});
  }
  return changes;
}

std::string FormatConfigChanges(const std::vector<ConfigChange>& changes) {
  if (changes.empty()) return "none";
  return absl::StrJoin(changes, "; ", [](std::string* out, const ConfigChange& change) {
    absl::StrAppend(out, change.path, ": ", change.before, " -> ", change.after);
  });
}

std::vector<std::string> OverriddenPaths(const std::vector<std::string>& overrides) {
  std::vector<std::string> paths;
  for (const std::string& word : overrides) {
    const size_t equals = word.find('=');
    if (equals != std::string::npos) paths.push_back(word.substr(0, equals));
  }
  return paths;
}

bool PathWithin(const std::string& path, const std::string& field) {
  return path == field || absl::StartsWith(path, absl::StrCat(field, "."));
}

}  // namespace gorl
