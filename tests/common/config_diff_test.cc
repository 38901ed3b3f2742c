#include "common/config_diff.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/config.h"
#include "tests/status_matchers.h"

namespace gorl {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;

v1::TrainConfig Local() {
  absl::StatusOr<v1::TrainConfig> config = LoadPreset("local");
  EXPECT_TRUE(config.ok()) << config.status();
  return config.value_or(v1::TrainConfig());
}

TEST(ConfigDiffTest, EqualConfigsHaveNoChanges) {
  EXPECT_THAT(ConfigChanges(Local(), Local()), IsEmpty());
  EXPECT_EQ(FormatConfigChanges({}), "none");
}

TEST(ConfigDiffTest, NamesEachChangedLeafInPathOrderWithItsValues) {
  v1::TrainConfig after = Local();
  after.set_seed(Local().seed() + 3);
  after.mutable_refine()->set_epochs(7);
  after.mutable_decoder()->clear_hidden();
  after.mutable_decoder()->add_hidden(8);
  after.mutable_decoder()->add_hidden(9);
  const std::vector<ConfigChange> changes = ConfigChanges(Local(), after);
  EXPECT_THAT(changes, ElementsAre(Field(&ConfigChange::path, "decoder.hidden"),
                                   Field(&ConfigChange::path, "refine.epochs"),
                                   Field(&ConfigChange::path, "seed")));
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].after, "8,9");
  EXPECT_EQ(changes[1].after, "7");
  EXPECT_EQ(FormatConfigChanges({changes[1]}), "refine.epochs: " + changes[1].before + " -> 7");
}

// A stage override that is absent (PPO's own value applies) differs from
// one set to any value, 0 included.
TEST(ConfigDiffTest, AnUnsetOptionalDiffersFromOneSetToZero) {
  v1::TrainConfig before = Local();
  before.mutable_first_stage()->clear_prior_penalty();
  v1::TrainConfig after = before;
  after.mutable_first_stage()->set_prior_penalty(0.0F);
  const std::vector<ConfigChange> changes = ConfigChanges(before, after);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].path, "first_stage.prior_penalty");
  EXPECT_EQ(changes[0].before, "(unset)");
  EXPECT_EQ(changes[0].after, "0");
}

// Only values a run reads count: an absent section equals one at its defaults.
TEST(ConfigDiffTest, AnAbsentSectionEqualsOneAtItsDefaults) {
  v1::TrainConfig before;
  v1::TrainConfig after;
  after.mutable_fpo();
  EXPECT_THAT(ConfigChanges(before, after), IsEmpty());
}

TEST(ConfigDiffTest, OverriddenPathsAndPathWithin) {
  EXPECT_THAT(OverriddenPaths({"ppo.entropy_cost=0.1", "seed=3", "not-an-override"}),
              ElementsAre("ppo.entropy_cost", "seed"));
  EXPECT_TRUE(PathWithin("ppo.entropy_cost", "ppo"));
  EXPECT_TRUE(PathWithin("ppo.entropy_cost", "ppo.entropy_cost"));
  EXPECT_FALSE(PathWithin("ppo.entropy_cost", "ppo.entropy"));
  EXPECT_FALSE(PathWithin("seed", "seeds"));
}

}  // namespace
}  // namespace gorl
