// What differs between two training configurations, field by field. The one
// rule by which gorl decides that two configurations are the same run
// (`--resume`, a restarted learner, a rerun sweep) and the one way it names
// what changed (a fork's `changes`, every refusal): "refine.epochs: 60 -> 10".
#ifndef GORL_COMMON_CONFIG_DIFF_H_
#define GORL_COMMON_CONFIG_DIFF_H_

#include <string>
#include <vector>

#include "gorl/v1/config.pb.h"

namespace gorl {

struct ConfigChange {
  std::string path;    // "refine.epochs", the FIELD of a FIELD=VALUE override
  std::string before;  // its value in text format; a repeated field as "a,b,c"
  std::string after;   // ("(none)" when empty), an unset optional as "(unset)"
};

// Every leaf field whose value differs, in field-path order. Message fields
// are compared by their leaves (an unset message equals one left at its
// defaults), so only values a run reads count.
std::vector<ConfigChange> ConfigChanges(const v1::TrainConfig& before,
                                        const v1::TrainConfig& after);

// "refine.epochs: 60 -> 10; seed: 0 -> 3", or "none".
std::string FormatConfigChanges(const std::vector<ConfigChange>& changes);

// The FIELD of each `path.to.field=value` word (words without '=' are skipped).
std::vector<std::string> OverriddenPaths(const std::vector<std::string>& overrides);

// Whether `path` is `field` or lies inside it ("ppo.clip_epsilon" is inside "ppo").
bool PathWithin(const std::string& path, const std::string& field);

}  // namespace gorl

#endif  // GORL_COMMON_CONFIG_DIFF_H_
