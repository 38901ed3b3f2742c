// Append-only JSON Lines log: one object per line, flushed per row, so a
// crashed or killed run keeps everything it logged.
#ifndef GORL_COMMON_METRICS_LOG_H_
#define GORL_COMMON_METRICS_LOG_H_

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace gorl {

// One JSON object, built field by field in insertion order.
class JsonRow {
 public:
  JsonRow& Add(const std::string& key, double value);
  JsonRow& Add(const std::string& key, int64_t value);
  JsonRow& Add(const std::string& key, int value) { return Add(key, static_cast<int64_t>(value)); }
  JsonRow& Add(const std::string& key, const std::string& value);
  JsonRow& Add(const std::string& key, const char* value) { return Add(key, std::string(value)); }
  JsonRow& Add(const std::string& key, const std::vector<float>& values);
  std::string ToString() const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;  // key, JSON value
};

class MetricsLog {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsLog>> Open(const std::string& path);
  ~MetricsLog();
  // Owns its file: a copy would close it twice.
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void Write(const JsonRow& row);

 private:
  explicit MetricsLog(std::FILE* file) : file_(file) {}
  std::FILE* file_;
};

// Escapes a string for a JSON string literal (without the quotes).
std::string JsonEscape(const std::string& text);

}  // namespace gorl

#endif  // GORL_COMMON_METRICS_LOG_H_
