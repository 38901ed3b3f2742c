// Reads fields of the flat one-line JSON objects that gorl prints (JsonRow:
// numbers, null and strings, no nesting), e.g. the roles' "listening" and
// "progress" lines. Not a general JSON parser.
#ifndef GORL_COMMON_JSON_LINE_H_
#define GORL_COMMON_JSON_LINE_H_

#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

namespace gorl {

// The value of `key`: a string's contents (a backslash keeps the next
// character as it is) or a number's / null's text; nullopt if absent.
inline std::optional<std::string> JsonField(const std::string& line, const std::string& key) {
  const std::string pattern = "\"" + key + "\": ";
  const size_t at = line.find(pattern);
  if (at == std::string::npos) return std::nullopt;
  size_t i = at + pattern.size();
  std::string value;
  if (i < line.size() && line[i] == '"') {
    for (++i; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      value += line[i];
    }
    return value;
  }
  for (; i < line.size() && line[i] != ',' && line[i] != '}'; ++i) value += line[i];
  return value;
}

// A numeric field; NaN for null, absent or not a number.
inline double JsonNumber(const std::string& line, const std::string& key) {
  const std::optional<std::string> text = JsonField(line, key);
  if (!text.has_value() || text->empty() || *text == "null") return std::nan("");
  char* end = nullptr;
  const double value = std::strtod(text->c_str(), &end);
  return end == text->c_str() ? std::nan("") : value;
}

}  // namespace gorl

#endif  // GORL_COMMON_JSON_LINE_H_
