// The built-in presets, compiled from configs/*.textproto (see
// common/CMakeLists.txt), so the binary does not depend on its working directory.
#ifndef GORL_COMMON_PRESETS_H_
#define GORL_COMMON_PRESETS_H_

#include <vector>

namespace gorl {

struct BuiltinPreset {
  const char* name;
  const char* text;
};

const std::vector<BuiltinPreset>& BuiltinPresets();

}  // namespace gorl

#endif  // GORL_COMMON_PRESETS_H_
