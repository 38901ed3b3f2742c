// The benchmark tasks' sizes and timing as docs/tasks.md §2 and §4 give them:
// one table for every test that checks a registration against the docs.
#ifndef GORL_TESTS_ENVS_EXPECTED_SPECS_H_
#define GORL_TESTS_ENVS_EXPECTED_SPECS_H_

#include <ostream>
#include <string>
#include <vector>

namespace gorl::envs::testing {

struct ExpectedSpec {
  std::string name;
  int obs_size;
  int action_size;
  double control_timestep;
  int substeps;
};

// Test parameters print as the task's name.
inline void PrintTo(const ExpectedSpec& spec, std::ostream* os) { *os << spec.name; }

inline const std::vector<ExpectedSpec>& ExpectedSpecs() {
  static const auto* const specs = new std::vector<ExpectedSpec>{
      {"cheetah-run", 17, 6, 0.01, 1},      {"hopper-stand", 15, 4, 0.02, 4},
      {"hopper-hop", 15, 4, 0.02, 4},       {"walker-stand", 24, 6, 0.025, 10},
      {"walker-walk", 24, 6, 0.025, 10},    {"walker-run", 24, 6, 0.025, 10},
      {"finger-spin", 9, 2, 0.02, 2},       {"finger-turn-easy", 12, 2, 0.02, 2},
      {"finger-turn-hard", 12, 2, 0.02, 2}, {"fish-upright", 21, 5, 0.04, 10},
      {"fish-swim", 24, 5, 0.04, 10},       {"humanoid-stand", 67, 21, 0.025, 5},
      {"humanoid-walk", 67, 21, 0.025, 5},  {"humanoid-run", 67, 21, 0.025, 5},
      {"cartpole-swingup", 5, 1, 0.01, 1},  {"cartpole-balance", 5, 1, 0.01, 1},
      {"hopper-v2", 11, 3, 0.008, 4},       {"walker2d-v2", 17, 6, 0.008, 4},
      {"halfcheetah-v2", 17, 6, 0.05, 5},
  };
  return *specs;
}

// The entries whose names start with one of `prefixes`, in table order.
inline std::vector<ExpectedSpec> ExpectedSpecsOf(const std::vector<std::string>& prefixes) {
  std::vector<ExpectedSpec> selected;
  for (const ExpectedSpec& spec : ExpectedSpecs()) {
    for (const std::string& prefix : prefixes) {
      if (spec.name.rfind(prefix, 0) == 0) {
        selected.push_back(spec);
        break;
      }
    }
  }
  return selected;
}

}  // namespace gorl::envs::testing

#endif  // GORL_TESTS_ENVS_EXPECTED_SPECS_H_
