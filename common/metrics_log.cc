#include "common/metrics_log.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace gorl {
namespace {

// JSON has no NaN or infinity: write null so every line stays parseable.
std::string Number(double value) {
  if (!std::isfinite(value)) return "null";
  return absl::StrFormat("%.9g", value);
}

}  // namespace

std::string JsonEscape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += c;
        }
    }
  }
  return out;
}

JsonRow& JsonRow::Add(const std::string& key, double value) {
  fields_.emplace_back(key, Number(value));
  return *this;
}

JsonRow& JsonRow::Add(const std::string& key, int64_t value) {
  fields_.emplace_back(key, absl::StrCat(value));
  return *this;
}

JsonRow& JsonRow::Add(const std::string& key, const std::string& value) {
  fields_.emplace_back(key, absl::StrCat("\"", JsonEscape(value), "\""));
  return *this;
}

JsonRow& JsonRow::Add(const std::string& key, const std::vector<float>& values) {
  std::vector<std::string> items;
  for (float v : values) items.push_back(Number(v));
  fields_.emplace_back(key, absl::StrCat("[", absl::StrJoin(items, ", "), "]"));
  return *this;
}

std::string JsonRow::ToString() const {
  std::vector<std::string> parts;
  for (const auto& [key, value] : fields_) {
    parts.push_back(absl::StrCat("\"", JsonEscape(key), "\": ", value));
  }
  return absl::StrCat("{", absl::StrJoin(parts, ", "), "}");
}

absl::StatusOr<std::unique_ptr<MetricsLog>> MetricsLog::Open(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot open metrics log ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<MetricsLog>(new MetricsLog(file));
}

MetricsLog::~MetricsLog() { std::fclose(file_); }

void MetricsLog::Write(const JsonRow& row) {
  const std::string line = row.ToString();
  std::fprintf(file_, "%s\n", line.c_str());
  std::fflush(file_);
}

}  // namespace gorl
